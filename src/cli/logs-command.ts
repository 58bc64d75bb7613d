/**
 * `kiln logs IMAGE_BUILD_VERSION_ARN [--follow] [--json]`: an image build's workflow steps in order, each step's
 * log under a header line (with --json, one JSON object per log line instead), read through the Image Builder API (stock SDK) and the signed `/kiln/logs` route. With
 * --follow it polls until the image is AVAILABLE, FAILED or CANCELLED and exits 0 only for AVAILABLE; it also
 * listens on the server's event stream, so a state change wakes it at once instead of at its next poll.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { ImagebuilderClient, WorkflowExecutionMetadata, WorkflowStepMetadata } from '@aws-sdk/client-imagebuilder';
import { legacyLines, type StoredLine } from '../logs/step-log-format.js';
import { streamImageEvents } from './events-command.js';
import { CliError, describeCliError, EXIT, kilnRequest, resolveCredentials, routeError, targetDefaults, unreachableError, withServerOptions, type CliCredentials, type ServerTargetOptions } from './kiln-client.js';

export { resolveCredentials, type CliCredentials };

/** One slice of a step's log as `/kiln/logs` returns it. */
interface LogSlice {
  text: string;
  lines: StoredLine[];
  nextOffset: number;
  stepStatus: string;
}

interface Connection {
  client: ImagebuilderClient;
  sdk: typeof import('@aws-sdk/client-imagebuilder');
  readLog(imageArn: string, stepExecutionId: string, offset: number): Promise<LogSlice>;
  signal: AbortSignal | undefined;
}

/** The stock SDK client and a SigV4-signed reader of `/kiln/logs`, loaded only when the command runs. */
async function connect(endpoint: string, region: string, credentials: CliCredentials, signal: AbortSignal | undefined): Promise<Connection> {
  // Kiln pins its SDK version, so the SDK's notice about future releases needing Node 22 tells a user of this
  // command nothing; it would only clutter stderr. A user's own setting of the variable still wins.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const sdk = await import('@aws-sdk/client-imagebuilder');
  const keys = { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}) };
  // One attempt: an unreachable server is reported at once, naming its address, rather than after retries.
  const client = new sdk.ImagebuilderClient({ endpoint, region, credentials: keys, maxAttempts: 1 });
  return {
    client,
    sdk,
    signal,
    async readLog(imageArn, stepExecutionId, offset) {
      const query = { imageBuildVersionArn: imageArn, stepExecutionId, offset: String(offset) };
      const { status, body } = await kilnRequest({ endpoint, region, credentials }, { method: 'GET', path: '/kiln/logs', query, ...(signal ? { signal } : {}) });
      if (status !== 200) throw routeError(status, body, `reading the log of ${stepExecutionId}`);
      const text = String(body.text ?? '');
      // A server older than the stamped logs sends text alone.
      const lines = Array.isArray(body.lines) ? (body.lines as StoredLine[]) : legacyLines(text);
      return { text, lines, nextOffset: Number(body.nextOffset ?? offset), stepStatus: String(body.stepStatus ?? '') };
    },
  };
}

const FINAL_IMAGE = new Set(['AVAILABLE', 'FAILED', 'CANCELLED']);

/** A sleep that `wake()` cuts short; a wake while nobody sleeps makes the next sleep return at once. */
class Waker {
  private pending = false;
  private cut: (() => void) | undefined;

  wake(): void {
    if (this.cut) this.cut();
    else this.pending = true;
  }

  /** Waits `ms` or until woken; rejects (AbortError) when `signal` aborts. */
  async sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return;
    }
    const woken = new AbortController();
    this.cut = () => woken.abort();
    try {
      await sleep(ms, undefined, { signal: signal ? AbortSignal.any([signal, woken.signal]) : woken.signal });
    } catch (err) {
      if (signal?.aborted) throw err;
    } finally {
      this.cut = undefined;
    }
  }
}

/**
 * Wakes `waker` on every state change of the image until `signal` aborts. Best effort: a server without the
 * event stream, or a stream that drops, leaves the caller to its polling.
 */
