import {
  DeleteLifecyclePolicyCommand,
  GetLifecyclePolicyCommand,
  ListLifecyclePoliciesCommand,
  type LifecyclePolicyDetail,
  type LifecyclePolicySummary,
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
import { Status } from '../shared/Status';
import { useLoad } from '../shared/useLoad';
import { tagsText, ValueView } from '../shared/ValueView';

const SECTION = 'lifecycle-policies';
const TITLE = 'Lifecycle policies';

const RESOURCE_TYPES: Record<string, string> = { AMI_IMAGE: 'machine images', CONTAINER_IMAGE: 'container images' };

/** Lifecycle policies: name, status, what they act on, last run, dates. */
export function LifecycleList({ session }: { session: Session }) {
  const load = async (nextToken: string | undefined) => {
    const r = await imagebuilder(session).send(new ListLifecyclePoliciesCommand({ maxResults: PAGE_SIZE, nextToken }));
    return { items: r.lifecyclePolicySummaryList ?? ([] as LifecyclePolicySummary[]), nextToken: r.nextToken };
  };
  return (
    <>
      <PageHead title={TITLE} />
      <PagedTable<LifecyclePolicySummary>
        caption={`${TITLE} of this account`}
        load={load}
        rowKey={(p) => p.arn ?? ''}
        empty="No lifecycle policies."
        columns={[
          { header: 'Name', cell: (p) => <a href={href(SECTION, p.arn)}>{p.name}</a> },
          { header: 'Status', cell: (p) => <Status value={p.status} /> },
          { header: 'Acts on', cell: (p) => RESOURCE_TYPES[p.resourceType ?? ''] ?? p.resourceType },
          { header: 'Last run', cell: (p) => (p.dateLastRun ? <DateText value={p.dateLastRun} /> : <span className="muted">never</span>) },
          { header: 'Created', cell: (p) => <DateText value={p.dateCreated} /> },
          { header: 'Updated', cell: (p) => <DateText value={p.dateUpdated} /> },
        ]}
      />
    </>
  );
}

/** One rule of a policy in words: "DELETE AMIs, snapshots of images older than 6 months, keeping at least 2". */
export function ruleText(rule: LifecyclePolicyDetail): string {
  const action = rule.action?.type ?? '?';
  const included = Object.entries(rule.action?.includeResources ?? {})
    .filter(([, on]) => on === true)
    .map(([k]) => (k === 'amis' ? 'AMIs' : k));
  const f = rule.filter;
  const which =
    f?.type === 'AGE'
      ? `images older than ${f.value ?? '?'} ${(f.unit ?? '').toLowerCase()}`
      : f?.type === 'COUNT'
        ? `images beyond the newest ${f.value ?? '?'}`
        : 'images';
  const keep = f?.retainAtLeast ? `, keeping at least ${f.retainAtLeast}` : '';
  return `${action}${included.length > 0 ? ` (${included.join(', ')})` : ''} ${which}${keep}`;
}

/** One lifecycle policy: its rules in words, exclusions, what it selects, and the rest of its settings. */
export function LifecycleDetail({ session, arn }: { session: Session; arn: string }) {
  const loaded = useLoad(async () => (await imagebuilder(session).send(new GetLifecyclePolicyCommand({ lifecyclePolicyArn: arn }))).lifecyclePolicy, arn);
  const p = loaded.data;
  return (
    <DetailFrame section={SECTION} sectionTitle={TITLE} heading={p ? `Lifecycle policy ${p.name ?? ''}` : undefined} loading={loaded.loading} error={loaded.error}>
      {p && (
        <>
          <section aria-labelledby="lifecycle-settings-heading">
            <h2 id="lifecycle-settings-heading">Settings</h2>
            <Fields
              rows={[
                ['Status', <Status value={p.status} />],
                ['Description', p.description],
                ['Acts on', RESOURCE_TYPES[p.resourceType ?? ''] ?? p.resourceType],
                ['Selects', p.resourceSelection ? <ValueView value={p.resourceSelection} /> : undefined],
                ['Execution role', p.executionRole],
                ['Last run', p.dateLastRun ? <DateText value={p.dateLastRun} /> : <span className="muted">never</span>],
                ['Tags', tagsText(p.tags)],
                ['Created', <DateText value={p.dateCreated} />],
                ['Updated', p.dateUpdated ? <DateText value={p.dateUpdated} /> : undefined],
                ['ARN', <code>{p.arn}</code>],
              ]}
            />
          </section>
          <section aria-labelledby="lifecycle-rules-heading">
            <h2 id="lifecycle-rules-heading">Rules</h2>
            <ol className="res-rules">
              {(p.policyDetails ?? []).map((rule, i) => (
                <li key={i}>
                  <p>{ruleText(rule)}</p>
                  {rule.exclusionRules && (
                    <div>
                      <span className="muted">Except:</span> <ValueView value={rule.exclusionRules} />
                    </div>
                  )}
                </li>
              ))}
            </ol>
          </section>
          <section aria-labelledby="lifecycle-delete-heading">
            <h2 id="lifecycle-delete-heading">Delete</h2>
            <DeleteAction
              what={`the lifecycle policy ${p.name ?? ''}`}
              arn={arn}
              remove={() => imagebuilder(session).send(new DeleteLifecyclePolicyCommand({ lifecyclePolicyArn: arn }))}
              onDeleted={() => navigate(SECTION)}
            />
          </section>
        </>
      )}
    </DetailFrame>
  );
}
