/**
 * ListWaitingWorkflowSteps and SendWorkflowStepAction: the caller's WaitForAction steps that wait, and the
 * RESUME or STOP that ends a wait. The action is written onto the step's record (builder/records/step-waits.ts);
 * the worker running the build, on whichever node, reads it from there.
 */
import { KilnError } from '../domain/errors.js';
import { paginate, queryFingerprint } from '../domain/pagination.js';
import { listWaitingSteps, sendStepAction, stepData, type StepActionType } from '../builder/records/execution-records.js';
import type { Store } from '../store/store.js';
import type { OperationHandler } from './types.js';
import { readableImage, readableStep } from './workflow-executions.js';
import { str } from '../domain/json.js';

const ACTIONS: readonly StepActionType[] = ['RESUME', 'STOP'];
const MAX_REASON = 200;

/** ListWaitingWorkflowSteps: the caller's waiting steps in this region, oldest first (WorkflowStepExecution). */
function listWaitingWorkflowSteps(store: Store): OperationHandler {
  return async (input, ctx) => {
    const steps = await listWaitingSteps(store, ctx.accountId, ctx.region);
    const out = paginate(steps, { maxResults: input.maxResults as number | undefined, nextToken: str(input.nextToken) }, queryFingerprint([ctx.operation, ctx.accountId, ctx.region]));
    return {
      steps: out.items.map((r) => {
        const d = stepData(r);
        return { stepExecutionId: d.stepExecutionId, imageBuildVersionArn: d.imageBuildVersionArn, workflowExecutionId: d.workflowExecutionId, workflowBuildVersionArn: d.workflowBuildVersionArn, name: d.name, action: d.action, startTime: d.startTime };
      }),
      nextToken: out.nextToken,
    };
  };
}

/**
 * SendWorkflowStepAction: RESUME lets the workflow go on, STOP fails the step (and the image) with `reason`.
 * Only the image's owner may act; a step of another image, or one that does not wait, is InvalidRequest.
 */
function sendWorkflowStepAction(store: Store): OperationHandler {
  return async (input, ctx) => {
    const action = str(input.action) as StepActionType;
    if (!ACTIONS.includes(action)) throw new KilnError('InvalidArgument', `The value supplied for parameter 'action' must be RESUME or STOP, not ${String(input.action)}.`, [{ path: 'action', message: 'must be RESUME or STOP' }]);
    const reason = str(input.reason);
    if (reason !== undefined && (reason.length < 1 || reason.length > MAX_REASON)) throw new KilnError('InvalidArgument', `The value supplied for parameter 'reason' must be 1-${MAX_REASON} characters.`, [{ path: 'reason', message: `must be 1-${MAX_REASON} characters` }]);
    const image = await readableImage(store, ctx, input.imageBuildVersionArn);
    const step = await readableStep(store, ctx, input.stepExecutionId);
    if (image.accountId !== ctx.accountId) throw new KilnError('Forbidden', `Only the owner of ${image.arn} may act on its workflow steps.`);
    await sendStepAction(store, step, image.arn, { action, ...(reason === undefined ? {} : { reason }) });
    return { stepExecutionId: stepData(step).stepExecutionId, imageBuildVersionArn: image.arn, clientToken: str(input.clientToken) };
  };
}

/** The WaitForAction operations by wire name. */
export function workflowStepActionHandlers(store: Store): Record<string, OperationHandler> {
  return { ListWaitingWorkflowSteps: listWaitingWorkflowSteps(store), SendWorkflowStepAction: sendWorkflowStepAction(store) };
}
