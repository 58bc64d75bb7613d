/**
 * What the `kiln` commands that talk to a running server share: the access keys they sign with (found the way
 * the AWS CLI finds them, then in Kiln's data directory) and SigV4-signed calls to Kiln's own routes
 * (`/kiln/...`), which the Image Builder SDK does not know.
 */
import { Option, type Command } from 'commander';
import { NodeSha256 } from '../api/aws/node-sha256.js';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { DEFAULT_LISTEN } from '../app/server-defaults.js';

/** Access keys to sign with, and where they were found (for messages). */
export interface CliCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  source: string;
}

/**
 * The exit statuses of `kiln`, listed in `kiln --help`. A command whose own outcome is a status (a build that
 * ended FAILED, a process run in an instance) exits with that instead.
 */
export const EXIT = {
  SUCCESS: 0,
  FAILURE: 1,
  USAGE: 2,
  /** The server could not be reached at all: nothing was done, so retrying later may work. */
  UNREACHABLE: 3,
  /** Interrupted (SIGINT), as shells report 128 + 2. */
  INTERRUPTED: 130,
} as const;

/** Thrown for problems the user fixes on the command line: printed as one line, exit status 1. */
export class CliError extends Error {
  readonly exitCode: number = EXIT.FAILURE;
}

/** Thrown for a command line that makes no sense (a bad flag value): printed as one line, exit status 2. */
export class UsageError extends CliError {
  override readonly exitCode: number = EXIT.USAGE;
}


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
  if (named !== undefined) throw new CliError(`the profile '${profile}' has no aws_access_key_id/aws_secret_access_key in ${credentialsFile} or ${configFile}`);
  const dataDirFile = path.join(options.dataDir, 'credentials');
  const local = staticKeys(readIni(dataDirFile).get('default'), dataDirFile);
  if (local) return local;
  throw new CliError(`no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, name a profile with --profile, or point --data-dir at the Kiln data directory (${dataDirFile} does not exist or has no keys)`);
}



/** A request to one of Kiln's own routes. */
export interface KilnRouteRequest {
  method: 'GET' | 'DELETE' | 'POST' | 'PUT';
  path: string;
  query?: Record<string, string>;
  /** Sent as JSON (POST). */
  body?: unknown;
  /**
   * A file streamed as the body (PUT), signed as UNSIGNED-PAYLOAD (the signature covers method, path, query and
   * headers; the route checks what it receives).
   */
  upload?: { stream: ReadableStream<Uint8Array>; length: number };
  /** Extra headers, sent unsigned (e.g. Last-Event-ID on a stream). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** A signed request to one of Kiln's own routes; the raw response (for streams). */
export async function kilnFetch(target: { endpoint: string; region: string; credentials: CliCredentials }, request: KilnRouteRequest): Promise<Response> {
  const [{ SignatureV4 }, { HttpRequest }] = await Promise.all([import('@smithy/signature-v4'), import('@smithy/protocol-http')]);
  const { credentials } = target;
  const keys = { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}) };
  const signer = new SignatureV4({ credentials: keys, region: target.region, service: 'imagebuilder', sha256: NodeSha256 });
  const base = new URL(target.endpoint);
  const prefix = base.pathname.replace(/\/+$/, '');
  const query = request.query ?? {};
  const body = request.body === undefined ? undefined : JSON.stringify(request.body);
  const { upload } = request;
  const headers: Record<string, string> = {
    host: base.host,
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(upload ? { 'content-type': 'application/octet-stream', 'content-length': String(upload.length), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } : {}),
  };
  const unsigned = new HttpRequest({ method: request.method, protocol: base.protocol, hostname: base.hostname, port: base.port ? Number(base.port) : undefined, path: `${prefix}${request.path}`, query, headers, ...(body === undefined ? {} : { body }) });
  const signed = await signer.sign(unsigned);
  const url = new URL(`${prefix}${request.path}`, base);
  url.search = new URLSearchParams(query).toString();
  const sent = { ...Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name.toLowerCase() !== 'host')), ...request.headers };
  try {
    const payload = upload ? { body: upload.stream, duplex: 'half' as const } : body === undefined ? {} : { body };
    return await fetch(url, { method: request.method, headers: sent, ...payload, ...(request.signal ? { signal: request.signal } : {}) });
  } catch (err) {
    throw unreachableError(err, target.endpoint) ?? err;
  }
}

/** A signed request to one of Kiln's own routes; the JSON body and status come back, errors included. */
export async function kilnRequest(target: { endpoint: string; region: string; credentials: CliCredentials }, request: KilnRouteRequest): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await kilnFetch(target, request);
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  return { status: response.status, body };
}

/** The AWS-shaped error of a failed Kiln route call, as one line. */
export function routeError(status: number, body: Record<string, unknown>, what: string): CliError {
  return new CliError(`${typeof body.__type === 'string' ? body.__type : `HTTP ${status}`}: ${typeof body.message === 'string' ? body.message : 'request failed'} (${what})`);
}

/** The options every command that talks to a server takes. */
export interface ServerTargetOptions {
  endpointUrl?: string;
  /** The old name of --endpoint-url, still accepted (hidden from help). */
  endpoint?: string;
  region?: string;
  profile?: string;
  dataDir?: string;
}

