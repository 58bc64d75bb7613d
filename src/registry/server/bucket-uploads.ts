/**
 * Blob upload sessions in a bucket every API node shares, so a client behind a load balancer may start an
 * upload on one node, send its chunks through others and close it on any:
 *
 *   <prefix>registry-uploads/<uuid>/session                  {repository, accountId}: who may continue it
 *   <prefix>registry-uploads/<uuid>/chunk/<offset, 15 digits> the data, in pieces of at most 8 MiB
 *
 * A sha256 in progress cannot be saved and resumed on another node, so nothing is hashed on the way: the
 * closing PUT streams the pieces in order through `BlobStore.put`, which hashes them, refuses a wrong digest
 * and regroups them into parts of its own size. That reads the data once more (bucket to node), the price of
 * taking chunks of any size: one S3 multipart upload per session would need every chunk but the last to be at
 * least 5 MiB, which clients do not promise, and would still need the digest at the end. The session's size is
 * where the contiguous pieces end, found by listing, so no node keeps state between requests. Two chunks sent
 * to one session at the same time (which clients do not do) are not detected across nodes.
 *
 * Abandoned sessions (untouched for `idleMs`, 1 h by default) are deleted by `sweep`: at the registry's start
 * and then at most once a minute when a session starts, by whichever node starts one.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { ObjectBucket } from '../../artifacts/s3/object-bucket.js';
import type { BlobInfo, BlobStore } from '../../artifacts/blob-store.js';
import { isKilnError } from '../../domain/errors.js';
import { RegistryError } from './errors.js';
import { uploadRange, type UploadSession, type UploadSessionStore } from './uploads.js';

const SESSION = 'session';
const CHUNKS = 'chunk/';
const OFFSET_DIGITS = 15;
/** The largest piece a PATCH is stored in: what a node holds in memory per request. */
const PIECE_BYTES = 8 * 1024 * 1024;
const SWEEP_EVERY_MS = 60 * 1000;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface BucketUploadOptions {
  /** The bucket, its prefix already including `registry-uploads/`. */
  bucket: ObjectBucket;
  /** A session untouched for this long is abandoned (default 1 h). */
  idleMs?: number;
  /** Milliseconds since the epoch (tests move it). */
  now?: () => number;
  /** Told of a session's objects that could not be deleted (default: a process warning naming them). */
  onLeak?: (what: string, err: unknown) => void;
}

interface SessionRecord {
  repository: string;
  accountId: string;
}

const pieceKey = (id: string, offset: number) => `${id}/${CHUNKS}${String(offset).padStart(OFFSET_DIGITS, '0')}`;

export class BucketUploadSessions implements UploadSessionStore {
  private readonly bucket: ObjectBucket;
  private readonly idleMs: number;
  private readonly now: () => number;
  private readonly onLeak: (what: string, err: unknown) => void;
  private lastSweep = 0;

  constructor(options: BucketUploadOptions) {
    this.bucket = options.bucket;
    this.idleMs = options.idleMs ?? 60 * 60 * 1000;
    this.now = options.now ?? Date.now;
    this.onLeak = options.onLeak ?? ((what, err) => process.emitWarning(`registry uploads: could not remove ${what}: ${String(err)}`));
  }

  /**
   * Deletes every session whose newest object is older than the idle time. A failure is reported (onLeak) and
   * not thrown: the registry serves all the same, and the next sweep tries again.
   */
  async sweep(): Promise<void> {
    await this.sweepIdle().catch((err: unknown) => this.onLeak('abandoned upload sessions (the sweep failed)', err));
  }

  /** The sweep, returning the ids of the sessions it deleted. */
  async sweepIdle(): Promise<string[]> {
    this.lastSweep = this.now();
    const newest = new Map<string, number>();
    for (const o of await this.bucket.list()) {
      const id = o.key.slice(0, o.key.indexOf('/'));
      newest.set(id, Math.max(newest.get(id) ?? 0, o.lastModified));
    }
    const cutoff = this.now() - this.idleMs;
    const swept: string[] = [];
    for (const [id, last] of newest) {
      if (last >= cutoff) continue;
      await this.remove(id);
      swept.push(id);
    }
    return swept;
  }

