/**
 * `kiln logs IMAGE_BUILD_VERSION_ARN [--follow]`: an image build's workflow steps in order, each step's log
 * under a header line, read through the Image Builder API (stock SDK) and the signed `/kiln/logs` route. With
 * --follow it polls until the image is AVAILABLE, FAILED or CANCELLED and exits 0 only for AVAILABLE.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { ImagebuilderClient, WorkflowExecutionMetadata, WorkflowStepMetadata } from '@aws-sdk/client-imagebuilder';
import { DEFAULT_LISTEN } from './server-defaults.js';

/** Access keys to sign with, and where they were found (for messages). */
export interface CliCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  source: string;
}

/** Thrown for problems the user fixes on the command line: printed as one line. */
class LogsError extends Error {}

/** Sections of an INI file (AWS shared config/credentials), keys lower-cased; empty when the file is absent. */
function readIni(file: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return sections;
  }
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current && eq > 0) current.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  return sections;
}

function staticKeys(section: Map<string, string> | undefined, source: string): CliCredentials | undefined {
  const accessKeyId = section?.get('aws_access_key_id');
  const secretAccessKey = section?.get('aws_secret_access_key');
  if (!accessKeyId || !secretAccessKey) return undefined;
  const sessionToken = section?.get('aws_session_token');
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}), source };
}

/**
 * The keys `kiln logs` signs with: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (unless a profile is named), else
 * the profile (`--profile`, else $AWS_PROFILE, else `default`) in the shared credentials file, then in the
 * shared config file, else the `credentials` file `kiln serve` wrote into the data directory. Only static keys
 * count: role, SSO and process profiles would fetch credentials from AWS, which mean nothing to Kiln.
 */
export function resolveCredentials(options: { profile?: string; dataDir: string; env?: NodeJS.ProcessEnv }): CliCredentials {
  const env = options.env ?? process.env;
  if (options.profile === undefined && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}), source: 'environment' };
  }
  const named = options.profile ?? (env.AWS_PROFILE || undefined);
  const profile = named ?? 'default';
  const home = env.HOME ?? homedir();
  const credentialsFile = env.AWS_SHARED_CREDENTIALS_FILE ?? path.join(home, '.aws', 'credentials');
  const configFile = env.AWS_CONFIG_FILE ?? path.join(home, '.aws', 'config');
  const found =
    staticKeys(readIni(credentialsFile).get(profile), `${credentialsFile} [${profile}]`) ??
    staticKeys(readIni(configFile).get(profile === 'default' ? 'default' : `profile ${profile}`), `${configFile} [${profile}]`);
  if (found) return found;
  if (named !== undefined) throw new LogsError(`the profile '${profile}' has no aws_access_key_id/aws_secret_access_key in ${credentialsFile} or ${configFile}`);
  const dataDirFile = path.join(options.dataDir, 'credentials');
  const local = staticKeys(readIni(dataDirFile).get('default'), dataDirFile);
  if (local) return local;
  throw new LogsError(`no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, name a profile with --profile, or point --data-dir at the Kiln data directory (${dataDirFile} does not exist or has no keys)`);
}

/** node:crypto behind the smithy Checksum interface (HMAC when constructed with a key). */
class NodeSha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    const key = secret === undefined || typeof secret === 'string' ? secret : ArrayBuffer.isView(secret) ? new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength) : new Uint8Array(secret);
    this.h = key === undefined ? createHash('sha256') : createHmac('sha256', key);
  }
  update(data: Uint8Array): void {
    this.h.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.h.digest());
  }
  reset(): void {
    throw new Error('not supported');
  }
}

/** One slice of a step's log as `/kiln/logs` returns it. */
interface LogSlice {
  text: string;
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
  const [sdk, { SignatureV4 }, { HttpRequest }] = await Promise.all([import('@aws-sdk/client-imagebuilder'), import('@smithy/signature-v4'), import('@smithy/protocol-http')]);
  const keys = { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}) };
  const client = new sdk.ImagebuilderClient({ endpoint, region, credentials: keys });
  const signer = new SignatureV4({ credentials: keys, region, service: 'imagebuilder', sha256: NodeSha256 });
  const base = new URL(endpoint);
  const prefix = base.pathname.replace(/\/+$/, '');
  return {
    client,
    sdk,
    signal,
    async readLog(imageArn, stepExecutionId, offset) {
      const query = { imageBuildVersionArn: imageArn, stepExecutionId, offset: String(offset) };
      const request = new HttpRequest({ method: 'GET', protocol: base.protocol, hostname: base.hostname, port: base.port ? Number(base.port) : undefined, path: `${prefix}/kiln/logs`, query, headers: { host: base.host } });
      const signed = await signer.sign(request);
      const url = new URL(`${prefix}/kiln/logs`, base);
      url.search = new URLSearchParams(query).toString();
      const headers = Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name.toLowerCase() !== 'host'));
      const response = await fetch(url, { headers, ...(signal ? { signal } : {}) });
      const body = (await response.json().catch(() => ({}))) as Partial<LogSlice> & { __type?: string; message?: string };
      if (!response.ok) throw new LogsError(`${body.__type ?? `HTTP ${response.status}`}: ${body.message ?? response.statusText} (reading the log of ${stepExecutionId})`);
      return { text: String(body.text ?? ''), nextOffset: Number(body.nextOffset ?? offset), stepStatus: String(body.stepStatus ?? '') };
    },
  };
}

