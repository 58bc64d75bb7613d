import { ErrorNote } from '../shared/ErrorNote';
import { DateText } from '../shared/DateText';
import { arnLabel } from '../shared/format';
import { Status } from '../shared/Status';
import type { WorkflowRun } from './useWorkflowRuns';

const KIND: Record<string, string> = { BUILD: 'Build', TEST: 'Test', DISTRIBUTION: 'Distribution' };

/** The image's workflows (build, test, distribution) with each step and its status: the test results among them. */
export function ImageWorkflows({ runs, error }: { runs: WorkflowRun[]; error: unknown }) {
  const tests = runs.filter((r) => r.execution.type === 'TEST');
  return (
    <section aria-labelledby="image-workflows-heading">
      <h2 id="image-workflows-heading">Workflows and test results</h2>
      {error !== undefined && <ErrorNote error={error} action="Reading the workflows" />}
      {runs.length === 0 && <p className="muted">No workflow has run yet.</p>}
      {runs.length > 0 && tests.length === 0 && <p className="muted">No test workflow ran for this image.</p>}
      {runs.map(({ execution: e, steps }) => {
        const kind = KIND[e.type ?? ''] ?? e.type ?? 'Workflow';
        return (
          <div className="res-table-wrap res-list" key={e.workflowExecutionId}>
            <table>
              <caption>
                {kind} workflow {arnLabel(e.workflowBuildVersionArn)}: <Status value={e.status} />{' '}
                <span className="muted">
                  ({e.totalStepsSucceeded ?? 0} of {e.totalStepCount ?? steps.length} steps succeeded
                  {e.totalStepsFailed ? `, ${e.totalStepsFailed} failed` : ''}
                  {e.totalStepsSkipped ? `, ${e.totalStepsSkipped} skipped` : ''})
                </span>
                {e.message ? <span className="res-caption-note"> {e.message}</span> : null}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Step</th>
                  <th scope="col">Action</th>
                  <th scope="col">Status</th>
                  <th scope="col">Started</th>
                  <th scope="col">Ended</th>
                  <th scope="col">Message</th>
                </tr>
              </thead>
              <tbody>
                {steps.map((s) => (
                  <tr key={s.stepExecutionId}>
                    <td data-label="Step">{s.name}</td>
                    <td data-label="Action">{s.action}</td>
                    <td data-label="Status">
                      <Status value={s.status} />
                    </td>
                    <td data-label="Started">
                      <DateText value={s.startTime} />
                    </td>
                    <td data-label="Ended">
                      <DateText value={s.endTime} />
                    </td>
                    <td data-label="Message">{s.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        );
      })}
    </section>
  );
}
