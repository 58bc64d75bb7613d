import { DeleteComponentCommand, GetComponentCommand, ListComponentBuildVersionsCommand, type ComponentSummary } from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../../api';
import { href, navigate } from '../../router';
import type { Session } from '../../session';
import { DateText } from '../shared/DateText';
import { DeleteAction } from '../shared/DeleteAction';
import { DetailFrame } from '../shared/DetailFrame';
import { Fields } from '../shared/Fields';
import { PAGE_SIZE, PagedTable } from '../shared/PagedTable';
import { Status } from '../shared/Status';
import { useLoad } from '../shared/useLoad';
import { tagsText } from '../shared/ValueView';

/** The version ARN (no build number) of a component build version ARN. */
const versionArn = (arn: string) => arn.replace(/^(.*:component\/[^/]+\/[^/]+)\/\d+$/, '$1');

/** One component: its settings, parameters, the document, its builds, "New version" and delete. */
export function ComponentDetail({ session, arn }: { session: Session; arn: string }) {
  const loaded = useLoad(async () => (await imagebuilder(session).send(new GetComponentCommand({ componentBuildVersionArn: arn }))).component, arn);
  const c = loaded.data;
  const own = c?.arn ? versionArn(c.arn) : undefined;
  const loadBuilds = async (nextToken: string | undefined) => {
    const r = await imagebuilder(session).send(new ListComponentBuildVersionsCommand({ componentVersionArn: own, maxResults: PAGE_SIZE, nextToken }));
    return { items: r.componentSummaryList ?? ([] as ComponentSummary[]), nextToken: r.nextToken };
  };
  return (
    <DetailFrame section="components" sectionTitle="Components" heading={c ? `Component ${c.name ?? ''} ${c.version ?? ''}` : undefined} loading={loaded.loading} error={loaded.error}>
      {c && (
        <>
          <div className="actions">
            <a className="res-button" href={href('new-component', c.arn)}>
              New version
            </a>
          </div>
          <section aria-labelledby="component-settings-heading">
            <h2 id="component-settings-heading">Settings</h2>
            <Fields
              rows={[
                ['Status', c.state?.status ? (<><Status value={c.state.status} />{c.state.reason ? ` ${c.state.reason}` : ''}</>) : undefined],
                ['Description', c.description],
                ['Change description', c.changeDescription],
                ['Type', c.type],
                ['Platform', c.platform],
                ['Supported OS versions', c.supportedOsVersions?.join(', ')],
                ['Owner', c.owner],
                ['Encrypted', c.encrypted ? `yes${c.kmsKeyId ? ` (${c.kmsKeyId})` : ''}` : undefined],
                ['Created', <DateText value={c.dateCreated} />],
                ['Tags', tagsText(c.tags)],
                ['ARN', <code>{c.arn}</code>],
              ]}
            />
          </section>
          {c.parameters && c.parameters.length > 0 && (
            <section aria-labelledby="component-parameters-heading">
              <h2 id="component-parameters-heading">Parameters</h2>
              <div className="res-table-wrap res-list">
                <table>
                  <caption>Parameters recipes may set</caption>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Type</th>
                      <th scope="col">Default</th>
                      <th scope="col">Description</th>
                    </tr>
                  </thead>
                  <tbody>
                    {c.parameters.map((p) => (
                      <tr key={p.name}>
                        <td data-label="Name">{p.name}</td>
                        <td data-label="Type">{p.type}</td>
                        <td data-label="Default">{p.defaultValue?.join(', ')}</td>
                        <td data-label="Description">{p.description}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </section>
          )}
          <section aria-labelledby="component-document-heading">
            <h2 id="component-document-heading">Document</h2>
            {c.data ? (
              <pre tabIndex={0} aria-label="Component document">
                {c.data}
              </pre>
            ) : (
              <p className="muted">The document is not shown for this component.</p>
            )}
          </section>
          <section aria-labelledby="component-builds-heading">
            <h2 id="component-builds-heading">Builds of this version</h2>
            <PagedTable<ComponentSummary>
              caption={`Builds of ${c.name ?? ''} ${c.version ?? ''}`}
              load={loadBuilds}
              resetKey={own ?? ''}
              rowKey={(b) => b.arn ?? ''}
              empty="No builds."
              columns={[
                { header: 'Build', cell: (b) => (b.arn === c.arn ? <span>{b.arn?.split('/').pop()} (this one)</span> : <a href={href('components', b.arn)}>{b.arn?.split('/').pop()}</a>) },
                { header: 'Status', cell: (b) => <Status value={b.state?.status} /> },
                { header: 'Created', cell: (b) => <DateText value={b.dateCreated} /> },
              ]}
            />
          </section>
          <section aria-labelledby="component-delete-heading">
            <h2 id="component-delete-heading">Delete</h2>
            <DeleteAction
              what={`the component ${c.name ?? ''} ${c.version ?? ''}`}
              arn={c.arn ?? arn}
              remove={() => imagebuilder(session).send(new DeleteComponentCommand({ componentBuildVersionArn: c.arn }))}
              onDeleted={() => navigate('components')}
            />
          </section>
        </>
      )}
    </DetailFrame>
  );
}
