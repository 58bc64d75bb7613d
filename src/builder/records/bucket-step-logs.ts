/**
 * Step logs in an object store shared by every node, so a build running on one worker is followed live
 * (`kiln logs --follow`, the console) through any API node.
 *
 * S3 objects cannot be appended to, so a log is a run of segments, each an object named by the byte offset of
 * the logical file it starts at:
 *
 *   <prefix>logs/<name>_<version>_<build>/<step-id>.log/<offset, 12 digits>
 *
 * The writer holds what was appended since its last shipment in memory and ships it as the next segment about
 * every second and when the step ends (a quiet step makes one object). Naming segments by offset rather than
 * by a sequence number lets a reader place every segment from one listing, without reading earlier ones, and
 * makes a retried put idempotent: it rewrites the same key from the same offset. A reader lists the step's
 * segments and reads the contiguous run from offset 0; a segment still in flight is simply not there yet.
 * The logical file is byte for byte the file FsStepLogStore writes, so slices and offsets are the same.
 */
import type { ObjectBucket } from '../../artifacts/s3/object-bucket.js';
import { redactHostPaths } from '../../domain/host-paths.js';
import { STAMPED_LOG_HEADER } from '../../logs/step-log-format.js';
import type { StepLogStore } from './step-log-store.js';
import { checkLogRead, imageLogFolder, sliceStepLog, stepLogPath, DEFAULT_LOG_READ, type LogBytes, type StepLogSink, type StepLogSlice } from './step-logs.js';

const OFFSET_DIGITS = 12;
/** A segment is shipped at once when this much waits, so no object grows large. */
const SEGMENT_BYTES = 4 * 1024 * 1024;
/** What a writer holds while the bucket refuses it; past this, output is dropped and the log marked incomplete. */
const MAX_UNSHIPPED = 64 * 1024 * 1024;
/** Failed attempts the last shipments may take, when the step ends. */
const FINAL_ATTEMPTS = 3;

export interface BucketStepLogOptions {
  /** The bucket, its prefix already including `logs/`. */
  bucket: ObjectBucket;
  /** Time between shipments while a step writes (default 1 s). */
  shipEveryMs?: number;
}

function segmentKey(base: string, offset: number): string {
  return `${base}${String(offset).padStart(OFFSET_DIGITS, '0')}`;
}

/** The key prefix of one step's segments, relative to the logs bucket (the step id checked as for a file). */
function stepBase(imageArn: string, stepExecutionId: string): string {
  // stepLogPath checks the id; the key has the same shape as the file's path under the logs root.
  stepLogPath('/', imageArn, stepExecutionId);
  return `${imageLogFolder(imageArn)}/${stepExecutionId}.log/`;
}

/** Ships a step's output to the bucket as offset-named segments. */
class SegmentWriter implements StepLogSink {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private shipped = 0;
  private shipping: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private dropped = 0;
  private lastError: unknown;
  error: unknown;

  constructor(
    private readonly bucket: ObjectBucket,
    private readonly base: string,
    private readonly shipEveryMs: number,
  ) {}

