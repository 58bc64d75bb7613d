import { kilnJson } from '../../api';
import type { Session } from '../../session';
import { ArnLink } from '../shared/ArnLink';
import { ErrorNote } from '../shared/ErrorNote';
import { useLoad } from '../shared/useLoad';

/** The build plan Kiln records before a build runs (GET /kiln/images/build-plan). */
interface Plan {
  parent: { requested: string; resolved: string; manifestDigest: string; source: string };
  components: { requested: string; arn: string; type: string; sha256: string; parameters: Record<string, string> }[];
}

/** The resolved parent image and the exact component versions (with parameters) a build used. */
export function BuildPlan({ session, arn, resetKey }: { session: Session; arn: string; resetKey: string }) {
  const loaded = useLoad(() => kilnJson<{ buildPlan: Plan | null }>(session, { path: '/kiln/images/build-plan', query: { imageBuildVersionArn: arn } }), `${arn} ${resetKey}`);
  const plan = loaded.data?.buildPlan;
  return (
    <section aria-labelledby="image-plan-heading">
      <h2 id="image-plan-heading">Build plan</h2>
      {loaded.error !== undefined && <ErrorNote error={loaded.error} action="Reading the build plan" />}
      {loaded.data && !plan && <p className="muted">Not resolved yet: the build records its parent image and components when it starts.</p>}
      {plan && (
        <>
          <p>
            Parent image: <code>{plan.parent.resolved}</code>
            {plan.parent.requested !== plan.parent.resolved && <span className="muted"> (asked for {plan.parent.requested})</span>}
            {plan.parent.manifestDigest && (
              <>
                {' '}
                at <code className="res-digest">{plan.parent.manifestDigest}</code>
              </>
            )}
            <span className="muted"> · {plan.parent.source === 'managed' ? 'Kiln-managed base' : plan.parent.source === 'image' ? 'an image built here' : 'from a registry'}</span>
          </p>
          {plan.components.length === 0 ? (
            <p className="muted">No components.</p>
          ) : (
            <div className="res-table-wrap res-list">
              <table>
                <caption>Components, in the order they ran</caption>
                <thead>
                  <tr>
                    <th scope="col">Component</th>
                    <th scope="col">Type</th>
                    <th scope="col">Parameters</th>
                  </tr>
                </thead>
                <tbody>
                  {plan.components.map((c, i) => (
                    <tr key={`${c.arn} ${i}`}>
                      <td data-label="Component">
                        <ArnLink arn={c.arn} />
                        {c.requested !== c.arn && <span className="muted"> (asked for {c.requested.replace(/^.*:component\//, '')})</span>}
                      </td>
                      <td data-label="Type">{c.type}</td>
                      <td data-label="Parameters">
                        {Object.entries(c.parameters).map(([k, v]) => `${k}=${v}`).join(', ') || <span className="muted">none</span>}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}
