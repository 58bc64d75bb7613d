/**
 * Step executions: the records of a workflow's steps, read by id or by workflow, and the recorder of one
 * running step, which writes its log and then its end.
 */
import { errorMessage } from '../../domain/errors.js';
import { LineAssembler, type LogStream } from '../../logs/line-assembler.js';
import { formatRecord } from '../../logs/step-log-format.js';
import type { ResourceRecord, Store } from '../../store/store.js';
import { STEP_TYPE, byStartOrder, endRecord, executionData, plain, stepArn, stepData, type EndStatus } from './execution-shapes.js';
import type { StepLogSink } from './step-logs.js';

/** The steps of one workflow execution, in the order they started (skipped ones where they were skipped). */
export async function listStepRecords(store: Store, execution: ResourceRecord): Promise<ResourceRecord[]> {
  const records = await store.listResources({ accountId: execution.accountId, region: execution.region, type: STEP_TYPE, name: executionData(execution).workflowExecutionId });
  return records.sort((a, b) => byStartOrder(stepData(a), stepData(b)) || a.arn.localeCompare(b.arn));
}

/** One step record by id; undefined when there is none (the id is not checked here). */
export async function getStepRecord(store: Store, stepExecutionId: string): Promise<ResourceRecord | undefined> {
  const record = await store.getResource(stepArn(stepExecutionId));
  return record?.type === STEP_TYPE ? record : undefined;
}

/** One step being recorded. */
export interface StepRun {
  readonly stepExecutionId: string;
  /**
   * Adds output to the step's log: `stream` says where it came from (default info, Kiln's own messages). It
   * is stored a whole line at a time, stamped; a partial line waits for its newline or the step's end. Never
   * blocks the caller; flushed by finish.
   */
  log(text: string, stream?: LogStream): void;
  /** Flushes the log, then records the end; a second finish changes nothing. */
  finish(status: EndStatus, result?: { outputs?: Record<string, unknown>; message?: string }): Promise<void>;
}

/** What a step reports its end to: the workflow run that keeps the counts. */
export interface StepOwner {
  /** Records the step's end through `end`, which returns the status stored. */
  stepEnded(step: StepRun, end: () => Promise<string>): Promise<void>;
}

/** Records one running step. */
export class StepRecorder implements StepRun {
  private readonly writer: StepLogSink;
  private readonly lines: LineAssembler;
  private ended: Promise<void> | undefined;

  constructor(
    readonly stepExecutionId: string,
    private readonly store: Store,
    private readonly owner: StepOwner,
    log: StepLogSink,
  ) {
    this.writer = log;
    this.lines = new LineAssembler((line) => this.writer.append(formatRecord(line)));
  }

  log(text: string, stream: LogStream = 'info'): void {
    // After the end, nothing more: a line added then would have no place in a finished log.
    if (this.ended === undefined) this.lines.write(stream, text);
  }

  finish(status: EndStatus, result: { outputs?: Record<string, unknown>; message?: string } = {}): Promise<void> {
    this.ended ??= this.end(status, result);
    return this.ended;
  }

  private async end(status: EndStatus, result: { outputs?: Record<string, unknown>; message?: string }): Promise<void> {
    // The log is complete before the step reads as ended, so a reader that sees the end has every line.
    this.lines.end();
    await this.writer.close();
    const lost = this.writer.error === undefined ? '' : ` (the step log is incomplete: ${errorMessage(this.writer.error)})`;
    const message = result.message === undefined && lost === '' ? undefined : `${result.message ?? ''}${lost}`.trim();
    const fields = { ...(result.outputs ? { outputs: plain(result.outputs) } : {}), ...(message === undefined ? {} : { message }) };
    await this.owner.stepEnded(this, () => endRecord(this.store, stepArn(this.stepExecutionId), status, fields));
  }
}
