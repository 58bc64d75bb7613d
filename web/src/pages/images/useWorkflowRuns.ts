import { useEffect, useState } from 'react';
import {
  ListWorkflowExecutionsCommand,
  ListWorkflowStepExecutionsCommand,
  type WorkflowExecutionMetadata,
  type WorkflowStepMetadata,
} from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../../api';
import type { Session } from '../../session';

export interface WorkflowRun {
  execution: WorkflowExecutionMetadata;
  steps: WorkflowStepMetadata[];
}

/** How often the workflows of a build under way are read again. */
const POLL_MS = 2000;

async function readRuns(session: Session, arn: string): Promise<WorkflowRun[]> {
  const client = imagebuilder(session);
  const executions: WorkflowExecutionMetadata[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: arn, nextToken: token }));
    executions.push(...(page.workflowExecutions ?? []));
    token = page.nextToken;
  } while (token);
  return Promise.all(
    executions.map(async (execution) => {
      const steps: WorkflowStepMetadata[] = [];
      let next: string | undefined;
      do {
        const page = await client.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: execution.workflowExecutionId, nextToken: next }));
        steps.push(...(page.steps ?? []));
        next = page.nextToken;
      } while (next);
      return { execution, steps };
    }),
  );
}

/**
 * An image's workflow executions with their steps (ListWorkflowExecutions + ListWorkflowStepExecutions), read
 * again every two seconds while `live` and whenever `changes` moves.
 */
export function useWorkflowRuns(session: Session, arn: string, live: boolean, changes: number): { runs: WorkflowRun[]; error: unknown } {
  const [runs, setRuns] = useState<WorkflowRun[]>([]);
  const [error, setError] = useState<unknown>();
  useEffect(() => setRuns([]), [arn]);
  useEffect(() => {
    let current = true;
    let reading = false;
    const read = async () => {
      if (reading) return;
      reading = true;
      try {
        const next = await readRuns(session, arn);
        if (current) {
          setRuns(next);
          setError(undefined);
        }
      } catch (err) {
        if (current) setError(err);
      } finally {
        reading = false;
      }
    };
    void read();
    const timer = live ? setInterval(() => void read(), POLL_MS) : undefined;
    return () => {
      current = false;
      if (timer) clearInterval(timer);
    };
  }, [session, arn, live, changes]);
  return { runs, error };
}
