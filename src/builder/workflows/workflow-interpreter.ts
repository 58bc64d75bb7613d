/**
 * Runs a workflow document's steps in order against a table of step actions: `if` decides whether a step runs
 * (SKIPPED otherwise), inputs are resolved against the parameters, earlier steps' outputs and the system
 * variables, each step runs under its timeout (the document's, else the action's default) and is recorded
 * through runStep like the built-in stages' steps. A failed step with `onFailure: Continue` lets the workflow
 * go on; otherwise the completed steps are rolled back in reverse (those with `rollbackEnabled` not false whose
 * action has an undo) and the failure is thrown. The workflow's `outputs` are read at the end.
 */
import { parse } from 'yaml';
import { withTimeout } from '../../domain/abort.js';
import { KilnError, errorMessage } from '../../domain/errors.js';
import { isJsonObject } from '../../domain/json.js';
import type { WorkflowRun } from '../records/execution-records.js';
import { abortKind, isStepFailed, runStep, type RunningStep } from '../stages/step-runner.js';
import { evaluateCondition, isReference, readPath, resolveInputs, type DeclaredParameter, type WorkflowScope } from './workflow-values.js';

type Obj = Record<string, unknown>;

/** One step of a workflow document as written. */
export interface DocumentStep {
  name: string;
  action: string;
  description?: string;
  inputs?: Obj;
  if?: unknown;
  onFailure?: 'Abort' | 'Continue';
  rollbackEnabled?: boolean | string;
  timeoutSeconds?: number;
}

/** A workflow document (validated at CreateWorkflow by domain/workflow-document.ts). */
export interface WorkflowDocument {
  parameters: DeclaredParameter[];
  steps: DocumentStep[];
  outputs: { name: string; value: string }[];
}

/** Parses a stored workflow document; the shape was validated when the workflow was created. */
export function parseWorkflowDocument(text: string): WorkflowDocument {
  const root: unknown = parse(text);
  if (!isJsonObject(root) || !Array.isArray(root.steps)) throw new KilnError('InvalidArgument', 'the workflow document has no steps');
  return {
    parameters: (Array.isArray(root.parameters) ? root.parameters : []) as DeclaredParameter[],
    steps: root.steps as DocumentStep[],
    outputs: (Array.isArray(root.outputs) ? root.outputs : []) as WorkflowDocument['outputs'],
  };
}

/** What an action's body is given. */
export interface ActionRun {
  /** The step's name in the document. */
  stepName: string;
  step: RunningStep;
  /** Fires on cancel, on the build's timeouts and on the step's own timeout. */
  signal: AbortSignal;
}

/** One step action as the engine implements it. */
export interface WorkflowAction {
  /** AWS's default timeout of the action, used when the step gives none. */
  defaultTimeoutSeconds: number;
  run(inputs: Obj, run: ActionRun): Promise<Obj>;
  /** Undoes a completed step when a later one aborts the workflow; a failure is reported, never swallowed. */
  rollback?(outputs: Obj, inputs: Obj): Promise<void>;
}

export interface InterpretOptions {
  wf: WorkflowRun;
  document: WorkflowDocument;
  /** Parameters bound (workflow-values.ts bindParameters), system variables and earlier workflows' outputs. */
  scope: Omit<WorkflowScope, 'stepOutputs'>;
  /** The actions this kind of image and stage can run; a step naming another fails saying so. */
  actions: Readonly<Record<string, WorkflowAction>>;
  signal: AbortSignal;
  /** Where rollback problems go: what a failed undo leaked. */
  log: (text: string) => void;
}

function rollbackEnabled(step: DocumentStep, scope: WorkflowScope, at: string): boolean {
  const value = step.rollbackEnabled;
  if (value === undefined) return true;
  if (typeof value === 'boolean') return value;
  return isReference(value) ? readPath(scope, value, `${at}.rollbackEnabled`) !== false : true;
}

/** Runs the document; answers its outputs. Throws the failure of the step that aborted it (StepFailed). */
export async function interpretWorkflow(options: InterpretOptions): Promise<Obj> {
  const { wf, document, actions, signal } = options;
  const scope: WorkflowScope = { ...options.scope, stepOutputs: {} };
  const completed: { step: DocumentStep; at: string; inputs: Obj; outputs: Obj; action: WorkflowAction }[] = [];
  for (const [i, step] of document.steps.entries()) {
    const at = `steps[${i}]`;
    if (step.if !== undefined && !evaluateCondition(step.if, scope, `${at}.if`)) {
      await wf.skipStep({ name: step.name, action: step.action, ...(step.description ? { description: step.description } : {}), message: 'its if condition is false' });
      continue;
    }
    const action = actions[step.action];
    let inputs: Obj | undefined;
    let problem: unknown;
    try {
      inputs = resolveInputs(step.inputs ?? {}, scope, `${at}.inputs`) as Obj;
    } catch (err) {
      problem = err;
    }
    const timeoutSeconds = step.timeoutSeconds ?? action?.defaultTimeoutSeconds;
    const bound = timeoutSeconds === undefined ? { signal, clear: () => undefined } : withTimeout(signal, timeoutSeconds * 1000);
    const stepSignal = bound.signal;
    const spec = { name: step.name, action: step.action, onFailure: step.onFailure ?? 'Abort', ...(step.description ? { description: step.description } : {}), ...(inputs ? { inputs } : {}), ...(step.timeoutSeconds ? { timeoutSeconds: step.timeoutSeconds } : {}) };
    try {
      const outputs = await runStep(wf, spec, stepSignal, (running) => {
        if (problem !== undefined) throw problem;
        if (!action) throw new KilnError('InvalidArgument', `${at}.action: Kiln cannot run ${step.action} in this workflow`);
        return action.run(inputs!, { stepName: step.name, step: running, signal: stepSignal });
      });
      bound.clear();
      scope.stepOutputs[step.name] = outputs;
      if (action) completed.push({ step, at, inputs: inputs!, outputs, action });
    } catch (err) {
      bound.clear();
      const cancelled = abortKind(signal) !== undefined;
      if (step.onFailure === 'Continue' && !cancelled && isStepFailed(err)) continue;
      await rollBack(completed, scope, options.log);
      throw err;
    }
  }
  const outputs: Obj = {};
  for (const [i, o] of document.outputs.entries()) outputs[o.name] = readPath(scope, o.value, `outputs[${i}].value`);
  return outputs;
}

/** Undoes the completed steps, newest first; each failure is logged with the step it was about and the next undo still runs. */
async function rollBack(completed: { step: DocumentStep; at: string; inputs: Obj; outputs: Obj; action: WorkflowAction }[], scope: WorkflowScope, log: (text: string) => void): Promise<void> {
  for (const done of [...completed].reverse()) {
    if (!done.action.rollback) continue;
    try {
      if (!rollbackEnabled(done.step, scope, done.at)) continue;
      await done.action.rollback(done.outputs, done.inputs);
    } catch (err) {
      log(`rolling back step ${done.step.name} (${done.step.action}) failed; what it made may be left: ${errorMessage(err)}\n`);
    }
  }
}
