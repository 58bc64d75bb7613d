import { kilnJson } from '../../api';
import type { Session } from '../../session';
import { ArnLink } from '../shared/ArnLink';
import { DateText } from '../shared/DateText';
import { ErrorNote } from '../shared/ErrorNote';
import { Status } from '../shared/Status';
import { useLoad } from '../shared/useLoad';

/** One evaluated schedule tick, as GET /kiln/pipelines/history returns it. */
interface Tick {
  scheduledTime: string;
  evaluatedAt: string;
  outcome: 'STARTED' | 'SKIPPED' | 'FAILED';
  reason?: string;
  imageBuildVersionArn?: string;
}

interface History {
  ticks: Tick[];
  pendingRuns: { imageBuildVersionArn: string; buildType: string }[];
  lastSuccessfulRun?: string;
}

/** A pipeline's recent schedule ticks (started, skipped and why) and its runs under way, from Kiln's history route. */
export function PipelineHistory({ session, arn, refresh }: { session: Session; arn: string; refresh: number }) {
  const history = useLoad(() => kilnJson<History>(session, { path: '/kiln/pipelines/history', query: { imagePipelineArn: arn } }), `${arn} ${refresh}`);
  const h = history.data;
  return (
    <section aria-labelledby="pipeline-history-heading">
      <h2 id="pipeline-history-heading">Schedule history</h2>
      {history.error !== undefined && <ErrorNote error={history.error} action="Reading the history" />}
      {h && h.pendingRuns.length > 0 && (
        <p>
          Runs under way:{' '}
          {h.pendingRuns.map((r, i) => (
            <span key={r.imageBuildVersionArn}>
              {i > 0 ? ', ' : ''}
              <ArnLink arn={r.imageBuildVersionArn} /> ({r.buildType === 'SCHEDULED' ? 'scheduled' : 'started by hand'})
            </span>
          ))}
        </p>
      )}
      {h?.lastSuccessfulRun && (
        <p>
          Last successful run: <ArnLink arn={h.lastSuccessfulRun} />
        </p>
      )}
      {h && h.ticks.length === 0 && <p className="muted">No schedule ticks yet.</p>}
      {h && h.ticks.length > 0 && (
        <div className="res-table-wrap res-list">
          <table>
            <caption>Recent schedule ticks, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Scheduled for</th>
                <th scope="col">Outcome</th>
                <th scope="col">Why / image</th>
                <th scope="col">Evaluated</th>
              </tr>
            </thead>
            <tbody>
              {[...h.ticks].reverse().map((t) => (
                <tr key={`${t.scheduledTime} ${t.evaluatedAt}`}>
                  <td data-label="Scheduled for">
                    <DateText value={t.scheduledTime} />
                  </td>
                  <td data-label="Outcome">
                    <Status value={t.outcome} />
                  </td>
                  <td data-label="Why / image">
                    {t.reason}
                    {t.reason && t.imageBuildVersionArn ? ' ' : ''}
                    {t.imageBuildVersionArn && <ArnLink arn={t.imageBuildVersionArn} />}
                  </td>
                  <td data-label="Evaluated">
                    <DateText value={t.evaluatedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
