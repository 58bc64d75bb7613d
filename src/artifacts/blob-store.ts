/**
 * The content-addressed blob store: image layers, configs and manifests, each kept once under its sha256
 * digest. Every implementation must pass the conformance suite in ./testsuite/. A blob appears under its
 * digest only when it is complete and verified, so readers never see a partial blob.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { KilnError } from '../domain/errors.js';

/** `sha256:<64 lowercase hex>`, the only algorithm Kiln writes. */
export type Digest = `sha256:${string}`;

/** A stored blob's identity. */
export interface BlobInfo {
  digest: Digest;
  size: number;
}

export interface PutOptions {
  /** When given, the content must hash to it, or the put fails with InvalidArgument and stores nothing. */
  expectedDigest?: string;
  /** When given, the content must have exactly this many bytes. */
  expectedSize?: number;
  signal?: AbortSignal;
}

/** Content to store: a buffer, or any byte stream (a Readable, an async generator). */
export type BlobSource = Uint8Array | AsyncIterable<Uint8Array>;

export interface BlobStore {
  /**
   * Stores content and returns its digest and size. Storing content that is already present succeeds and
   * keeps one copy; concurrent puts of the same content are safe. A failing or aborted source stores nothing.
   */
  put(source: BlobSource, options?: PutOptions): Promise<BlobInfo>;
  has(digest: string): Promise<boolean>;
  /** Size of a stored blob, or undefined when absent. */
  stat(digest: string): Promise<BlobInfo | undefined>;
  /** A read stream over the blob (optionally the inclusive byte range start..end); NotFound when absent. */
  open(digest: string, range?: { start?: number; end?: number }): Promise<NodeJS.ReadableStream & AsyncIterable<Buffer>>;
  /** The whole blob in memory, for small blobs such as manifests and configs; NotFound when absent. */
  get(digest: string): Promise<Buffer>;
  /** Removes a blob; false when it was not there. Readers that already opened it keep reading. */
  delete(digest: string): Promise<boolean>;
  /** Every stored blob, in digest order. */
  list(): Promise<BlobInfo[]>;
  /**
   * When a blob was last stored (ms since the epoch), or undefined when absent: garbage collection spares young
   * blobs, which a push or build may be about to reference.
   */
  storedAt(digest: string): Promise<number | undefined>;
  /** Resolves once the store can be reached (its directory is there, its bucket answers); rejects otherwise (readiness probes). */
  ping(): Promise<void>;
}

const DIGEST_RE = /^sha256:([0-9a-f]{64})$/;

/** The hex part of a valid digest; InvalidArgument otherwise (this also keeps paths out of the store). */
export function digestHex(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m?.[1]) throw new KilnError('InvalidArgument', `not a sha256 digest: ${JSON.stringify(digest)}`);
  return m[1];
}

export function isDigest(value: string): value is Digest {
  return DIGEST_RE.test(value);
}