  async start(repository: string, accountId: string): Promise<UploadSession> {
    if (this.now() - this.lastSweep >= SWEEP_EVERY_MS) {
      // In the background: a slow listing must not hold up the client's POST.
      void this.sweep();
    }
    const id = randomUUID();
    const record: SessionRecord = { repository, accountId };
    await this.bucket.put(`${id}/${SESSION}`, Buffer.from(JSON.stringify(record)));
    return { id, repository, accountId, size: 0 };
  }

  async get(id: string, repository: string, accountId: string): Promise<UploadSession> {
    const unknown = () => new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${id} is not in progress in repository ${repository}`, { uuid: id });
    if (!UUID_RE.test(id)) throw unknown();
    const raw = await this.bucket.get(`${id}/${SESSION}`);
    if (!raw) throw unknown();
    const record = JSON.parse(raw.toString('utf8')) as SessionRecord;
    if (record.repository !== repository || record.accountId !== accountId) throw unknown();
    return { id, repository, accountId, size: (await this.pieces(id)).size };
  }

  /** The session's pieces from offset 0 while they are contiguous, and where they end. */
  private async pieces(id: string): Promise<{ keys: string[]; size: number }> {
    const keys: string[] = [];
    let size = 0;
    for (const o of await this.bucket.list(`${id}/${CHUNKS}`)) {
      if (Number(o.key.slice(`${id}/${CHUNKS}`.length)) !== size) break;
      keys.push(o.key);
      size += o.size;
    }
    return { keys, size };
  }

  async append(session: UploadSession, body: AsyncIterable<Uint8Array> | undefined, start: number | undefined, signal: AbortSignal): Promise<number> {
    const { size } = await this.pieces(session.id);
    if (start !== undefined && start !== size) {
      throw new RegistryError('RANGE_INVALID', `chunk starts at ${start}, but the upload has ${size} bytes`, undefined, { headers: { range: uploadRange(size), 'docker-upload-uuid': session.id } });
    }
    if (body === undefined) return size;
    let at = size;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      if (pendingBytes === 0) return;
      const data = Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      await this.bucket.put(pieceKey(session.id, at), data, signal);
      at += data.byteLength;
    };
    try {
      for await (const chunk of body) {
        signal.throwIfAborted();
        pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        pendingBytes += chunk.byteLength;
        if (pendingBytes >= PIECE_BYTES) await flush();
      }
      await flush();
    } catch (err) {
      await this.cancel(session);
      throw err;
    }
    session.size = at;
    return at;
  }

  async finish(session: UploadSession, digest: string, blobs: BlobStore, signal: AbortSignal): Promise<BlobInfo> {
    try {
      const { keys, size } = await this.pieces(session.id);
      const existing = await blobs.stat(digest);
      if (existing) {
        // Stored already; the data must still prove it is that blob, or a client could link any digest it names.
        const hash = createHash('sha256');
        for await (const chunk of this.data(keys, signal)) hash.update(chunk);
        const actual = `sha256:${hash.digest('hex')}`;
        if (actual !== digest) throw new RegistryError('DIGEST_INVALID', `uploaded content is ${actual}, not ${digest}`, { digest });
        return existing;
      }
      try {
        return await blobs.put(this.data(keys, signal), { expectedDigest: digest, expectedSize: size, signal });
      } catch (err) {
        if (isKilnError(err, 'InvalidArgument')) throw new RegistryError('DIGEST_INVALID', err.message, { digest });
        throw err;
      }
    } finally {
      await this.cancel(session);
    }
  }

  /** The session's data, piece after piece. */
  private async *data(keys: readonly string[], signal: AbortSignal): AsyncIterable<Uint8Array> {
    for (const key of keys) {
      signal.throwIfAborted();
      yield* await this.bucket.open(key, signal);
    }
  }

  async cancel(session: UploadSession): Promise<void> {
    await this.remove(session.id);
  }

  /** Sessions outlive this node: another node may continue them, and the sweep removes abandoned ones. */
  async closeAll(): Promise<void> {}

  /** Deletes a session's objects; a failure is reported with what was left, not thrown over the request's outcome. */
  private async remove(id: string): Promise<void> {
    try {
      await this.bucket.deleteUnder(`${id}/`);
    } catch (err) {
      this.onLeak(`the objects of upload session ${id} under ${this.bucket.bucket}/${this.bucket.prefix}${id}/`, err);
    }
  }
}
