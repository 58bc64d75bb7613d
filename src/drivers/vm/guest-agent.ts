/**
 * A client for the QEMU guest agent (qemu-ga) over the unix socket of QEMU's virtio-serial chardev: the only
 * channel Kiln has into a VM, as the SSM agent is for AWS. Commands go one at a time; qemu-ga answers in order.
 */
import * as net from 'node:net';
import { withLeaks } from '../../domain/cleanup-stack.js';
import { errorMessage, KilnError } from '../../domain/errors.js';

/** qemu-ga marks the start of a guest-sync-delimited answer with this byte; it never occurs in UTF-8 JSON. */
const DELIMITER = 0xff;
const NEWLINE = 0x0a;
/** Chunk size of file transfers: one base64 JSON line of ~1.4 MB, well under qemu-ga's 64 MiB token limit. */
export const FILE_CHUNK_BYTES = 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 60_000;

export interface AgentCallOptions {
  signal?: AbortSignal;
  /** Per call; default 60 s. The agent is then re-synchronised before the next call. */
  timeoutMs?: number;
}

/** qemu-ga answered with an error object; `desc` carries the guest's strerror text (e.g. for guest-file-open). */
export class GuestAgentCommandError extends KilnError {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super('Internal', `guest agent ${command}: ${errorClass}: ${desc}`);
  }
}

export interface GuestExecRequest {
  path: string;
  arg?: string[];
  /** KEY=VALUE; when given, the process gets exactly this environment. */
  env?: string[];
  input?: Buffer;
  captureOutput?: boolean;
}

export interface GuestExecStatus {
  exited: boolean;
  exitcode?: number;
  /** Signal number that ended the process. */
  signal?: number;
  stdout: Buffer;
  stderr: Buffer;
  truncated: boolean;
}

interface Pending {
  /** Accepts the message as this call's answer. */
  matches: (msg: Record<string, unknown>) => boolean;
  resolve: (msg: Record<string, unknown>) => void;
  reject: (err: Error) => void;
}

/**
 * One connection to qemu-ga. Contract: calls are serialised; each rejects on its timeout (Unavailable), on abort
 * (Cancelled), with GuestAgentCommandError when the agent answers an error, and with Unavailable once the socket
 * is closed (pending calls too). After a call that got no answer the next call re-synchronises first, so a late
 * answer is never taken for another call's.
 */
