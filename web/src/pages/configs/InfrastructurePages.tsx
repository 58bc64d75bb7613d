import {
  DeleteInfrastructureConfigurationCommand,
  GetInfrastructureConfigurationCommand,
  ListInfrastructureConfigurationsCommand,
  type InfrastructureConfigurationSummary,
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

const SECTION = 'infrastructure-configurations';
const TITLE = 'Infrastructure configurations';

/** Infrastructure configurations: name, instance types, instance profile, dates. */
export function InfrastructureList({ session }: { session: Session }) {
  const load = async (nextToken: string | undefined) => {
    const r = await imagebuilder(session).send(new ListInfrastructureConfigurationsCommand({ maxResults: PAGE_SIZE, nextToken }));
    return { items: r.infrastructureConfigurationSummaryList ?? ([] as InfrastructureConfigurationSummary[]), nextToken: r.nextToken };
  };
  return (
    <>
      <PageHead title={TITLE} />
      <PagedTable<InfrastructureConfigurationSummary>
        caption={`${TITLE} of this account`}
        load={load}
        rowKey={(c) => c.arn ?? ''}
        empty="No infrastructure configurations yet. The Create image pipeline wizard can make one."
        columns={[
          { header: 'Name', cell: (c) => <a href={href(SECTION, c.arn)}>{c.name}</a> },
          { header: 'Instance types', cell: (c) => c.instanceTypes?.join(', ') || <span className="muted">default</span> },
          { header: 'Instance profile', cell: (c) => c.instanceProfileName },
          { header: 'Description', cell: (c) => c.description },
          { header: 'Created', cell: (c) => <DateText value={c.dateCreated} /> },
          { header: 'Updated', cell: (c) => <DateText value={c.dateUpdated} /> },
        ]}
      />
    </>
  );
}

/** One infrastructure configuration: instance types, network, logging, notifications and the rest. */
export function InfrastructureDetail({ session, arn }: { session: Session; arn: string }) {
  const loaded = useLoad(async () => (await imagebuilder(session).send(new GetInfrastructureConfigurationCommand({ infrastructureConfigurationArn: arn }))).infrastructureConfiguration, arn);
  const c = loaded.data;
  return (
    <DetailFrame section={SECTION} sectionTitle={TITLE} heading={c ? `Infrastructure configuration ${c.name ?? ''}` : undefined} loading={loaded.loading} error={loaded.error}>
      {c && (
        <>
          <section aria-labelledby="infra-settings-heading">
            <h2 id="infra-settings-heading">Settings</h2>
            <Fields
              rows={[
                ['Description', c.description],
                ['Instance types', c.instanceTypes?.length ? c.instanceTypes.join(', ') : <span className="muted">default</span>],
                ['Instance profile', c.instanceProfileName],
                ['Subnet', c.subnetId],
                ['Security groups', c.securityGroupIds?.join(', ')],
                ['Key pair', c.keyPair],
                ['Keep instance on failure', c.terminateInstanceOnFailure === false ? 'yes' : 'no'],
                ['Notification topic', c.snsTopicArn],
                ['Logging', c.logging ? <ValueView value={c.logging} /> : undefined],
                ['Instance metadata', c.instanceMetadataOptions ? <ValueView value={c.instanceMetadataOptions} /> : undefined],
                ['Placement', c.placement ? <ValueView value={c.placement} /> : undefined],
                ['Resource tags', tagsText(c.resourceTags)],
                ['Tags', tagsText(c.tags)],
                ['Created', <DateText value={c.dateCreated} />],
                ['Updated', c.dateUpdated ? <DateText value={c.dateUpdated} /> : undefined],
                ['ARN', <code>{c.arn}</code>],
              ]}
            />
          </section>
          <section aria-labelledby="infra-delete-heading">
            <h2 id="infra-delete-heading">Delete</h2>
            <DeleteAction
              what={`the infrastructure configuration ${c.name ?? ''}`}
              arn={arn}
              remove={() => imagebuilder(session).send(new DeleteInfrastructureConfigurationCommand({ infrastructureConfigurationArn: arn }))}
              onDeleted={() => navigate(SECTION)}
            />
          </section>
        </>
      )}
    </DetailFrame>
  );
}
