/**
 * Runs one workflow step with its execution record: RUNNING before, COMPLETED / FAILED / CANCELLED after, the
 * error's message on the record and in the step's log. A failed step becomes a StepFailed error naming the
 * workflow and the step, the way AWS words an image's failure reason.
 */
import { isKilnError } from '../../domain/errors.js';
import type { StepRun, WorkflowRun } from '../records/execution-records.js';

export class StepFailed extends Error {
  override readonly name = 'StepFailed';
  constructor(
    readonly workflowExecutionId: string,
    readonly step: string,
    readonly detail: string,
    readonly cancelled: boolean,
  ) {
    super(`Workflow Execution ID: ${workflowExecutionId} failed with reason: Step ${step} failed: ${detail}`);
  }
}

export function isStepFailed(err: unknown): err is StepFailed {
  return err instanceof Error && err.name === 'StepFailed';
}

function describe(err: unknown): string {
  if (isKilnError(err)) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Why a signal fired: a timeout (AbortSignal.timeout) is a failure, anything else a cancel; undefined when it did not. */
export function abortKind(signal: AbortSignal): 'timeout' | 'cancelled' | undefined {
  if (!signal.aborted) return undefined;
  return (signal.reason as { name?: string } | undefined)?.name === 'TimeoutError' ? 'timeout' : 'cancelled';
}

/**
 * The reason of a cancel that is not the build's own (a sibling TEST workflow failed): the steps it ends say
 * why rather than "the build was cancelled". Still a cancel to abortKind (an AbortError).
 */
export class CancelledBecause extends DOMException {
  constructor(why: string) {
    super(why, 'AbortError');
  }
}

export interface StepSpec {
  name: string;
  action: string;
  description?: string;
  inputs?: Record<string, unknown>;
  timeoutSeconds?: number;
  /** What the workflow does when the step fails (recorded; Abort by default). */
  onFailure?: 'Abort' | 'Continue';
}

/** A step as its body sees it. */
export interface RunningStep extends StepRun {
  /** The message the step's record carries when it completes (e.g. what the step cache reused). */
  setMessage(message: string): void;
}

/** Runs `fn` as the step; its result becomes the step's outputs. */
export async function runStep<T extends Record<string, unknown>>(wf: WorkflowRun, spec: StepSpec, signal: AbortSignal, fn: (step: RunningStep) => Promise<T>): Promise<T> {
  const started = await wf.startStep({ name: spec.name, action: spec.action, onFailure: spec.onFailure ?? 'Abort', ...(spec.description ? { description: spec.description } : {}), ...(spec.inputs ? { inputs: spec.inputs } : {}), ...(spec.timeoutSeconds ? { timeoutSeconds: spec.timeoutSeconds } : {}) });
  let message: string | undefined;
  const step: RunningStep = {
    stepExecutionId: started.stepExecutionId,
    log: (text, stream) => started.log(text, stream),
    finish: (status, result) => started.finish(status, result),
    setMessage: (text) => {
      message = text;
    },
  };
  try {
    const outputs = await fn(step);
    await step.finish('COMPLETED', { outputs, ...(message === undefined ? {} : { message }) });
    return outputs;
  } catch (err) {
    const kind = abortKind(signal);
    const cancelled = kind === 'cancelled';
    const detail = kind === 'cancelled' ? (signal.reason instanceof CancelledBecause ? `cancelled: ${signal.reason.message}` : 'the build was cancelled') : kind === 'timeout' ? `the step ran out of time (${describe(err)})` : describe(err);
    step.log(`\n${cancelled ? 'CANCELLED' : 'FAILED'}: ${detail}\n`);
    await step.finish(cancelled ? 'CANCELLED' : 'FAILED', { message: detail });
    throw new StepFailed(wf.workflowExecutionId, spec.name, detail, cancelled);
  }
}