async function wakeOnStateChanges(target: { endpoint: string; region: string; credentials: CliCredentials }, imageArn: string, waker: Waker, signal: AbortSignal): Promise<void> {
  try {
    for await (const _event of streamImageEvents(target, { image: imageArn, signal })) waker.wake();
  } catch {
    // Polling carries on alone.
  }
}
const FINAL_STEP = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'SKIPPED']);

/** What has been printed of one step. */
interface Cursor {
  offset: number;
  /** The status shown in the step's last header; undefined before its first. */
  shown: string | undefined;
}

/**
 * Prints the steps of an image's workflows in order, each step's log once, whatever the number of passes: a
 * header when a step first appears, again when output switches to it from another step, and once more when
 * it ends after its header showed it running.
 */
class LogPrinter {
  private readonly cursors = new Map<string, Cursor>();
  private current: string | undefined;
  private atLineStart = true;

  constructor(
    private readonly conn: Connection,
    private readonly imageArn: string,
    private readonly out: (text: string) => void,
    /** One JSON object per log line, no headers. */
    private readonly json = false,
  ) {}

  /** With --json: each line as `{"workflow","step","stepExecutionId","time","stream","text"}`. */
  private jsonLines(type: string, step: WorkflowStepMetadata, lines: StoredLine[]): void {
    for (const line of lines) this.out(`${JSON.stringify({ workflow: type, step: step.name, stepExecutionId: step.stepExecutionId, ...(line.time === undefined ? {} : { time: line.time }), stream: line.stream, text: line.text })}\n`);
  }

  private write(text: string): void {
    if (this.json || text === '') return;
    this.out(text);
    this.atLineStart = text.endsWith('\n');
  }

  private header(type: string, step: WorkflowStepMetadata, status: string, cursor: Cursor): void {
    if (!this.atLineStart) this.write('\n');
    this.write(`== ${type} ${step.name} (${status}) ==\n`);
    if (this.json && status === 'SKIPPED' && step.message) this.jsonLines(type, step, [{ stream: 'info', text: step.message }]);
    cursor.shown = status;
    this.current = step.stepExecutionId;
  }

