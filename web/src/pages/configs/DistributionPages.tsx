import {
  DeleteDistributionConfigurationCommand,
  GetDistributionConfigurationCommand,
  ListDistributionConfigurationsCommand,
  type Distribution,
  type DistributionConfigurationSummary,
} from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../../api';
import { href, navigate } from '../../router';
import type { Session } from '../../session';
import { DateText } from '../shared/DateText';
import { DeleteAction } from '../shared/DeleteAction';
import { DetailFrame } from '../shared/DetailFrame';
import { Fields } from '../shared/Fields';
import { PageHead } from '../shared/PageHead';
import { PAGE_SIZE, PagedTable } from '../shared/PagedTable';
import { useLoad } from '../shared/useLoad';
import { tagsText, ValueView } from '../shared/ValueView';

const SECTION = 'distribution-configurations';
const TITLE = 'Distribution configurations';

/** Distribution configurations: name, regions, description, dates. */
export function DistributionList({ session }: { session: Session }) {
  const load = async (nextToken: string | undefined) => {
    const r = await imagebuilder(session).send(new ListDistributionConfigurationsCommand({ maxResults: PAGE_SIZE, nextToken }));
    return { items: r.distributionConfigurationSummaryList ?? ([] as DistributionConfigurationSummary[]), nextToken: r.nextToken };
  };
  return (
    <>
      <PageHead title={TITLE} />
      <PagedTable<DistributionConfigurationSummary>
        caption={`${TITLE} of this account`}
        load={load}
        rowKey={(c) => c.arn ?? ''}
        empty="No distribution configurations yet. The Create image pipeline wizard can make one."
        columns={[
          { header: 'Name', cell: (c) => <a href={href(SECTION, c.arn)}>{c.name}</a> },
          { header: 'Regions', cell: (c) => c.regions?.join(', ') },
          { header: 'Description', cell: (c) => c.description },
          { header: 'Created', cell: (c) => <DateText value={c.dateCreated} /> },
          { header: 'Updated', cell: (c) => <DateText value={c.dateUpdated} /> },
        ]}
      />
    </>
  );
}

/** What one region's distribution does, in a heading's words. */
function distributionKinds(d: Distribution): string {
  const kinds = [
    d.amiDistributionConfiguration && 'machine image',
    d.containerDistributionConfiguration && 'container image',
    d.s3ExportConfiguration && 'disk export',
    d.launchTemplateConfigurations?.length && 'launch templates',
    d.licenseConfigurationArns?.length && 'licenses',
    d.fastLaunchConfigurations?.length && 'fast launch',
  ].filter(Boolean);
  return kinds.length > 0 ? kinds.join(', ') : 'nothing configured';
}

/** One distribution configuration: for each region, its AMI, container, export and sharing settings. */
export function DistributionDetail({ session, arn }: { session: Session; arn: string }) {
  const loaded = useLoad(async () => (await imagebuilder(session).send(new GetDistributionConfigurationCommand({ distributionConfigurationArn: arn }))).distributionConfiguration, arn);
  const c = loaded.data;
  return (
    <DetailFrame section={SECTION} sectionTitle={TITLE} heading={c ? `Distribution configuration ${c.name ?? ''}` : undefined} loading={loaded.loading} error={loaded.error}>
      {c && (
        <>
          <section aria-labelledby="dist-settings-heading">
            <h2 id="dist-settings-heading">Settings</h2>
            <Fields
              rows={[
                ['Description', c.description],
                ['Timeout', c.timeoutMinutes ? `${c.timeoutMinutes} minutes` : undefined],
                ['Tags', tagsText(c.tags)],
                ['Created', <DateText value={c.dateCreated} />],
                ['Updated', c.dateUpdated ? <DateText value={c.dateUpdated} /> : undefined],
                ['ARN', <code>{c.arn}</code>],
              ]}
            />
          </section>
          <section aria-labelledby="dist-regions-heading">
            <h2 id="dist-regions-heading">Regions</h2>
            {(c.distributions ?? []).map((d, i) => {
              const { region, ...rest } = d;
              return (
                <div className="panel" key={`${region ?? ''} ${i}`}>
                  <h3>
                    {region} <span className="muted">· {distributionKinds(d)}</span>
                  </h3>
                  <ValueView value={rest} />
                </div>
              );
            })}
          </section>
          <section aria-labelledby="dist-delete-heading">
            <h2 id="dist-delete-heading">Delete</h2>
            <DeleteAction
              what={`the distribution configuration ${c.name ?? ''}`}
              arn={arn}
              remove={() => imagebuilder(session).send(new DeleteDistributionConfigurationCommand({ distributionConfigurationArn: arn }))}
              onDeleted={() => navigate(SECTION)}
            />
          </section>
        </>
      )}
    </DetailFrame>
  );
}