  append(text: string): void {
    if (this.closed || text === '') return;
    const bytes = Buffer.from(redactHostPaths(text));
    if (this.pendingBytes + bytes.length > MAX_UNSHIPPED) {
      this.dropped += bytes.length;
      return;
    }
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= SEGMENT_BYTES) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.shipEveryMs).unref();
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    // ship() never rejects: a refused put keeps its output for the next attempt.
    this.shipping ??= this.ship().then((progressed) => {
      this.shipping = undefined;
      if (this.closed || this.pendingBytes === 0) return;
      // More than a segment waiting goes at once; the rest (or a retry after a refusal) waits for the next tick.
      if (progressed && this.pendingBytes >= SEGMENT_BYTES) this.kick();
      else this.timer ??= setTimeout(() => this.kick(), this.shipEveryMs).unref();
    });
  }

  /**
   * Puts what waits now (up to about SEGMENT_BYTES, whole appends) as the segment at the shipped offset; a
   * refusal keeps it for the next attempt. Output appended meanwhile waits for the next tick: shipping it at
   * once would make an object per put under steady output. Returns whether anything was shipped.
   */
  private async ship(): Promise<boolean> {
    if (this.pendingBytes === 0) return false;
    let count = 0;
    let size = 0;
    while (count < this.pending.length && (count === 0 || size + this.pending[count]!.length <= SEGMENT_BYTES)) size += this.pending[count++]!.length;
    const body = Buffer.concat(this.pending.slice(0, count), size);
    try {
      await this.bucket.put(segmentKey(this.base, this.shipped), body);
    } catch (err) {
      this.lastError = err;
      return false;
    }
    this.pending.splice(0, count);
    this.pendingBytes -= body.length;
    this.shipped += body.length;
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.shipping) await this.shipping;
    for (let failures = 0; this.pendingBytes > 0 && failures < FINAL_ATTEMPTS; ) {
      if (await this.ship()) continue;
      failures++;
      if (failures < FINAL_ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, 200 * failures));
    }
    if (this.pendingBytes > 0) this.error = this.lastError;
    else if (this.dropped > 0) this.error = new Error(`${this.dropped} bytes were dropped while the object store refused the log (${String(this.lastError)})`);
  }
}

/** A step's log as the contiguous segments listed from offset 0. */
async function segmentBytes(bucket: ObjectBucket, base: string): Promise<LogBytes | undefined> {
  const segments: { key: string; start: number; size: number }[] = [];
  let end = 0;
  for (const o of await bucket.list(base)) {
    const start = Number(o.key.slice(base.length));
    // Segments past a gap (one still in flight before them) are read once the gap is filled.
    if (start !== end) break;
    segments.push({ key: o.key, start, size: o.size });
    end += o.size;
  }
  if (segments.length === 0) return undefined;
  return {
    size: end,
    read: async (position, length) => {
      const parts: Buffer[] = [];
      const stop = Math.min(position + length, end);
      for (const s of segments) {
        const from = Math.max(position, s.start);
        const to = Math.min(stop, s.start + s.size);
        if (from >= to) continue;
        const got = await bucket.get(s.key, { start: from - s.start, end: to - s.start - 1 });
        if (!got) throw new Error(`step log segment ${s.key} disappeared while being read`);
        parts.push(got);
      }
      return Buffer.concat(parts);
    },
  };
}

/** Step logs as segments in a bucket shared by every node. */
export class BucketStepLogStore implements StepLogStore {
  private readonly bucket: ObjectBucket;
  private readonly shipEveryMs: number;

  constructor(options: BucketStepLogOptions) {
    this.bucket = options.bucket;
    this.shipEveryMs = options.shipEveryMs ?? 1000;
  }

  create(imageArn: string, stepExecutionId: string): Promise<StepLogSink> {
    const writer = new SegmentWriter(this.bucket, stepBase(imageArn, stepExecutionId), this.shipEveryMs);
    // The header goes with the first output, so a step that writes nothing costs one object, at its end.
    writer.append(STAMPED_LOG_HEADER);
    return Promise.resolve(writer);
  }

  async read(imageArn: string, stepExecutionId: string, offset: number, maxBytes = DEFAULT_LOG_READ): Promise<StepLogSlice> {
    const base = stepBase(imageArn, stepExecutionId);
    checkLogRead(offset, maxBytes);
    return sliceStepLog(await segmentBytes(this.bucket, base), stepExecutionId, offset, maxBytes);
  }

  /**
   * Stores a whole step log written elsewhere (a data directory's `<folder>/<step-id>.log`, given relative to its
   * logs root) as the one segment of that step, so it reads as it did there (`kiln store migrate`).
   */
  async importLog(relativePath: string, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    const m = /^([^/]+)\/([^/]+)\.log$/.exec(relativePath);
    if (!m) throw new Error(`${relativePath}: not a step log (<image folder>/<step id>.log)`);
    await this.bucket.put(segmentKey(`${m[1]}/${m[2]}.log/`, 0), bytes, signal);
  }

  async deleteImageLogs(imageArn: string): Promise<void> {
    await this.bucket.deleteUnder(`${imageLogFolder(imageArn)}/`);
  }
}