export class GuestAgent {
  private readonly socket: net.Socket;
  private pending: Pending | undefined;
  private partial: Buffer[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private needsSync = true;
  private nextId = Math.floor(Math.random() * 1e9);
  private closedReason: string | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.onClose(`socket error: ${err.message}`));
    socket.on('close', () => this.onClose('socket closed'));
  }

  /** Connects to QEMU's chardev socket; rejects (with the errno code kept as cause) when it is not there yet. */
  static connect(socketPath: string, options: AgentCallOptions = {}): Promise<GuestAgent> {
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) return reject(new KilnError('Cancelled', 'guest agent: cancelled before connect'));
      const socket = net.createConnection(socketPath);
      const timer = setTimeout(() => fail(new KilnError('Unavailable', `guest agent: connecting to ${socketPath} timed out`)), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      const onAbort = () => fail(new KilnError('Cancelled', 'guest agent: connect cancelled'));
      const done = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        socket.removeAllListeners('connect').removeAllListeners('error');
      };
      const fail = (err: Error) => {
        done();
        socket.destroy();
        reject(err);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', (err) => fail(new KilnError('Unavailable', `guest agent: cannot connect to ${socketPath}: ${err.message}`, [], { cause: err })));
      socket.once('connect', () => {
        done();
        resolve(new GuestAgent(socket));
      });
    });
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  close(): void {
    this.socket.destroy();
    this.onClose('closed by the host');
  }

  /**
   * guest-sync-delimited with a fresh id: everything the agent or the socket held from before is discarded.
   * Resolves when the agent answers with that id.
   */
  sync(options: AgentCallOptions = {}): Promise<void> {
    return this.serial(options, () => this.syncNow(options));
  }

  /**
   * Syncs until the agent answers (each attempt bounded by `attemptMs`), `timeoutMs` passes (Unavailable),
   * the signal aborts (Cancelled) or `giveUp()` returns a reason (Unavailable with it, e.g. QEMU has exited).
   */
  async waitReady(options: { timeoutMs: number; attemptMs?: number; signal?: AbortSignal; giveUp?: () => string | undefined }): Promise<void> {
    const deadline = Date.now() + options.timeoutMs;
    let last = 'no answer';
    for (;;) {
      const why = options.giveUp?.();
      if (why !== undefined) throw new KilnError('Unavailable', `guest agent: ${why}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new KilnError('Unavailable', `guest agent: no answer within ${options.timeoutMs} ms (${last})`);
      try {
        await this.sync({ signal: options.signal, timeoutMs: Math.min(options.attemptMs ?? 3000, left) });
        return;
      } catch (err) {
        if ((err as KilnError).kind === 'Cancelled' || this.closed) throw err;
        last = (err as Error).message;
      }
    }
  }

  ping(options: AgentCallOptions = {}): Promise<void> {
    return this.call('guest-ping', undefined, options).then(() => undefined);
  }

  /** Any command that answers; resolves with its `return` value. */
  call<T = unknown>(command: string, args: Record<string, unknown> | undefined, options: AgentCallOptions = {}): Promise<T> {
    return this.serial(options, async () => {
      if (this.needsSync) await this.syncNow(options);
      const id = `kiln-${this.nextId++}`;
      const msg = await this.request({ execute: command, ...(args ? { arguments: args } : {}), id }, options, command, (m) => m.id === undefined || m.id === id);
      if (msg.error !== undefined) {
        const e = msg.error as { class?: string; desc?: string };
        throw new GuestAgentCommandError(command, e.class ?? 'Error', e.desc ?? JSON.stringify(msg.error));
      }
      return msg.return as T;
    });
  }

  /** guest-exec; resolves with the guest pid. */
  async exec(req: GuestExecRequest, options: AgentCallOptions = {}): Promise<number> {
    const r = await this.call<{ pid: number }>('guest-exec', {
      path: req.path,
      ...(req.arg ? { arg: req.arg } : {}),
      ...(req.env ? { env: req.env } : {}),
      ...(req.input ? { 'input-data': req.input.toString('base64') } : {}),
      'capture-output': req.captureOutput ?? true,
    }, options);
    return r.pid;
  }

  async execStatus(pid: number, options: AgentCallOptions = {}): Promise<GuestExecStatus> {
    const r = await this.call<Record<string, unknown>>('guest-exec-status', { pid }, options);
    return {
      exited: r.exited === true,
      ...(typeof r.exitcode === 'number' ? { exitcode: r.exitcode } : {}),
      ...(typeof r.signal === 'number' ? { signal: r.signal } : {}),
      stdout: Buffer.from((r['out-data'] as string | undefined) ?? '', 'base64'),
      stderr: Buffer.from((r['err-data'] as string | undefined) ?? '', 'base64'),
      truncated: r['out-truncated'] === true || r['err-truncated'] === true,
    };
  }

  fileOpen(path: string, mode: 'r' | 'w' | 'a', options: AgentCallOptions = {}): Promise<number> {
    return this.call<number>('guest-file-open', { path, mode }, options);
  }

  async fileRead(handle: number, count: number, options: AgentCallOptions = {}): Promise<{ data: Buffer; eof: boolean }> {
    const r = await this.call<{ count: number; 'buf-b64': string; eof: boolean }>('guest-file-read', { handle, count }, options);
    return { data: Buffer.from(r['buf-b64'], 'base64'), eof: r.eof };
  }

  async fileWrite(handle: number, data: Buffer, options: AgentCallOptions = {}): Promise<number> {
    const r = await this.call<{ count: number }>('guest-file-write', { handle, 'buf-b64': data.toString('base64') }, options);
    return r.count;
  }

  fileClose(handle: number, options: AgentCallOptions = {}): Promise<void> {
    return this.call('guest-file-close', { handle }, options).then(() => undefined);
  }

  /** The whole file, in FILE_CHUNK_BYTES reads; the handle is closed also on failure. */
  async readFile(path: string, options: AgentCallOptions = {}): Promise<Buffer> {
    const handle = await this.fileOpen(path, 'r', options);
    const parts: Buffer[] = [];
    try {
      for (;;) {
        const { data, eof } = await this.fileRead(handle, FILE_CHUNK_BYTES, options);
        parts.push(data);
        if (eof || data.length === 0) break;
      }
    } catch (err) {
      throw await this.closeAfter(err, handle, path, options);
    }
    await this.fileClose(handle, options);
    return Buffer.concat(parts);
  }

  /** Closes a handle on a failure's way out; a close that fails too travels on the error as what leaked. */
  private async closeAfter(err: unknown, handle: number, path: string, options: AgentCallOptions): Promise<unknown> {
    try {
      await this.fileClose(handle, options);
      return err;
    } catch (closing) {
      return withLeaks(err, 'guest agent', [{ what: `file handle ${handle} of ${path} in the guest`, error: errorMessage(closing) }]);
    }
  }

  /** Writes (mode w: truncates) or appends (mode a) `data` in chunks; the handle is closed also on failure. */
  async writeFile(path: string, data: Buffer, mode: 'w' | 'a', options: AgentCallOptions = {}): Promise<void> {
    const handle = await this.fileOpen(path, mode, options);
    try {
      for (let off = 0; off < data.length; ) {
        const n = await this.fileWrite(handle, data.subarray(off, off + FILE_CHUNK_BYTES), options);
        if (n <= 0) throw new KilnError('Internal', `guest agent: guest-file-write to ${path} wrote nothing at offset ${off}`);
        off += n;
      }
    } catch (err) {
      throw await this.closeAfter(err, handle, path, options);
    }
    // Close flushes qemu-ga's stdio buffer: its errors (ENOSPC) belong to this write.
    await this.fileClose(handle, options);
  }

  /**
   * guest-shutdown. qemu-ga answers only a failure (e.g. the guest's `shutdown` command refused), so this waits
   * `answerWindowMs` (default 5 s) for one: an error answer rejects with GuestAgentCommandError; silence, or the
   * socket closing as QEMU powers off, resolves. The caller watches the agent or QEMU to see it happen.
   */
  shutdown(mode: 'powerdown' | 'reboot' | 'halt', options: AgentCallOptions & { answerWindowMs?: number } = {}): Promise<void> {
    return this.serial(options, async () => {
      if (this.needsSync) await this.syncNow(options);
      const id = `kiln-${this.nextId++}`;
      let msg: Record<string, unknown>;
      try {
        msg = await this.request({ execute: 'guest-shutdown', arguments: { mode }, id }, { signal: options.signal, timeoutMs: options.answerWindowMs ?? 5000 }, 'guest-shutdown', (m) => m.id === undefined || m.id === id);
      } catch (err) {
        if ((err as KilnError).kind === 'Cancelled') throw err;
        return;
      } finally {
        this.needsSync = true;
      }
      if (msg.error !== undefined) {
        const e = msg.error as { class?: string; desc?: string };
        throw new GuestAgentCommandError('guest-shutdown', e.class ?? 'Error', e.desc ?? JSON.stringify(msg.error));
      }
    });
  }

  private async syncNow(options: AgentCallOptions): Promise<void> {
    const id = this.nextId++;
    this.partial = [];
    // The leading 0xFF makes qemu-ga's JSON parser drop whatever half request it may still hold.
    await this.request(Buffer.concat([Buffer.from([DELIMITER]), Buffer.from(JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } }) + '\n')]), options, 'guest-sync-delimited', (m) => m.return === id);
    this.needsSync = false;
  }

  /** Runs `fn` after every earlier call has settled; waiting in line honours the signal. */
  private serial<T>(options: AgentCallOptions, fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.closedReason !== undefined) throw new KilnError('Unavailable', `guest agent: ${this.closedReason}`);
      if (options.signal?.aborted) throw new KilnError('Cancelled', 'guest agent: call cancelled');
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(data, (err) => (err ? reject(new KilnError('Unavailable', `guest agent: write failed: ${err.message}`)) : resolve()));
    });
  }

  private request(payload: object | Buffer, options: AgentCallOptions, command: string, matches: Pending['matches']): Promise<Record<string, unknown>> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.pending = undefined;
      };
      const fail = (err: Error) => {
        cleanup();
        // The answer may still come; it must not be read as the next call's.
        this.needsSync = true;
        reject(err);
      };
      const timer = setTimeout(() => fail(new KilnError('Unavailable', `guest agent: ${command} got no answer within ${timeoutMs} ms`)), timeoutMs);
      const onAbort = () => fail(new KilnError('Cancelled', `guest agent: ${command} cancelled`));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending = {
        matches,
        resolve: (msg) => {
          cleanup();
          resolve(msg);
        },
        reject: fail,
      };
      const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(JSON.stringify(payload) + '\n');
      this.write(bytes).catch(fail);
    });
  }

  /** Splits the stream at newlines and 0xFF; a segment that is not a JSON object is stale bytes and dropped. */
  private onData(chunk: Buffer): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b !== NEWLINE && b !== DELIMITER) continue;
      this.partial.push(chunk.subarray(start, i));
      const segment = Buffer.concat(this.partial);
      this.partial = [];
      start = i + 1;
      this.onSegment(segment);
    }
    if (start < chunk.length) this.partial.push(chunk.subarray(start));
  }

  private onSegment(segment: Buffer): void {
    if (segment.length === 0) return;
    let msg: unknown;
    try {
      msg = JSON.parse(segment.toString('utf8'));
    } catch {
      return;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return;
    const m = msg as Record<string, unknown>;
    if (!('return' in m) && !('error' in m)) return;
    if (this.pending?.matches(m)) this.pending.resolve(m);
  }

  private onClose(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    this.pending?.reject(new KilnError('Unavailable', `guest agent: ${reason}`));
  }
}