  private async executions(): Promise<WorkflowExecutionMetadata[]> {
    const all: WorkflowExecutionMetadata[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.conn.client.send(new this.conn.sdk.ListWorkflowExecutionsCommand({ imageBuildVersionArn: this.imageArn, nextToken }), { abortSignal: this.conn.signal });
      all.push(...(page.workflowExecutions ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return all;
  }

  private async steps(workflowExecutionId: string): Promise<WorkflowStepMetadata[]> {
    const all: WorkflowStepMetadata[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.conn.client.send(new this.conn.sdk.ListWorkflowStepExecutionsCommand({ workflowExecutionId, nextToken }), { abortSignal: this.conn.signal });
      all.push(...(page.steps ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return all;
  }

  /** Ends the output on a line of its own, so a log without a final newline does not run into the prompt. */
  end(): void {
    if (!this.atLineStart) this.write('\n');
  }

  /** Prints whatever is new: unseen steps, new log text, ends of steps. */
  async pass(): Promise<void> {
    for (const wf of await this.executions()) {
      const type = wf.type ?? 'WORKFLOW';
      for (const step of await this.steps(wf.workflowExecutionId!)) {
        const id = step.stepExecutionId!;
        let cursor = this.cursors.get(id);
        let status = step.status ?? 'UNKNOWN';
        if (!cursor) {
          cursor = { offset: 0, shown: undefined };
          this.cursors.set(id, cursor);
        }
        if (cursor.shown !== undefined && FINAL_STEP.has(cursor.shown)) continue;
        if (status !== 'SKIPPED') {
          // Read until a slice comes back empty: that slice's status was read after every earlier byte was written.
          for (;;) {
            const slice = await this.conn.readLog(this.imageArn, id, cursor.offset);
            status = slice.stepStatus || status;
            if (slice.text === '') break;
            if (this.current !== id || cursor.shown === undefined) this.header(type, step, status, cursor);
            this.write(slice.text);
            if (this.json) this.jsonLines(type, step, slice.lines);
            cursor.offset = slice.nextOffset;
          }
        }
        if (cursor.shown === undefined || (FINAL_STEP.has(status) && cursor.shown !== status)) {
          this.header(type, step, status, cursor);
          if (status === 'SKIPPED' && step.message) this.write(`${step.message}\n`);
        }
      }
    }
  }
}

async function imageStatus(conn: Connection, imageArn: string): Promise<{ status: string; reason?: string }> {
  const { image } = await conn.client.send(new conn.sdk.GetImageCommand({ imageBuildVersionArn: imageArn }), { abortSignal: conn.signal });
  return { status: image?.state?.status ?? 'UNKNOWN', ...(image?.state?.reason ? { reason: image.state.reason } : {}) };
}

export interface LogsOptions {
  follow?: boolean;
  /** One JSON object per log line instead of text under step headers. */
  json?: boolean;
  endpoint: string;
  region: string;
  profile?: string;
  dataDir: string;
  /** Time between passes with --follow. */
  pollMs?: number;
  /** Stops following and any request under way; runLogs then rejects (an AbortError). */
  signal?: AbortSignal;
  /** Keys to sign with instead of those found from the profile and data directory (kiln build's own engine). */
  credentials?: CliCredentials;
  /** Whether --follow ends with a line saying the image's final state (default true). */
  announceEnd?: boolean;
}

/** Prints an image build's step logs; returns the exit status (with --follow, 0 only for AVAILABLE). */
export async function runLogs(imageArn: string, options: LogsOptions, out: (text: string) => void, err: (text: string) => void): Promise<number> {
  const credentials = options.credentials ?? resolveCredentials({ dataDir: options.dataDir, ...(options.profile === undefined ? {} : { profile: options.profile }) });
  const conn = await connect(options.endpoint, options.region, credentials, options.signal);
  try {
    return await printLogs(conn, imageArn, options, credentials, out, err);
  } catch (e) {
    throw unreachableError(e, options.endpoint) ?? e;
  } finally {
    conn.client.destroy();
  }
}

/** The passes of runLogs: once, or until the image reaches a final state with --follow. */
async function printLogs(conn: Connection, imageArn: string, options: LogsOptions, credentials: CliCredentials, out: (text: string) => void, err: (text: string) => void): Promise<number> {
  const printer = new LogPrinter(conn, imageArn, out, options.json === true);
  if (!options.follow) {
    await imageStatus(conn, imageArn);
    await printer.pass();
    printer.end();
    return 0;
  }
  const waker = new Waker();
  const events = new AbortController();
  const watching = wakeOnStateChanges({ endpoint: options.endpoint, region: options.region, credentials }, imageArn, waker, options.signal ? AbortSignal.any([options.signal, events.signal]) : events.signal);
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      // The state is read before the pass, so a final state's pass sees everything written before it.
      const state = await imageStatus(conn, imageArn);
      await printer.pass();
      if (FINAL_IMAGE.has(state.status)) {
        printer.end();
        if (options.announceEnd !== false) err(`kiln logs: ${imageArn} is ${state.status}${state.reason ? `: ${state.reason}` : ''}\n`);
        return state.status === 'AVAILABLE' ? 0 : 1;
      }
      await waker.sleep(options.pollMs ?? 500, options.signal);
    }
  } finally {
    events.abort();
    await watching;
  }
}

/** Adds `kiln logs` to the CLI. */
export function registerLogsCommand(program: Command): void {
  withServerOptions(
    program
      .command('logs <imageBuildVersionArn>')
      .description("print an image build's workflow step logs (with --follow, until the build ends)")
      .option('--follow', 'keep printing new output until the image is AVAILABLE, FAILED or CANCELLED; exit 0 only for AVAILABLE')
      .option('--json', 'print each log line as {"workflow","step","stepExecutionId","time","stream","text"} (stream: stdout, stderr or info)'),
  ).action(async (imageArn: string, opts: ServerTargetOptions & { follow?: boolean; json?: boolean }) => {
    const write = (stream: NodeJS.WriteStream) => (text: string) => void stream.write(text);
    try {
      process.exitCode = await runLogs(imageArn, { follow: opts.follow === true, json: opts.json === true, ...targetDefaults(opts) }, write(process.stdout), write(process.stderr));
    } catch (err) {
      process.stderr.write(`kiln logs: ${describeCliError(err)}\n`);
      process.exitCode = err instanceof CliError ? err.exitCode : EXIT.FAILURE;
    }
  });
}
