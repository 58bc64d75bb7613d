import * as http from 'node:http';
import * as https from 'node:https';
import type { Issue } from '../../domain/errors.js';
import { hasTemplate, isRecord } from './fields.js';
import {
  HASH_HEX_LENGTHS,
  HASH_NAMES,
  errorChain,
  hashInstanceFile,
  instancePath,
  namesFolder,
  pathsFor,
  sleep,
  writeStreamToInstance,
} from './transfer.js';
import { ActionFailure, type ActionContext, type ActionModule, type FieldSpec } from './types.js';

/** Tuning of the download retries; tests shorten the delay. */
export interface WebDownloadOptions {
  /** Tries per download (AWSTOE: 5). */
  attempts?: number;
  /** First back-off delay, doubled after each failed try. */
  retryDelayMs?: number;
}

interface WebDownloadItem {
  source: string;
  destination: string;
  overwrite: boolean;
  checksum?: string;
  algorithm?: string;
  ignoreCertificateErrors: boolean;
}

const ALGORITHMS = ['MD5', 'SHA1', 'SHA256', 'SHA512'] as const;
const MAX_REDIRECTS = 10;

function checkHttpUrl(value: unknown): string | undefined {
  try {
    const url = new URL(String(value));
    if (url.protocol === 'http:' || url.protocol === 'https:') return undefined;
  } catch {
    // fall through to the message
  }
  return `must be an http:// or https:// URL, got ${JSON.stringify(value)}`;
}

const checkNonEmpty = (value: unknown): string | undefined =>
  String(value).trim() === '' ? 'must not be empty' : undefined;

const fields: Record<string, FieldSpec> = {
  source: { type: 'string', required: true, check: checkHttpUrl },
  destination: { type: 'string', required: true, check: checkNonEmpty },
  overwrite: { type: 'boolean', default: true },
  checksum: { type: 'string', check: (v) => (/^[0-9a-f]+$/i.test(String(v).trim()) ? undefined : 'must be a hex digest') },
  algorithm: { type: 'string', enum: ALGORITHMS },
  ignoreCertificateErrors: { type: 'boolean', default: false },
};

/** Checks that need two fields: AWSTOE verifies only when checksum and algorithm come together. */
function crossCheck(item: unknown, path: string): Issue[] {
  if (!isRecord(item)) return [];
  const { checksum, algorithm } = item;
  const hasChecksum = checksum !== undefined && checksum !== null;
  const hasAlgorithm = algorithm !== undefined && algorithm !== null;
  if (hasChecksum !== hasAlgorithm) {
    const missing = hasChecksum ? 'algorithm' : 'checksum';
    return [{ path: `${path}.${missing}`, message: 'checksum and algorithm must be given together' }];
  }
  if (!hasChecksum || hasTemplate(checksum) || hasTemplate(algorithm)) return [];
  const canonical = ALGORITHMS.find((a) => a.toLowerCase() === String(algorithm).toLowerCase());
  const length = canonical === undefined ? undefined : HASH_HEX_LENGTHS[canonical];
  const digest = String(checksum).trim();
  if (length !== undefined && /^[0-9a-f]+$/i.test(digest) && digest.length !== length) {
    return [{ path: `${path}.checksum`, message: `a ${canonical} checksum has ${length} hex digits, got ${digest.length}` }];
  }
  return [];
}

interface HttpResponse {
  status: number;
  statusText: string;
  chunks: AsyncIterable<Uint8Array>;
  /** Releases the connection when the body is not wanted. */
  discard(): void;
}

async function* readerChunks(body: ReadableStream<Uint8Array> | null): AsyncGenerator<Uint8Array> {
  if (body === null) return;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

async function openWithFetch(url: string, signal: AbortSignal): Promise<HttpResponse> {
  const response = await fetch(url, { signal, redirect: 'follow' });
  return {
    status: response.status,
    statusText: response.statusText,
    chunks: readerChunks(response.body),
    discard: () => void response.body?.cancel().catch(() => undefined),
  };
}

/** fetch cannot skip certificate checks without undici's Agent, so that one case uses node:https. */
function openInsecure(url: string, signal: AbortSignal, redirectsLeft = MAX_REDIRECTS): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const client = target.protocol === 'https:' ? https : http;
    const request = client.get(target, { signal, rejectUnauthorized: false }, (response) => {
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && location !== undefined) {
        response.resume();
        if (redirectsLeft <= 0) {
          reject(new Error(`too many redirects (more than ${MAX_REDIRECTS})`));
          return;
        }
        openInsecure(new URL(location, target).href, signal, redirectsLeft - 1).then(resolve, reject);
        return;
      }
      resolve({
        status,
        statusText: response.statusMessage ?? '',
        chunks: response,
        discard: () => response.destroy(),
      });
    });
    request.on('error', reject);
  });
}

const LOCAL_ERRORS = new Set(['EACCES', 'EPERM', 'ENOSPC', 'EROFS', 'EDQUOT', 'ENOTDIR', 'EISDIR', 'ENOENT', 'ENAMETOOLONG']);

/** Statuses worth another try: the server or a proxy may recover; a 4xx will not. */
const retryable = (status: number): boolean => status >= 500 || status === 408 || status === 429;

