import { href } from '../../router';
import { arnLabel, sectionOfArn } from './format';

/** A link to the console page of the resource an ARN names (the ARN as text when there is none). */
export function ArnLink({ arn, label }: { arn: string | undefined; label?: string }) {
  if (!arn) return null;
  const section = sectionOfArn(arn);
  if (!section) return <code>{arn}</code>;
  return (
    <a href={href(section, arn)} title={arn}>
      {label ?? arnLabel(arn)}
    </a>
  );
}
