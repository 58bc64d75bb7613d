/**
 * Workflow execution records: what AWS's ListWorkflowExecutions / ListWorkflowStepExecutions report about an
 * image build, kept as ordinary Store resources, plus each step's log as a file.
 *
 *   workflow-execution       name = image build version ARN, arn = `kiln:workflow-execution/<wf-id>`
 *   workflow-step-execution  name = workflow execution id,   arn = `kiln:workflow-step-execution/<step-id>`
 *   <logsRoot>/<name>_<version>_<build>/<step-id>.log        the step's output, appended while it runs, one
 *                                                            stamped line per record (logs/step-log-format.ts)
 *
 * Both live under the image's account and region. The build engine writes them through ExecutionRecorder;
 * the API reads them with the list/get helpers below. A finished status is final: a late finish (or a crash
 * clean-up racing a regular finish) never overwrites it.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, open, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { parseArn } from '../../domain/arn.js';
import { KilnError, errorMessage } from '../../domain/errors.js';
import { redactHostPaths } from '../../domain/host-paths.js';
import { LineAssembler, type LogStream } from '../../logs/line-assembler.js';
import { formatRecord, legacyLines, parseRecord, STAMPED_LOG_HEADER, type StoredLine } from '../../logs/step-log-format.js';
import type { ResourceRecord, Store } from '../../store/store.js';

export const WORKFLOW_EXECUTION_TYPE = 'workflow-execution';
export const STEP_TYPE = 'workflow-step-execution';

/** AWS's id patterns (WorkflowExecutionId, WorkflowStepExecutionId); Kiln makes them lower-case. */
export const WORKFLOW_EXECUTION_ID_RE = /^wf-[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}$/;
export const STEP_EXECUTION_ID_RE = /^step-[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}$/;

export type WorkflowType = 'BUILD' | 'TEST' | 'DISTRIBUTION';
/** The WorkflowExecutionStatus values Kiln produces (no rollbacks yet). */
export type WorkflowStatus = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'SKIPPED';
/** WorkflowStepExecutionStatus. */
export type StepStatus = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'SKIPPED';
export type EndStatus = 'COMPLETED' | 'FAILED' | 'CANCELLED';

/** A workflow execution as stored (the record's `data`). */
export interface WorkflowExecutionData {
  workflowExecutionId: string;
  imageBuildVersionArn: string;
  workflowBuildVersionArn: string;
  type: WorkflowType;
  status: WorkflowStatus;
  message?: string;
  totalStepCount: number;
  totalStepsSucceeded: number;
  totalStepsFailed: number;
  totalStepsSkipped: number;
  startTime: string;
  endTime?: string;
  parallelGroup?: string;
  /** Position among the image's workflows, for a stable order. */
  seq: number;
}

/** A step execution as stored (the record's `data`); inputs and outputs are plain objects here. */
export interface StepExecutionData {
  stepExecutionId: string;
  workflowExecutionId: string;
  imageBuildVersionArn: string;
  workflowBuildVersionArn: string;
  name: string;
  action: string;
  description?: string;
  status: StepStatus;
  message?: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  onFailure?: 'Abort' | 'Continue';
  timeoutSeconds?: number;
  /** Absent for a step that never ran (SKIPPED). */
  startTime?: string;
  endTime?: string;
  /** Position within its workflow. */
  seq: number;
}

const OPEN: ReadonlySet<string> = new Set(['PENDING', 'RUNNING']);

export const executionArn = (workflowExecutionId: string): string => `kiln:${WORKFLOW_EXECUTION_TYPE}/${workflowExecutionId}`;
export const stepArn = (stepExecutionId: string): string => `kiln:${STEP_TYPE}/${stepExecutionId}`;

export const executionData = (record: ResourceRecord): WorkflowExecutionData => record.data as unknown as WorkflowExecutionData;
export const stepData = (record: ResourceRecord): StepExecutionData => record.data as unknown as StepExecutionData;

