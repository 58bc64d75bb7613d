import { ArnLink } from './ArnLink';
import { DateText } from './DateText';
import { humanize, sectionOfArn } from './format';

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object' && !(value instanceof Date)) return Object.values(value).every(isEmpty);
  return false;
}

/**
 * Any settings value from the API, readably: objects as nested definition lists with their keys in words, lists
 * of plain values joined, lists of objects as numbered items, ARNs as links, booleans as yes/no, tags as k=v.
 */
export function ValueView({ value, name }: { value: unknown; name?: string }) {
  if (isEmpty(value)) return <span className="muted">none</span>;
  if (value instanceof Date) return <DateText value={value} />;
  if (typeof value === 'boolean') return <>{value ? 'yes' : 'no'}</>;
  if (typeof value === 'string') {
    if (sectionOfArn(value)) return <ArnLink arn={value} />;
    if (/^date/i.test(name ?? '') || /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value)) return <DateText value={value} />;
    return <>{value}</>;
  }
  if (typeof value !== 'object') return <>{String(value)}</>;
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== 'object' || v === null)) {
      return <>{value.map(String).join(', ')}</>;
    }
    return (
      <ol className="res-values">
        {value.map((v, i) => (
          <li key={i}>
            <ValueView value={v} />
          </li>
        ))}
      </ol>
    );
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => !isEmpty(v));
  if (name !== undefined && /tags$/i.test(name) && entries.every(([, v]) => typeof v === 'string')) {
    return <>{entries.map(([k, v]) => `${k}=${String(v)}`).join(', ')}</>;
  }
  return (
    <dl className="res-fields res-nested">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{humanize(k)}</dt>
          <dd>
            <ValueView value={v} name={k} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** Tags as `key=value` pairs (nothing when there are none). */
export function tagsText(tags: Record<string, string> | undefined): string | undefined {
  const entries = Object.entries(tags ?? {});
  return entries.length === 0 ? undefined : entries.map(([k, v]) => `${k}=${v}`).join(', ');
}
