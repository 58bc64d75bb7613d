/**
 * Step logs: each step's output as a file, appended while the step runs, one stamped line per record
 * (logs/step-log-format.ts), and read back in slices of whole lines by `/kiln/logs`.
 *
 *   <logsRoot>/<name>_<version>_<build>/<step-id>.log
 *
 * The slicing works on any random-access bytes (LogBytes), so a log kept elsewhere (bucket-step-logs.ts) is
 * read with the same contract.
 */
import { appendFile, mkdir, open, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { KilnError } from '../../domain/errors.js';
import { redactHostPaths } from '../../domain/host-paths.js';
import { legacyLines, parseRecord, STAMPED_LOG_HEADER, type StoredLine } from '../../logs/step-log-format.js';
import { STEP_EXECUTION_ID_RE, imageBuildArn } from './execution-shapes.js';

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

/** Creates a step's log, empty but for its header, in its image's folder; returns its path. */
export async function createStepLog(logsRoot: string, imageArn: string, stepExecutionId: string): Promise<string> {
  const file = stepLogPath(logsRoot, imageArn, stepExecutionId);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, STAMPED_LOG_HEADER, { mode: 0o600 });
  return file;
}

/** One step's log being written. */
export interface StepLogSink {
  /** Adds whole records (host paths are redacted here); never blocks the caller. */
  append(text: string): void;
  /** Resolves when everything appended is stored where readers find it; nothing is appended after. */
  close(): Promise<void>;
  /** Why part of the log could not be stored, once close has resolved (undefined: all of it was). */
  readonly error: unknown;
}

/**
 * Appends text to a file in order without making the caller wait: text that arrives while a write is under
 * way is batched into the next write, so chatty output costs few system calls.
 */
export class LogWriter implements StepLogSink {
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

  /** The same as flush: a file needs no other ending. */
  close(): Promise<void> {
    return this.flush();
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

/** Random access to a log's bytes: what a slice is read from, a file or the segments of a bucket. */
export interface LogBytes {
  /** The log's length in bytes now; bytes appended later are not part of this read. */
  readonly size: number;
  /** Up to `length` bytes from `position` (fewer at the end). */
  read(position: number, length: number): Promise<Buffer>;
}

/** InvalidArgument naming `offset` or `maxBytes` when either is out of range. */
export function checkLogRead(offset: number, maxBytes: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter 'offset' must be a whole number of bytes, 0 or more: ${offset}`, [{ path: 'offset', message: 'must be an integer >= 0' }]);
  }
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1 || maxBytes > MAX_LOG_READ) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter 'maxBytes' must be from 1 to ${MAX_LOG_READ}: ${maxBytes}`, [{ path: 'maxBytes', message: `must be 1-${MAX_LOG_READ}` }]);
  }
}

/**
 * One slice of a log (see readStepLog for the contract) from its bytes; `bytes` undefined is a log that does
 * not exist. The arguments are checked by the caller (checkLogRead).
 */
export async function sliceStepLog(bytes: LogBytes | undefined, stepExecutionId: string, offset: number, maxBytes: number): Promise<StepLogSlice> {
  const empty = (at: number): StepLogSlice => ({ text: '', lines: [], nextOffset: at });
  const size = bytes?.size ?? 0;
  if (offset > size) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter 'offset' (${offset}) is past the end of the log of ${stepExecutionId} (${size} bytes).`, [{ path: 'offset', message: 'past the end of the log' }]);
  }
  if (!bytes) return empty(0);
  const head = await bytes.read(0, Math.min(STAMPED_LOG_HEADER.length, size));
  const stamped = head.toString('utf8') === STAMPED_LOG_HEADER;
  const start = stamped ? Math.max(offset, STAMPED_LOG_HEADER.length) : offset;
  if (start >= size) return empty(Math.max(offset, start));
  // Room for one whole record past the window, so a line longer than the window still comes back whole.
  const read = await bytes.read(start, Math.min(size - start, Math.max(maxBytes, MAX_RECORD_BYTES)));
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
  checkLogRead(offset, maxBytes);
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return sliceStepLog(undefined, stepExecutionId, offset, maxBytes);
  }
  try {
    const { size } = await handle.stat();
    const bytes: LogBytes = {
      size,
      read: async (position, length) => {
        const buf = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buf, 0, length, position);
        return buf.subarray(0, bytesRead);
      },
    };
    return await sliceStepLog(bytes, stepExecutionId, offset, maxBytes);
  } finally {
    await handle.close();
  }
}