const plain = (value: object): Record<string, unknown> => JSON.parse(JSON.stringify(value)) as Record<string, unknown>;

function imageBuildArn(imageArn: string, field = 'imageBuildVersionArn') {
  const arn = parseArn(imageArn);
  if (!arn || arn.resourceType !== 'image' || arn.version === undefined || arn.build === undefined || !/^\d+\.\d+\.\d+$/.test(arn.version)) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' must be an image build version ARN (…:image/<name>/<major>.<minor>.<patch>/<build>): ${imageArn}`, [
      { path: field, message: 'must be an image build version ARN' },
    ]);
  }
  return arn;
}

/**
 * The folder (under the logs root) of one image build's logs: `<name>_<version>_<build>`, the same folder the
 * build engine puts its AWSTOE logs in. Slugs and versions hold no `/` or `..`, so it cannot leave the root.
 */
export function imageLogFolder(imageArn: string): string {
  const arn = imageBuildArn(imageArn);
  return `${arn.name}_${arn.version!}_${arn.build!}`;
}

/** Where a step's log lives; the step id is checked, so the path stays inside the image's folder. */
export function stepLogPath(logsRoot: string, imageArn: string, stepExecutionId: string): string {
  if (!STEP_EXECUTION_ID_RE.test(stepExecutionId)) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter 'stepExecutionId' is not a step execution id (step-<uuid>): ${stepExecutionId}`, [
      { path: 'stepExecutionId', message: 'must be step-<uuid>' },
    ]);
  }
  return path.join(logsRoot, imageLogFolder(imageArn), `${stepExecutionId}.log`);
}

function byStartOrder(a: { seq: number; startTime?: string; endTime?: string }, b: { seq: number; startTime?: string; endTime?: string }): number {
  return a.seq - b.seq || (a.startTime ?? a.endTime ?? '').localeCompare(b.startTime ?? b.endTime ?? '');
}

/** The workflow executions of one image build, in the order they started. */
export async function listExecutionRecords(store: Store, image: { arn: string; accountId: string; region: string }): Promise<ResourceRecord[]> {
  const records = await store.listResources({ accountId: image.accountId, region: image.region, type: WORKFLOW_EXECUTION_TYPE, name: image.arn });
  return records.sort((a, b) => byStartOrder(executionData(a), executionData(b)) || a.arn.localeCompare(b.arn));
}

/** The steps of one workflow execution, in the order they started (skipped ones where they were skipped). */
export async function listStepRecords(store: Store, execution: ResourceRecord): Promise<ResourceRecord[]> {
  const records = await store.listResources({ accountId: execution.accountId, region: execution.region, type: STEP_TYPE, name: executionData(execution).workflowExecutionId });
  return records.sort((a, b) => byStartOrder(stepData(a), stepData(b)) || a.arn.localeCompare(b.arn));
}

/** One execution record by id; undefined when there is none (the id is not checked here). */
export async function getExecutionRecord(store: Store, workflowExecutionId: string): Promise<ResourceRecord | undefined> {
  const record = await store.getResource(executionArn(workflowExecutionId));
  return record?.type === WORKFLOW_EXECUTION_TYPE ? record : undefined;
}

/** One step record by id; undefined when there is none (the id is not checked here). */
export async function getStepRecord(store: Store, stepExecutionId: string): Promise<ResourceRecord | undefined> {
  const record = await store.getResource(stepArn(stepExecutionId));
  return record?.type === STEP_TYPE ? record : undefined;
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

/**
 * Appends text to a file in order without making the caller wait: text that arrives while a write is under
 * way is batched into the next write, so chatty output costs few system calls.
 */
class LogWriter {
  private pending: string[] = [];
  private writing: Promise<void> | undefined;
  /** The first write error; later text is still attempted (the disk may recover). */
  error: unknown;

  constructor(private readonly file: string) {}

  append(text: string): void {
    if (text === '') return;
    // Tenants read step logs (GET /kiln/logs); Kiln's own lines may carry host paths. Text comes here as whole
    // records (see LineAssembler), so a path is never split across two appends.
    this.pending.push(redactHostPaths(text));
    this.writing ??= this.pump();
  }

  private async pump(): Promise<void> {
    while (this.pending.length > 0) {
      const chunk = this.pending.join('');
      this.pending = [];
      try {
        await appendFile(this.file, chunk);
      } catch (err) {
        this.error ??= err;
      }
    }
    this.writing = undefined;
  }

  /** Resolves when everything appended so far is in the file. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }
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

/**
 * Ends an open record: sets the status, end time and the given fields, unless it already ended. Returns the
 * status the record has afterwards.
 */
async function endRecord(store: Store, arn: string, status: string, fields: Record<string, unknown>): Promise<string> {
  // Every message of a workflow or step ends here; tenants read them (GetWorkflowStepExecution, the console).
  if (typeof fields.message === 'string') fields = { ...fields, message: redactHostPaths(fields.message) };
  let final = status;
  await store.updateResource(arn, (current) => {
    const now = String(current.data.status);
    if (!OPEN.has(now)) {
      final = now;
      return current.data;
    }
    return { ...current.data, ...fields, status, endTime: new Date().toISOString() };
  });
  return final;
}

class StepRecorder implements StepRun {
  private readonly writer: LogWriter;
  private readonly lines: LineAssembler;
  private ended: Promise<void> | undefined;

  constructor(
    readonly stepExecutionId: string,
    private readonly store: Store,
    private readonly run: RunRecorder,
    logFile: string,
  ) {
    this.writer = new LogWriter(logFile);
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
    await this.writer.flush();
    const lost = this.writer.error === undefined ? '' : ` (the step log is incomplete: ${errorMessage(this.writer.error)})`;
    const message = result.message === undefined && lost === '' ? undefined : `${result.message ?? ''}${lost}`.trim();
    const fields = { ...(result.outputs ? { outputs: plain(result.outputs) } : {}), ...(message === undefined ? {} : { message }) };
    await this.run.stepEnded(this, () => endRecord(this.store, stepArn(this.stepExecutionId), status, fields));
  }
}

class RunRecorder implements WorkflowRun {
  private readonly serial = new Serial();
  private readonly open = new Set<StepRecorder>();
  private readonly counts = { COMPLETED: 0, FAILED: 0, SKIPPED: 0 };
  private nextSeq = 0;
  private ended: Promise<void> | undefined;

  constructor(
    readonly workflowExecutionId: string,
    private readonly store: Store,
    private readonly logsRoot: string,
    private readonly image: ResourceRecord,
    private readonly workflowBuildVersionArn: string,
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
      const file = stepLogPath(this.logsRoot, this.image.arn, id);
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await writeFile(file, STAMPED_LOG_HEADER, { mode: 0o600 });
      await this.insertStep(id, data);
      const step = new StepRecorder(id, this.store, this, file);
      this.open.add(step);
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
  stepEnded(step: StepRecorder, end: () => Promise<string>): Promise<void> {
    return this.serial.run(async () => {
      const status = await end();
      if (!this.open.delete(step)) return;
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
    })();
    return this.ended;
  }
}

/** Records the workflow executions of image builds and their steps' logs. */
export class ExecutionRecorder {
  constructor(
    private readonly store: Store,
    private readonly logsRoot: string,
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
    return new RunRecorder(id, this.store, this.logsRoot, image, input.workflowBuildVersionArn);
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

/** Largest slice readStepLog returns at once, and its default. */
export const MAX_LOG_READ = 1024 * 1024;
export const DEFAULT_LOG_READ = 256 * 1024;

/** Length of the longest prefix of `buf` that does not end inside a UTF-8 sequence. */
function completeUtf8Length(buf: Buffer): number {
  const n = buf.length;
  for (let back = 1; back <= Math.min(4, n); back++) {
    const b = buf[n - back]!;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

/** The longest stored record: a line of MAX_LINE_LENGTH UTF-16 units is at most 3 bytes a unit, plus its stamp. */
const MAX_RECORD_BYTES = 64 * 1024;

/** A slice of a step's log: whole lines, their text, and where the next slice starts. */
export interface StepLogSlice {
  /** The lines' text, each ended by a newline (an old log's last line may lack it). */
  text: string;
  lines: StoredLine[];
  nextOffset: number;
}

/**
 * Reads one step's log from a byte offset: whole lines only, so consecutive reads give every line once and
 * none cut. About `maxBytes` (1..1 MiB) are read; a line that does not fit is returned whole all the same, and
 * a record still being written is left for the next read. A stamped log's header is skipped. A log without it
 * (written before streams were kept) is read the same way, except that its last line may lack a newline. A
 * log that does not exist (a skipped step) reads as empty; an offset past the end is InvalidArgument naming
 * `offset`.
 */
export async function readStepLog(logsRoot: string, imageArn: string, stepExecutionId: string, offset: number, maxBytes = DEFAULT_LOG_READ): Promise<StepLogSlice> {
  const file = stepLogPath(logsRoot, imageArn, stepExecutionId);
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter 'offset' must be a whole number of bytes, 0 or more: ${offset}`, [{ path: 'offset', message: 'must be an integer >= 0' }]);
  }
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1 || maxBytes > MAX_LOG_READ) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter 'maxBytes' must be from 1 to ${MAX_LOG_READ}: ${maxBytes}`, [{ path: 'maxBytes', message: `must be 1-${MAX_LOG_READ}` }]);
  }
  const empty = (at: number): StepLogSlice => ({ text: '', lines: [], nextOffset: at });
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (offset === 0) return empty(0);
    throw new KilnError('InvalidArgument', `The value supplied for parameter 'offset' (${offset}) is past the end of the log of ${stepExecutionId} (0 bytes).`, [{ path: 'offset', message: 'past the end of the log' }]);
  }
  try {
    const { size } = await handle.stat();
    if (offset > size) {
      throw new KilnError('InvalidArgument', `The value supplied for parameter 'offset' (${offset}) is past the end of the log of ${stepExecutionId} (${size} bytes).`, [{ path: 'offset', message: 'past the end of the log' }]);
    }
    const head = Buffer.alloc(Math.min(STAMPED_LOG_HEADER.length, size));
    await handle.read(head, 0, head.length, 0);
    const stamped = head.toString('utf8') === STAMPED_LOG_HEADER;
    const start = stamped ? Math.max(offset, STAMPED_LOG_HEADER.length) : offset;
    if (start >= size) return empty(Math.max(offset, start));
    // Room for one whole record past the window, so a line longer than the window still comes back whole.
    const buf = Buffer.alloc(Math.min(size - start, Math.max(maxBytes, MAX_RECORD_BYTES)));
    const { bytesRead } = await handle.read(buf, 0, buf.length, start);
    const read = buf.subarray(0, bytesRead);
    const lastInWindow = read.subarray(0, Math.min(maxBytes, read.length)).lastIndexOf(0x0a);
    let length = lastInWindow >= 0 ? lastInWindow + 1 : read.indexOf(0x0a) + 1;
    if (!stamped && (length === 0 || start + read.length === size && maxBytes >= read.length)) {
      // An old log is never written to again: its last line counts without a newline; one too long for
      // a read comes back in pieces, as before.
      length = completeUtf8Length(read.subarray(0, Math.min(maxBytes, read.length)));
    }
    if (length === 0) return empty(start);
    const text = read.subarray(0, length).toString('utf8');
    if (!stamped) return { text, lines: legacyLines(text), nextOffset: start + length };
    const lines = text.slice(0, -1).split('\n').map(parseRecord);
    return { text: lines.map((l) => `${l.text}\n`).join(''), lines, nextOffset: start + length };
  } finally {
    await handle.close();
  }
}
