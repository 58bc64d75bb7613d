/**
 * Workflow executions: the records of an image build's workflows, read by image or by id, and the recorders
 * the build engine writes them through (ExecutionRecorder starts a workflow, WorkflowRun records its steps and
 * end), and the clean-up of what a crashed or cancelled build left open.
 */
import { randomUUID } from 'node:crypto';
import { KilnError } from '../../domain/errors.js';
import type { ResourceRecord, Store } from '../../store/store.js';
import {
  OPEN,
  STEP_TYPE,
  WORKFLOW_EXECUTION_TYPE,
  byStartOrder,
  endRecord,
  executionArn,
  executionData,
  imageBuildArn,
  plain,
  stepArn,
  stepData,
  type EndStatus,
  type StepExecutionData,
  type WorkflowExecutionData,
  type WorkflowType,
} from './execution-shapes.js';
import { StepRecorder, listStepRecords, type StepOwner, type StepRun } from './step-executions.js';
import { createStepLog } from './step-logs.js';

/** The workflow executions of one image build, in the order they started. */
export async function listExecutionRecords(store: Store, image: { arn: string; accountId: string; region: string }): Promise<ResourceRecord[]> {
  const records = await store.listResources({ accountId: image.accountId, region: image.region, type: WORKFLOW_EXECUTION_TYPE, name: image.arn });
  return records.sort((a, b) => byStartOrder(executionData(a), executionData(b)) || a.arn.localeCompare(b.arn));
}

/** One execution record by id; undefined when there is none (the id is not checked here). */
export async function getExecutionRecord(store: Store, workflowExecutionId: string): Promise<ResourceRecord | undefined> {
  const record = await store.getResource(executionArn(workflowExecutionId));
  return record?.type === WORKFLOW_EXECUTION_TYPE ? record : undefined;
}

/** Runs tasks one after another, so the updates of one run land in the order they were asked for. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** Told when steps and workflow executions end, and how long they ran (metrics); it must be quick and must not throw. */
export interface ExecutionObserver {
  /** A step that ran ended; `action` is its workflow action (LaunchBuildInstance…), never its free-form name. */
  stepEnded?(sample: { workflow: WorkflowType; action: string; status: string; seconds: number }): void;
  workflowEnded?(sample: { workflow: WorkflowType; status: string; seconds: number }): void;
}

/** One workflow execution being recorded. */
export interface WorkflowRun {
  readonly workflowExecutionId: string;
  /** Records a RUNNING step; its log file is created empty. */
  startStep(input: { name: string; action: string; description?: string; inputs?: Record<string, unknown>; onFailure?: 'Abort' | 'Continue'; timeoutSeconds?: number }): Promise<StepRun>;
  /** Records a SKIPPED step that never ran. */
  skipStep(input: { name: string; action: string; description?: string; message?: string }): Promise<void>;
  /**
   * Ends the workflow with counts of succeeded/failed/skipped steps kept by this object. Steps still open are
   * ended first (CANCELLED when the workflow COMPLETED, else with the workflow's status and message), including
   * one whose start was asked for before; steps asked for after it are refused (Conflict).
   */
  finish(status: EndStatus, message?: string): Promise<void>;
}

class RunRecorder implements WorkflowRun, StepOwner {
  private readonly serial = new Serial();
  private readonly open = new Set<StepRun>();
  /** When each open step started (performance.now()) and its action, for the observer. */
  private readonly started = new Map<StepRun, { action: string; at: number }>();
  private readonly startedAt = performance.now();
  private readonly counts = { COMPLETED: 0, FAILED: 0, SKIPPED: 0 };
  private nextSeq = 0;
  private ended: Promise<void> | undefined;

  constructor(
    readonly workflowExecutionId: string,
    private readonly store: Store,
    private readonly logsRoot: string,
    private readonly image: ResourceRecord,
    private readonly workflowBuildVersionArn: string,
    private readonly type: WorkflowType,
    private readonly observer: ExecutionObserver | undefined,
  ) {}

  private newStep(fields: Omit<StepExecutionData, 'stepExecutionId' | 'workflowExecutionId' | 'imageBuildVersionArn' | 'workflowBuildVersionArn' | 'seq'>): { id: string; data: StepExecutionData } {
    const id = `step-${randomUUID()}`;
    return {
      id,
      data: {
        stepExecutionId: id,
        workflowExecutionId: this.workflowExecutionId,
        imageBuildVersionArn: this.image.arn,
        workflowBuildVersionArn: this.workflowBuildVersionArn,
        ...fields,
        seq: this.nextSeq++,
      },
    };
  }

  private async insertStep(id: string, data: StepExecutionData): Promise<void> {
    await this.store.createResource({ accountId: this.image.accountId, region: this.image.region, type: STEP_TYPE, name: this.workflowExecutionId, version: '', arn: stepArn(id), data: plain(data), build: 'none' });
  }

  /** After finish, a step may not start: its record would stay open under a closed workflow. */
  private closed(): Promise<never> | undefined {
    return this.ended && Promise.reject(new KilnError('Conflict', `The workflow execution ${this.workflowExecutionId} has ended; no more steps can be recorded in it.`));
  }

  startStep(input: { name: string; action: string; description?: string; inputs?: Record<string, unknown>; onFailure?: 'Abort' | 'Continue'; timeoutSeconds?: number }): Promise<StepRun> {
    const start = async (): Promise<StepRun> => {
      const { id, data } = this.newStep({ ...input, status: 'RUNNING', startTime: new Date().toISOString() });
      const file = await createStepLog(this.logsRoot, this.image.arn, id);
      await this.insertStep(id, data);
      const step = new StepRecorder(id, this.store, this, file);
      this.open.add(step);
      this.started.set(step, { action: input.action, at: performance.now() });
      return step;
    };
    return this.closed() ?? this.serial.run(start);
  }

