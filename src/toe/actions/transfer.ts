import { createHash, randomBytes } from 'node:crypto';
import { posix, win32 } from 'node:path';
import type { Instance } from '../instance/instance.js';
import { ActionFailure, type ActionContext } from './types.js';

/** Path rules of the instance's platform, not of the host Kiln runs on. */
export function pathsFor(instance: Instance): typeof posix {
  return instance.platform === 'windows' ? win32 : posix;
}

/** Resolves a path from a document against the step's working directory, as the instance sees it. */
export function instancePath(context: ActionContext, path: string): string {
  const paths = pathsFor(context.instance);
  return paths.isAbsolute(path) ? paths.normalize(path) : paths.resolve(context.workDir, path);
}

/** True when a destination as written names a folder (ends with a separator). */
export function namesFolder(instance: Instance, path: string): boolean {
  return path.endsWith('/') || (instance.platform === 'windows' && path.endsWith('\\'));
}

/** Compiles a file-name wildcard into an anchored regex; AWSTOE documents only `*`, so `?` stays literal. */
export function wildcardRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${body}$`, 's');
}

/** Node hash names of the AWSTOE checksum algorithms. */
export const HASH_NAMES: Readonly<Record<string, string>> = { MD5: 'md5', SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' };

/** Hex digest length of each algorithm, to reject a checksum that cannot match before downloading anything. */
export const HASH_HEX_LENGTHS: Readonly<Record<string, number>> = { MD5: 32, SHA1: 40, SHA256: 64, SHA512: 128 };

/** Bytes kept in memory before they are appended to the instance file: few round trips, bounded memory. */
const FLUSH_BYTES = 8 * 1024 * 1024;

/** Optional verification of a streamed file before it replaces the destination. */
export interface StreamWriteOptions {
  /** Hash the bytes with this node algorithm and hand the hex digest to `verify`. */
  hashName?: string;
  /** Returns a failure message to discard the file instead of keeping it. */
  verify?: (hexDigest: string) => string | undefined;
}

/**
 * Streams bytes into a file on the instance. They land in a hidden sibling first and are renamed over the
 * destination only once complete and verified, so a failed or rejected transfer never leaves a partial file.
 */
export async function writeStreamToInstance(
  instance: Instance,
  destination: string,
  chunks: AsyncIterable<Uint8Array>,
  options: StreamWriteOptions = {},
): Promise<number> {
  const paths = pathsFor(instance);
  const staging = paths.join(
    paths.dirname(destination),
    `.${paths.basename(destination)}.kiln-partial-${randomBytes(4).toString('hex')}`,
  );
  const hash = options.hashName === undefined ? undefined : createHash(options.hashName);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let total = 0;
  let created = false;
  const flush = async () => {
    const data = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    if (created) {
      await instance.fs.appendFile(staging, data);
    } else {
      await instance.fs.writeFile(staging, data);
      created = true;
    }
  };
  try {
    for await (const chunk of chunks) {
      const buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      hash?.update(buffer);
      pending.push(buffer);
      pendingBytes += buffer.length;
      total += buffer.length;
      if (pendingBytes >= FLUSH_BYTES) await flush();
    }
    if (!created || pendingBytes > 0) await flush();
    if (hash !== undefined && options.verify !== undefined) {
      const message = options.verify(hash.digest('hex'));
      if (message !== undefined) throw new ActionFailure(message);
    }
    await instance.fs.rename(staging, destination);
    return total;
  } catch (err) {
    if (created) await instance.fs.rm(staging, { force: true }).catch(() => undefined);
    throw err;
  }
}

/** Hex digest of a file already on the instance. */
export async function hashInstanceFile(instance: Instance, path: string, hashName: string): Promise<string> {
  return createHash(hashName).update(await instance.fs.readFile(path)).digest('hex');
}

/** The message of an error and of its causes, which is where fetch and the SDK keep the useful part. */
export function errorChain(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    const message = current instanceof Error ? current.message : String(current);
    if (message && !parts.includes(message)) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ');
}

/** Resolves after `ms`, or rejects as soon as the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