const FINAL_IMAGE = new Set(['AVAILABLE', 'FAILED', 'CANCELLED']);
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
  ) {}

  private write(text: string): void {
    if (text === '') return;
    this.out(text);
    this.atLineStart = text.endsWith('\n');
  }

  private header(type: string, step: WorkflowStepMetadata, status: string, cursor: Cursor): void {
    if (!this.atLineStart) this.write('\n');
    this.write(`== ${type} ${step.name} (${status}) ==\n`);
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
  endpoint: string;
  region: string;
  profile?: string;
  dataDir: string;
  /** Time between passes with --follow. */
  pollMs?: number;
  /** Stops following and any request under way; runLogs then rejects (an AbortError). */
  signal?: AbortSignal;
}

/** Prints an image build's step logs; returns the exit status (with --follow, 0 only for AVAILABLE). */
export async function runLogs(imageArn: string, options: LogsOptions, out: (text: string) => void, err: (text: string) => void): Promise<number> {
  const credentials = resolveCredentials({ dataDir: options.dataDir, ...(options.profile === undefined ? {} : { profile: options.profile }) });
  const conn = await connect(options.endpoint, options.region, credentials, options.signal);
  try {
    const printer = new LogPrinter(conn, imageArn, out);
    if (!options.follow) {
      await imageStatus(conn, imageArn);
      await printer.pass();
      printer.end();
      return 0;
    }
    for (;;) {
      options.signal?.throwIfAborted();
      // The state is read before the pass, so a final state's pass sees everything written before it.
      const state = await imageStatus(conn, imageArn);
      await printer.pass();
      if (FINAL_IMAGE.has(state.status)) {
        printer.end();
        err(`kiln logs: ${imageArn} is ${state.status}${state.reason ? `: ${state.reason}` : ''}\n`);
        return state.status === 'AVAILABLE' ? 0 : 1;
      }
      await sleep(options.pollMs ?? 500, undefined, options.signal ? { signal: options.signal } : {});
    }
  } finally {
    conn.client.destroy();
  }
}

/** Adds `kiln logs` to the CLI. */
export function registerLogsCommand(program: Command): void {
  program
    .command('logs <imageBuildVersionArn>')
    .description("print an image build's workflow step logs (with --follow, until the build ends)")
    .option('--follow', 'keep printing new output until the image is AVAILABLE, FAILED or CANCELLED; exit 0 only for AVAILABLE')
    .option('--endpoint <url>', 'Kiln API endpoint', `http://${DEFAULT_LISTEN}`)
    .option('--region <region>', 'region (default: $AWS_REGION, $AWS_DEFAULT_REGION or local)')
    .option('--profile <name>', 'AWS profile with the access keys')
    .option('--data-dir <dir>', "data directory whose credentials file is used when no other keys are set (default: $KILN_DATA_DIR or ./.kiln)")
    .action(async (imageArn: string, opts: { follow?: boolean; endpoint: string; region?: string; profile?: string; dataDir?: string }) => {
      const write = (stream: NodeJS.WriteStream) => (text: string) => void stream.write(text);
      try {
        process.exitCode = await runLogs(
          imageArn,
          {
            follow: opts.follow === true,
            endpoint: opts.endpoint,
            region: opts.region ?? (process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'local'),
            ...(opts.profile === undefined ? {} : { profile: opts.profile }),
            dataDir: path.resolve(opts.dataDir ?? process.env.KILN_DATA_DIR ?? '.kiln'),
          },
          write(process.stdout),
          write(process.stderr),
        );
      } catch (err) {
        const e = err as { name?: string; message?: string };
        const text = err instanceof LogsError ? String(e.message) : e.name && e.name !== 'Error' ? `${e.name}: ${e.message}` : String(e.message ?? err);
        process.stderr.write(`kiln logs: ${text}\n`);
        process.exitCode = 1;
      }
    });
}