  skipStep(input: { name: string; action: string; description?: string; message?: string }): Promise<void> {
    const skip = async (): Promise<void> => {
      const { id, data } = this.newStep({ ...input, status: 'SKIPPED', endTime: new Date().toISOString() });
      await this.insertStep(id, data);
      this.counts.SKIPPED++;
      await this.writeCounts();
    };
    return this.closed() ?? this.serial.run(skip);
  }

  /** Records a step's end (through `end`, which returns the status stored) and the workflow's new counts. */
  stepEnded(step: StepRun, end: () => Promise<string>): Promise<void> {
    return this.serial.run(async () => {
      const status = await end();
      if (!this.open.delete(step)) return;
      const started = this.started.get(step);
      this.started.delete(step);
      if (started) this.observer?.stepEnded?.({ workflow: this.type, action: started.action, status, seconds: (performance.now() - started.at) / 1000 });
      if (status === 'COMPLETED' || status === 'FAILED' || status === 'SKIPPED') this.counts[status]++;
      await this.writeCounts();
    });
  }

  private countFields(): Record<string, number> {
    return { totalStepsSucceeded: this.counts.COMPLETED, totalStepsFailed: this.counts.FAILED, totalStepsSkipped: this.counts.SKIPPED };
  }

  /** Keeps the workflow's counts current while it runs, so GetWorkflowExecution shows progress. */
  private async writeCounts(): Promise<void> {
    await this.store.updateResource(executionArn(this.workflowExecutionId), (current) => (OPEN.has(String(current.data.status)) ? { ...current.data, ...this.countFields() } : current.data));
  }

  finish(status: EndStatus, message?: string): Promise<void> {
    this.ended ??= (async () => {
      const stepStatus: EndStatus = status === 'COMPLETED' ? 'CANCELLED' : status;
      // Taken in turn with the other updates, so a step whose start was already asked for is among them.
      const open = await this.serial.run(() => Promise.resolve([...this.open]));
      await Promise.all(open.map((s) => s.finish(stepStatus, { message: message ?? 'the workflow ended before this step did' })));
      await this.serial.run(() => endRecord(this.store, executionArn(this.workflowExecutionId), status, { ...this.countFields(), ...(message === undefined ? {} : { message }) }));
      this.observer?.workflowEnded?.({ workflow: this.type, status, seconds: (performance.now() - this.startedAt) / 1000 });
    })();
    return this.ended;
  }
}

/** Records the workflow executions of image builds and their steps' logs. */
export class ExecutionRecorder {
  constructor(
    private readonly store: Store,
    private readonly logsRoot: string,
    private readonly observer?: ExecutionObserver,
  ) {}

  /** Records a RUNNING workflow execution of one image build. */
  async startWorkflow(input: { image: ResourceRecord; type: WorkflowType; workflowBuildVersionArn: string; totalStepCount: number; parallelGroup?: string }): Promise<WorkflowRun> {
    const { image } = input;
    imageBuildArn(image.arn, 'image.arn');
    const id = `wf-${randomUUID()}`;
    const earlier = await this.store.listResources({ accountId: image.accountId, region: image.region, type: WORKFLOW_EXECUTION_TYPE, name: image.arn });
    const data: WorkflowExecutionData = {
      workflowExecutionId: id,
      imageBuildVersionArn: image.arn,
      workflowBuildVersionArn: input.workflowBuildVersionArn,
      type: input.type,
      status: 'RUNNING',
      totalStepCount: input.totalStepCount,
      totalStepsSucceeded: 0,
      totalStepsFailed: 0,
      totalStepsSkipped: 0,
      startTime: new Date().toISOString(),
      ...(input.parallelGroup === undefined ? {} : { parallelGroup: input.parallelGroup }),
      seq: earlier.length,
    };
    await this.store.createResource({ accountId: image.accountId, region: image.region, type: WORKFLOW_EXECUTION_TYPE, name: image.arn, version: '', arn: executionArn(id), data: plain(data), build: 'none' });
    return new RunRecorder(id, this.store, this.logsRoot, image, input.workflowBuildVersionArn, input.type, this.observer);
  }
}

/**
 * Marks every RUNNING/PENDING execution and step of an image FAILED/CANCELLED with a message (used after a
 * crash or cancel). The counts of each execution it ends are recomputed from its stored steps.
 */
export async function closeOpenExecutions(store: Store, imageArn: string, status: 'FAILED' | 'CANCELLED', message: string): Promise<void> {
  const arn = imageBuildArn(imageArn);
  for (const execution of await listExecutionRecords(store, { arn: imageArn, accountId: arn.owner, region: arn.region })) {
    const steps = await listStepRecords(store, execution);
    const statuses: string[] = [];
    for (const step of steps) {
      statuses.push(OPEN.has(stepData(step).status) ? await endRecord(store, step.arn, status, { message }) : stepData(step).status);
    }
    if (!OPEN.has(executionData(execution).status)) continue;
    const count = (s: string) => statuses.filter((x) => x === s).length;
    await endRecord(store, execution.arn, status, { message, totalStepsSucceeded: count('COMPLETED'), totalStepsFailed: count('FAILED'), totalStepsSkipped: count('SKIPPED') });
  }
}