/** Where `kiln` finds a server when neither --endpoint-url nor the environment names one. */
export const DEFAULT_ENDPOINT = `http://${DEFAULT_LISTEN}`;

/** Adds --endpoint-url (and its hidden old name --endpoint), --region, --profile and --data-dir to a command. */
export function withServerOptions(command: Command): Command {
  return command
    .option('--endpoint-url <url>', `Kiln API endpoint (default: $KILN_ENDPOINT_URL, $AWS_ENDPOINT_URL or ${DEFAULT_ENDPOINT})`)
    .addOption(new Option('--endpoint <url>', 'old name of --endpoint-url').hideHelp())
    .option('--region <region>', 'region (default: $AWS_REGION, $AWS_DEFAULT_REGION or local)')
    .option('--profile <name>', 'AWS profile with the access keys')
    .option('--data-dir <dir>', 'data directory whose credentials file is used when no other keys are set (default: $KILN_DATA_DIR or ./.kiln)');
}

/**
 * Endpoint, region and data directory with their defaults applied. The endpoint is the flag, else
 * $KILN_ENDPOINT_URL, else $AWS_ENDPOINT_URL (as the aws CLI reads it), else the local default: a Kiln-specific
 * setting wins over the general one, so an environment set up for another AWS-compatible service can still
 * name its Kiln apart.
 */
export function targetDefaults(opts: ServerTargetOptions, env: NodeJS.ProcessEnv = process.env): { endpoint: string; region: string; dataDir: string; profile?: string } {
  return {
    endpoint: opts.endpointUrl ?? opts.endpoint ?? (env.KILN_ENDPOINT_URL || env.AWS_ENDPOINT_URL || DEFAULT_ENDPOINT),
    region: opts.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || 'local'),
    dataDir: path.resolve(opts.dataDir ?? env.KILN_DATA_DIR ?? '.kiln'),
    ...(opts.profile === undefined ? {} : { profile: opts.profile }),
  };
}

/** Thrown when the server cannot be reached at all: names the address and how to point elsewhere. */
export class UnreachableError extends CliError {
  override readonly exitCode: number = EXIT.UNREACHABLE;
}

const NETWORK_CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'timed out',
  UND_ERR_CONNECT_TIMEOUT: 'timed out',
  UND_ERR_SOCKET: 'connection closed',
  EPIPE: 'connection closed',
};

/** The error codes of `err` and its causes, outermost first (fetch wraps the socket's error in a TypeError). */
function errorCodes(err: unknown): { codes: string[]; messages: string[] } {
  const codes: string[] = [];
  const messages: string[] = [];
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e && typeof e === 'object' && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string') codes.push(e.code);
    if (typeof e.message === 'string') messages.push(e.message);
    // undici reports several addresses tried at once (IPv6 then IPv4) as an AggregateError.
    for (const inner of Array.isArray((e as { errors?: unknown }).errors) ? ((e as { errors: unknown[] }).errors) : []) {
      const c = (inner as { code?: unknown }).code;
      if (typeof c === 'string') codes.push(c);
    }
  }
  return { codes, messages };
}

/**
 * The one-line error for a request that never got an answer (refused, unknown host, timeout, TLS), naming the
 * address; undefined for any other error (an aborted request, an HTTP answer). Used for fetch and the SDK alike.
 */
export function unreachableError(err: unknown, endpoint: string): UnreachableError | undefined {
  if ((err as { name?: string } | undefined)?.name === 'AbortError') return undefined;
  const { codes, messages } = errorCodes(err);
  const known = codes.map((c) => NETWORK_CAUSES[c]).find((r) => r !== undefined);
  const tls = codes.find((c) => c.startsWith('ERR_TLS') || c.startsWith('ERR_SSL') || /CERT|SELF_SIGNED/.test(c));
  const why = known ?? (tls ? `TLS: ${messages[messages.length - 1] ?? tls}` : messages.includes('fetch failed') ? (messages[messages.length - 1] ?? 'fetch failed') : undefined);
  if (why === undefined) return undefined;
  return new UnreachableError(`cannot reach Kiln at ${endpoint} (${why}); set --endpoint-url or KILN_ENDPOINT_URL`);
}

/** One line for a command's failure: a CliError's message, or the error's name and message. */
export function describeCliError(err: unknown): string {
  const e = err as { name?: string; message?: string };
  return err instanceof CliError ? String(e.message) : e.name && e.name !== 'Error' ? `${e.name}: ${e.message}` : String(e.message ?? err);
}

/** Endpoint, region and credentials of a command's server options, ready for kilnRequest. */
export function routeTarget(opts: ServerTargetOptions): { endpoint: string; region: string; credentials: CliCredentials } {
  const t = targetDefaults(opts);
  return { endpoint: t.endpoint, region: t.region, credentials: resolveCredentials({ dataDir: t.dataDir, ...(t.profile === undefined ? {} : { profile: t.profile }) }) };
}

/**
 * Wraps a command's action: a returned number becomes the exit status; an error is printed as one line after
 * `prefix` (e.g. "kiln images export") and exits with its CliError status, else 1.
 */
export function cliAction<A extends unknown[]>(prefix: string, fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      process.stderr.write(`${prefix}: ${describeCliError(err)}\n`);
      process.exitCode = err instanceof CliError ? err.exitCode : EXIT.FAILURE;
    }
  };
}
