/**
 * Machine-image disks in an S3-compatible bucket, so that any node of a cluster can build from, boot and export
 * any machine image; each node keeps the disks it uses in a local cache (its data directory's `disks/`, the
 * embedded store's layout) with its own garbage collection.
 *
 * - Objects: `<prefix>disks/sha256/<hex>.raw.zst`, the raw disk as a zstd stream (disk-stream.ts: holes cost
 *   nothing, a fetched disk lands sparse), uploaded in parts as zstd produces them, the raw size in its
 *   metadata. The digest is the raw disk's (hashFile), as in the embedded store, so records do not change; a
 *   fetched disk is hashed as it is written, and used only if it matches.
 * - The cache: a disk enters on adopt (the one just built) or on first acquire; beyond `cacheLimitBytes` of
 *   allocated blocks, the least recently used disks go, never one held (acquired and not released) nor one
 *   any process has open (a VM, a kept instance) or a loop device reads.
 */
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { KilnError } from '../../domain/errors.js';
import { digestHex } from '../blob-store.js';
import { compressDisk, decompressDisk } from '../disk/disk-stream.js';
import { type DiskLease, type DiskStore, type LocalDiskStore, type StoredDisk } from '../disk/disk-store.js';
import { filesInUseUnder } from '../disk/open-files.js';
import { multipartPut } from './multipart-put.js';

const SUFFIX = '.raw.zst';
const SIZE_META = 'raw-size';

export interface S3DiskStoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix of everything Kiln writes, e.g. `kiln/` (default: none). */
  prefix?: string;
  /** This node's cache: the data directory's `disks/`. */
  cache: LocalDiskStore;
  /** Allocated bytes the cache may hold before it evicts; a disk in use stays even beyond it. */
  cacheLimitBytes: number;
  /** Upload part size (default multipart-put's). */
  partBytes?: number;
  /** Fetches, uploads and evictions, one line each. */
  log?: (text: string) => void;
  /** Told of an upload or partial file a failure could not remove (default: a process warning naming it). */
  onLeak?: (what: string, err: unknown) => void;
}

/** What one cache collection did. */
export interface CacheTrim {
  evicted: string[];
  freedBytes: number;
  /** Allocated bytes left in the cache. */
  keptBytes: number;
  /** Disks kept only because they were in use. */
  inUse: number;
}

const isMissing = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
};

export class S3DiskStore implements DiskStore {
  private readonly holds = new Map<string, number>();
  private readonly fetches = new Map<string, Promise<void>>();
  /** Serialises "is it held / present" checks with evictions, so a disk is never handed out while being removed. */
  private gate: Promise<unknown> = Promise.resolve();
  private trimming: Promise<CacheTrim> | undefined;
  private readonly onLeak: (what: string, err: unknown) => void;

  constructor(private readonly options: S3DiskStoreOptions) {
    this.onLeak = options.onLeak ?? ((what, err) => process.emitWarning(`disk store: could not remove ${what}: ${String(err)}`));
  }

  private get keyPrefix(): string {
    return `${this.options.prefix ?? ''}disks/sha256/`;
  }

  /** The object key of a disk. */
  key(digest: string): string {
    return `${this.keyPrefix}${digestHex(digest)}${SUFFIX}`;
  }

  /** A cached disk's path relative to the cache folder, as filesInUseUnder reports it. */
  private cacheName(digest: string): string {
    return path.relative(this.options.cache.root, this.options.cache.path(digest));
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.gate.then(fn, fn);
    this.gate = run.catch(() => undefined);
    return run;
  }

  private hold(digest: string): () => void {
    this.holds.set(digest, (this.holds.get(digest) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.holds.get(digest) ?? 1) - 1;
      if (n > 0) this.holds.set(digest, n);
      else this.holds.delete(digest);
    };
  }