/** The file name a folder destination gets: the last segment of the URL path. */
function fileNameFromUrl(source: string): string | undefined {
  const segments = new URL(source).pathname.split('/');
  let name = segments[segments.length - 1] ?? '';
  try {
    name = decodeURIComponent(name);
  } catch {
    // keep the raw segment when it is not valid percent-encoding
  }
  if (name === '' || name === '.' || name === '..' || /[/\\]/.test(name)) return undefined;
  return name;
}

async function downloadOne(
  item: WebDownloadItem,
  index: number,
  context: ActionContext,
  options: Required<WebDownloadOptions>,
): Promise<string> {
  const { instance, signal, log } = context;
  const where = `inputs[${index}]`;
  let destination = item.destination;
  if (namesFolder(instance, destination)) {
    const name = fileNameFromUrl(item.source);
    if (name === undefined) {
      throw new ActionFailure(
        `${where}: cannot take a file name from ${item.source}; give a file path as destination instead of a folder`,
      );
    }
    destination += name;
  }
  const target = instancePath(context, destination);
  const hashName = item.algorithm === undefined ? undefined : HASH_NAMES[item.algorithm];
  const expected = item.checksum?.trim().toLowerCase();

  const existing = await instance.fs.stat(target);
  if (existing?.type === 'directory') {
    throw new ActionFailure(`${where}: destination ${target} is a folder; end the destination with / to download into it`);
  }
  if (existing !== null) {
    if (!item.overwrite) {
      throw new ActionFailure(`${where}: ${target} already exists and overwrite is false; ${item.source} not downloaded`);
    }
    // AWSTOE skips the download when the file already there has the expected checksum.
    if (hashName !== undefined && (await hashInstanceFile(instance, target, hashName)) === expected) {
      log.info(`${target} already matches the ${item.algorithm} checksum; not downloading ${item.source} again`);
      return destination;
    }
  }
  const folder = pathsFor(instance).dirname(target);
  try {
    await instance.fs.mkdir(folder, { recursive: true });
  } catch (err) {
    throw new ActionFailure(`${where}: cannot create folder ${folder} for ${item.source}: ${errorChain(err)}`);
  }

  log.info(`Downloading ${item.source} to ${target}`);
  let lastError = '';
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    if (attempt > 1) {
      const delay = options.retryDelayMs * 2 ** (attempt - 2);
      log.info(`Retrying ${item.source} in ${delay} ms (attempt ${attempt} of ${options.attempts}): ${lastError}`);
      await sleep(delay, signal);
    }
    let response: HttpResponse;
    try {
      response =
        item.ignoreCertificateErrors && item.source.startsWith('https:')
          ? await openInsecure(item.source, signal)
          : await openWithFetch(item.source, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      lastError = errorChain(err);
      continue;
    }
    // AWSTOE treats every status except 200 as an error.
    if (response.status !== 200) {
      response.discard();
      lastError = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
      if (!retryable(response.status)) break;
      continue;
    }
    try {
      const bytes = await writeStreamToInstance(instance, target, response.chunks, {
        ...(hashName === undefined ? {} : { hashName }),
        verify: (digest) =>
          digest === expected
            ? undefined
            : `${where}: ${item.algorithm} checksum of ${item.source} is ${digest}, expected ${expected}; file discarded`,
      });
      log.debug(`Downloaded ${bytes} bytes from ${item.source} to ${target}`);
      return destination;
    } catch (err) {
      response.discard();
      if (err instanceof ActionFailure || signal.aborted) throw err;
      // Writing into the instance failed (permissions, full disk...): another try would fail the same way.
      if (LOCAL_ERRORS.has((err as NodeJS.ErrnoException).code ?? '')) {
        throw new ActionFailure(`${where}: cannot write ${target} for ${item.source}: ${errorChain(err)}`);
      }
      lastError = errorChain(err);
    }
  }
  throw new ActionFailure(`${where}: download of ${item.source} failed: ${lastError}`);
}

/** Builds the WebDownload module; `options` only tunes retries. */
export function createWebDownload(options: WebDownloadOptions = {}): ActionModule {
  const tuning: Required<WebDownloadOptions> = {
    attempts: Math.max(1, options.attempts ?? 5),
    retryDelayMs: Math.max(0, options.retryDelayMs ?? 1000),
  };
  return {
    name: 'WebDownload',
    platforms: ['linux', 'windows', 'macos'],
    inputShape: 'list',
    fields,
    validate(inputs, path) {
      return Array.isArray(inputs) ? inputs.flatMap((item, i) => crossCheck(item, `${path}[${i}]`)) : [];
    },
    async run(inputs, context) {
      const items = inputs as WebDownloadItem[];
      const issues = items.flatMap((item, i) => crossCheck(item, `inputs[${i}]`));
      if (issues.length > 0) throw new ActionFailure(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
      const destinations: string[] = [];
      for (const [index, item] of items.entries()) {
        destinations.push(await downloadOne(item, index, context, tuning));
      }
      return { outputs: { destination: destinations.join('\n') } };
    },
  };
}

/** WebDownload: downloads http(s) resources into the instance, with optional checksum verification. */
export const webDownload: ActionModule = createWebDownload();