/** The digest of a buffer, as the store would compute it. */
export function digestOf(data: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

const TMP_PREFIX = '.tmp-';
const WRITE_BATCH = 1 << 20;

/**
 * Blobs as files `<root>/sha256/<hex>`. Writes go to a temp file in the same folder, are fsynced and then
 * renamed into place, so a crash leaves at most a temp file (removed by removeStaleTemp) and never a partial
 * blob under a digest. Two writers of the same content both rename identical bytes, which is harmless.
 */
export class FsBlobStore implements BlobStore {
  private readonly dir: string;

  constructor(readonly root: string) {
    this.dir = path.join(root, 'sha256');
  }

  /** The file holding a blob, for callers that can hard-link or hand a path to a tool. */
  pathOf(digest: string): string {
    return path.join(this.dir, digestHex(digest));
  }

  async put(source: BlobSource, options: PutOptions = {}): Promise<BlobInfo> {
    if (options.expectedDigest !== undefined) digestHex(options.expectedDigest);
    options.signal?.throwIfAborted();
    await fsp.mkdir(this.dir, { recursive: true });
    const tmp = path.join(this.dir, `${TMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    // Private: blobs of private images sit here (the data directory's 0700 is the first guard).
    const fh = await fsp.open(tmp, 'wx', 0o600);
    let committed = false;
    try {
      if (source instanceof Uint8Array) {
        hash.update(source);
        size = source.byteLength;
        await fh.writeFile(source);
      } else {
        // Tar streams yield many 512-byte headers; one write per chunk would be a syscall each.
        let pending: Uint8Array[] = [];
        let pendingBytes = 0;
        for await (const chunk of source) {
          options.signal?.throwIfAborted();
          hash.update(chunk);
          size += chunk.byteLength;
          if (chunk.byteLength >= WRITE_BATCH / 16) {
            if (pending.length > 0) await writeAll(fh, Buffer.concat(pending));
            pending = [];
            pendingBytes = 0;
            await writeAll(fh, chunk);
            continue;
          }
          pending.push(chunk);
          pendingBytes += chunk.byteLength;
          if (pendingBytes >= WRITE_BATCH) {
            await writeAll(fh, Buffer.concat(pending));
            pending = [];
            pendingBytes = 0;
          }
        }
        if (pending.length > 0) await writeAll(fh, Buffer.concat(pending));
      }
      options.signal?.throwIfAborted();
      const digest: Digest = `sha256:${hash.digest('hex')}`;
      if (options.expectedDigest !== undefined && options.expectedDigest !== digest) {
        throw new KilnError('InvalidArgument', `blob content is ${digest}, expected ${options.expectedDigest}`);
      }
      if (options.expectedSize !== undefined && options.expectedSize !== size) {
        throw new KilnError('InvalidArgument', `blob ${digest} has ${size} bytes, expected ${options.expectedSize}`);
      }
      await fh.sync();
      await fh.close();
      const final = this.pathOf(digest);
      if (await exists(final)) {
        await fsp.rm(tmp, { force: true });
      } else {
        await fsp.rename(tmp, final);
        await syncDir(this.dir);
      }
      committed = true;
      return { digest, size };
    } finally {
      if (!committed) {
        await fh.close().catch(() => undefined);
        await fsp.rm(tmp, { force: true });
      }
    }
  }

  async has(digest: string): Promise<boolean> {
    return (await this.stat(digest)) !== undefined;
  }

  async stat(digest: string): Promise<BlobInfo | undefined> {
    const file = this.pathOf(digest);
    try {
      const st = await fsp.stat(file);
      return { digest: digest as Digest, size: st.size };
    } catch (err) {
      if (isEnoent(err)) return undefined;
      throw err;
    }
  }

  async open(digest: string, range: { start?: number; end?: number } = {}): Promise<ReadStream> {
    // Open the descriptor first, so a missing blob is a NotFound here rather than a stream error later.
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(this.pathOf(digest), 'r');
    } catch (err) {
      if (isEnoent(err)) throw notFound(digest);
      throw err;
    }
    return fh.createReadStream({ start: range.start, end: range.end });
  }

  async get(digest: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.pathOf(digest));
    } catch (err) {
      if (isEnoent(err)) throw notFound(digest);
      throw err;
    }
  }

  async delete(digest: string): Promise<boolean> {
    try {
      await fsp.unlink(this.pathOf(digest));
      return true;
    } catch (err) {
      if (isEnoent(err)) return false;
      throw err;
    }
  }

  async storedAt(digest: string): Promise<number | undefined> {
    return (await fsp.stat(this.pathOf(digest)).catch(() => undefined))?.mtimeMs;
  }

  /** The root must be a directory this process can write (a lost mount or a read-only remount fails it). */
  async ping(): Promise<void> {
    await fsp.access(this.root, fsp.constants.R_OK | fsp.constants.W_OK | fsp.constants.X_OK);
    if (!(await fsp.stat(this.root)).isDirectory()) throw new KilnError('InvalidArgument', 'the blob store root is not a directory');
  }

  async list(): Promise<BlobInfo[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (err) {
      if (isEnoent(err)) return [];
      throw err;
    }
    const out: BlobInfo[] = [];
    for (const name of names.sort()) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      const info = await this.stat(`sha256:${name}`);
      if (info) out.push(info);
    }
    return out;
  }

  /** Removes temp files older than maxAgeMs, left by writers that crashed; returns how many. */
  async removeStaleTemp(maxAgeMs = 60 * 60 * 1000): Promise<number> {
    // Before the listing, which may take a while: a file a writer starts meanwhile is never counted as stale.
    const cutoff = Date.now() - maxAgeMs;
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (err) {
      if (isEnoent(err)) return 0;
      throw err;
    }
    let removed = 0;
    for (const name of names) {
      if (!name.startsWith(TMP_PREFIX)) continue;
      const file = path.join(this.dir, name);
      const st = await fsp.stat(file).catch(() => undefined);
      if (st && st.mtimeMs <= cutoff) {
        await fsp.rm(file, { force: true });
        removed++;
      }
    }
    return removed;
  }
}

function notFound(digest: string): KilnError {
  return new KilnError('NotFound', `blob ${digest} not found`);
}

function isEnoent(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}

/** write(2) may write less than asked (a full disk shows up on the next call); loop until all is written. */
async function writeAll(fh: fsp.FileHandle, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) {
    const { bytesWritten } = await fh.write(data, offset, data.byteLength - offset);
    offset += bytesWritten;
  }
}

/** Makes a rename durable: the directory entry itself must reach the disk. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
