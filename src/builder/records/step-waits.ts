/**
 * The state of a WaitForAction step, kept on its step record so that any API node can answer it: the step
 * marks itself waiting, SendWorkflowStepAction writes the action (RESUME or STOP) onto the record, and the
 * worker running the build polls the record for it, as it polls the image for a cancel.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { KilnError } from '../../domain/errors.js';
import type { ResourceRecord, Store } from '../../store/store.js';
import { STEP_TYPE, stepArn, stepData } from './execution-shapes.js';

export type StepActionType = 'RESUME' | 'STOP';

/** What SendWorkflowStepAction left on a waiting step. */
export interface StepAction {
  action: StepActionType;
  reason?: string;
}

/** The waiting fields of a step record's data. */
interface WaitFields {
  waiting?: boolean;
  stepAction?: StepAction;
}

const fieldsOf = (record: ResourceRecord): WaitFields => record.data as WaitFields;

/** True while the step is RUNNING and waits for an action nobody has sent yet. */
export function isWaiting(record: ResourceRecord): boolean {
  const fields = fieldsOf(record);
  return record.type === STEP_TYPE && stepData(record).status === 'RUNNING' && fields.waiting === true && fields.stepAction === undefined;
}

/** Marks a running step as waiting for SendWorkflowStepAction. */
export async function markWaiting(store: Store, stepExecutionId: string): Promise<ResourceRecord> {
  return store.updateResource(stepArn(stepExecutionId), (current) => ({ ...current.data, waiting: true }));
}

/**
 * Polls the step's record until an action arrives; then the step no longer waits. Throws the signal's reason
 * when it fires first (a cancel, the step's timeout).
 */
export async function waitForStepAction(store: Store, stepExecutionId: string, signal: AbortSignal, pollMs: number): Promise<StepAction> {
  for (;;) {
    signal.throwIfAborted();
    const record = await store.getResource(stepArn(stepExecutionId));
    const action = record && fieldsOf(record).stepAction;
    if (action) {
      await store.updateResource(stepArn(stepExecutionId), (current) => ({ ...current.data, waiting: false }));
      return action;
    }
    await sleep(pollMs, undefined, { signal }).catch(() => undefined);
  }
}

/**
 * Records an action on a waiting step of `imageBuildVersionArn`; InvalidRequest when the step belongs to
 * another image or does not wait (any more), in the store's transaction so two actions cannot both land.
 */
export async function sendStepAction(store: Store, record: ResourceRecord, imageBuildVersionArn: string, action: StepAction): Promise<void> {
  await store.updateResource(record.arn, (current) => {
    const data = stepData(current);
    if (data.imageBuildVersionArn !== imageBuildVersionArn) {
      throw new KilnError('InvalidRequest', `The workflow step ${data.stepExecutionId} belongs to another image build version than ${imageBuildVersionArn}.`, [{ path: 'imageBuildVersionArn', message: 'is not the image of the step' }]);
    }
    if (!isWaiting(current)) {
      const why = data.action !== 'WaitForAction' ? `is a ${data.action} step, not a WaitForAction step` : data.status !== 'RUNNING' ? `is ${data.status}` : fieldsOf(current).stepAction ? `already received ${fieldsOf(current).stepAction!.action}` : 'has not started waiting yet';
      throw new KilnError('InvalidRequest', `The workflow step ${data.stepExecutionId} is not waiting for an action: it ${why}.`, [{ path: 'stepExecutionId', message: `is not waiting: it ${why}` }]);
    }
    return { ...current.data, stepAction: { action: action.action, ...(action.reason === undefined ? {} : { reason: action.reason }) } };
  });
}

/** The waiting steps of one account and region, oldest first. */
export async function listWaitingSteps(store: Store, accountId: string, region: string): Promise<ResourceRecord[]> {
  const steps = await store.listResources({ accountId, region, type: STEP_TYPE });
  return steps.filter(isWaiting).sort((a, b) => (stepData(a).startTime ?? '').localeCompare(stepData(b).startTime ?? '') || a.arn.localeCompare(b.arn));
}