  private async head(digest: string): Promise<{ bytes: number; rawSize: number; storedAt: number } | undefined> {
    try {
      const h = await this.options.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.key(digest) }));
      return { bytes: h.ContentLength ?? 0, rawSize: Number(h.Metadata?.[SIZE_META] ?? 0), storedAt: h.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** The bytes the bucket holds for a disk (its compressed stream), or undefined when it is not stored. */
  async storedBytes(digest: string): Promise<number | undefined> {
    return (await this.head(digest))?.bytes;
  }

  async has(digest: string): Promise<boolean> {
    return (await this.head(digest)) !== undefined;
  }

  async adopt(file: string, signal?: AbortSignal): Promise<StoredDisk> {
    const stored = await this.options.cache.adopt(file, signal);
    const release = this.hold(stored.digest);
    try {
      if (!(await this.has(stored.digest))) await this.upload(stored, signal);
    } finally {
      release();
    }
    await this.trimCache();
    return stored;
  }

  private async upload(disk: StoredDisk, signal?: AbortSignal): Promise<void> {
    const t0 = Date.now();
    const { size, parts } = await multipartPut({
      client: this.options.client,
      bucket: this.options.bucket,
      key: this.key(disk.digest),
      body: compressDisk(this.options.cache.path(disk.digest), signal),
      metadata: { [SIZE_META]: String(disk.sizeBytes) },
      onLeak: this.onLeak,
      ...(signal ? { signal } : {}),
      ...(this.options.partBytes ? { partBytes: this.options.partBytes } : {}),
    });
    this.options.log?.(`disk ${disk.digest} uploaded: ${size} bytes for ${disk.sizeBytes} raw, ${Math.max(parts, 1)} part(s), ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }

  async acquire(digest: string, signal?: AbortSignal): Promise<DiskLease> {
    const cache = this.options.cache;
    const { release, present } = await this.exclusive(async () => ({ release: this.hold(digest), present: await cache.has(digest) }));
    try {
      if (!present) await this.fetchShared(digest, signal);
      const file = cache.path(digest);
      // The access time is the cache's "last used": set here, whatever the file system's atime policy.
      const st = await fsp.stat(file);
      await fsp.utimes(file, new Date(), st.mtime);
      if (!present) await this.trimCache();
      return { path: file, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /**
   * Waits for the disk's fetch; one that ends because the acquirer that started it gave up (its signal) is
   * started again for a waiter still wanting the disk.
   */
  private async fetchShared(digest: string, signal?: AbortSignal): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fetchOnce(digest, signal);
      } catch (err) {
        const cancelled = (err as { name?: string; kind?: string }).name === 'AbortError' || (err as { kind?: string }).kind === 'Cancelled';
        if (!cancelled || signal?.aborted || attempt >= 3) throw err;
      }
    }
  }

  /** One fetch per disk at a time: concurrent acquires of a disk not cached yet wait for the same download. */
  private fetchOnce(digest: string, signal?: AbortSignal): Promise<void> {
    let fetching = this.fetches.get(digest);
    if (!fetching) {
      fetching = this.fetch(digest, signal).finally(() => this.fetches.delete(digest));
      this.fetches.set(digest, fetching);
    }
    return fetching;
  }

  private async fetch(digest: string, signal?: AbortSignal): Promise<void> {
    const cache = this.options.cache;
    const target = cache.path(digest);
    await fsp.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    const partial = `${target}.${randomBytes(4).toString('hex')}.partial`;
    const t0 = Date.now();
    let body: Readable;
    try {
      body = (await this.options.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.key(digest) }), { abortSignal: signal })).Body as Readable;
    } catch (err) {
      if (isMissing(err)) throw new KilnError('NotFound', `the disk ${digest} is not in the object store`, [], { cause: err });
      throw err;
    }
    try {
      const { digest: got } = await decompressDisk(body, partial, signal);
      if (got !== digest) throw new KilnError('Internal', `the disk ${digest} in the object store holds ${got}: not used`);
      await fsp.chmod(partial, 0o444);
      await fsp.rename(partial, target);
      const st = await fsp.stat(target);
      this.options.log?.(`disk ${digest} fetched: ${st.size} bytes raw, ${st.blocks * 512} allocated, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    } finally {
      body.destroy();
      await fsp.rm(partial, { force: true }).catch((err: unknown) => this.onLeak(`partial disk ${path.basename(partial)}`, err));
    }
  }

  /** Removes the partial files of fetches a killed process left in the cache; returns how many. */
  async removePartials(): Promise<number> {
    const folder = path.join(this.options.cache.root, 'sha256');
    const names = (await fsp.readdir(folder).catch(() => [] as string[])).filter((n) => n.endsWith('.partial'));
    for (const name of names) await fsp.rm(path.join(folder, name), { force: true });
    return names.length;
  }

  async list(): Promise<StoredDisk[]> {
    const out: StoredDisk[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await this.options.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: this.keyPrefix, ContinuationToken }));
      for (const o of page.Contents ?? []) {
        const name = o.Key!.slice(this.keyPrefix.length);
        if (!/^[0-9a-f]{64}\.raw\.zst$/.test(name)) continue;
        const digest = `sha256:${name.slice(0, 64)}` as const;
        const head = await this.head(digest);
        if (head) out.push({ digest, sizeBytes: head.rawSize });
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return out.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  }

  async storedAt(digest: string): Promise<number | undefined> {
    return (await this.head(digest))?.storedAt;
  }

  /** Deletes the object, and this node's copy unless it is in use (the cache collection takes it later). */
  async remove(digest: string): Promise<{ bytes: number }> {
    const head = await this.head(digest);
    if (head) await this.options.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.key(digest) }));
    const inUse = await filesInUseUnder(this.options.cache.root);
    await this.exclusive(async () => {
      if (!this.holds.has(digest) && !inUse.has(this.cacheName(digest))) await this.options.cache.remove(digest);
    });
    return { bytes: head?.bytes ?? 0 };
  }

  /**
   * Evicts least recently used disks until the cache is within its limit, sparing disks in use; concurrent
   * calls share one collection.
   */
  trimCache(): Promise<CacheTrim> {
    this.trimming ??= this.trim().finally(() => (this.trimming = undefined));
    return this.trimming;
  }

  private async trim(): Promise<CacheTrim> {
    const cache = this.options.cache;
    const entries: { digest: string; bytes: number; lastUse: number }[] = [];
    for (const disk of await cache.list()) {
      const st = await fsp.stat(cache.path(disk.digest)).catch(() => undefined);
      if (st) entries.push({ digest: disk.digest, bytes: st.blocks * 512, lastUse: st.atimeMs });
    }
    const result: CacheTrim = { evicted: [], freedBytes: 0, keptBytes: entries.reduce((n, e) => n + e.bytes, 0), inUse: 0 };
    if (result.keptBytes <= this.options.cacheLimitBytes) return result;
    const inUse = await filesInUseUnder(cache.root);
    entries.sort((a, b) => a.lastUse - b.lastUse);
    for (const e of entries) {
      if (result.keptBytes <= this.options.cacheLimitBytes) break;
      const evicted = await this.exclusive(async () => {
        if (this.holds.has(e.digest) || inUse.has(this.cacheName(e.digest))) return false;
        await cache.remove(e.digest);
        return true;
      });
      if (!evicted) {
        result.inUse++;
        continue;
      }
      result.evicted.push(e.digest);
      result.freedBytes += e.bytes;
      result.keptBytes -= e.bytes;
    }
    if (result.evicted.length > 0) this.options.log?.(`disk cache: evicted ${result.evicted.length} disk(s), ${result.freedBytes} bytes; ${result.keptBytes} bytes kept${result.inUse ? `, ${result.inUse} in use` : ''}\n`);
    return result;
  }
}
