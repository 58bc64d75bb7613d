/**
 * Blob upload sessions (POST → PATCH… → PUT ?digest=): each session appends to its own file while hashing,
 * so the final PUT knows the digest without reading the data again, and only a verified blob enters the blob
 * store. Sessions live in this process; a restarted server forgets them (and removes their files) and clients
 * start a new upload. With an object store, bucket-uploads.ts keeps them where every API node finds them.
 */
import { createHash, randomUUID, type Hash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { createReadStream } from 'node:fs';
import type { BlobInfo, BlobStore } from '../../artifacts/blob-store.js';
import { RegistryError } from './errors.js';

export interface UploadSession {
  readonly id: string;
  readonly repository: string;
  readonly accountId: string;
  /** Bytes received so far. */
  size: number;
}

interface SessionState extends UploadSession {
  file: string;
  hash: Hash;
  lastUsed: number;
  busy: boolean;
}

/**
 * Where a registry keeps its blob upload sessions: this process and its data directory (UploadSessions), or a
 * bucket every API node shares (BucketUploadSessions), so that a chunk may land on any node.
 */
export interface UploadSessionStore {
  /** Called before the registry serves: removes the sessions no client can continue any more. */
  sweep(): Promise<void>;
  /** Opens an empty session for an account's upload into a repository. */
  start(repository: string, accountId: string): Promise<UploadSession>;
  /** The session with its size now, when it belongs to this repository and account; BLOB_UPLOAD_UNKNOWN otherwise. */
  get(id: string, repository: string, accountId: string): Promise<UploadSession>;
  /**
   * Appends a chunk and returns the session's new size. With `start` (from Content-Range) the chunk must begin
   * where the data ends, else RANGE_INVALID. A chunk that fails half way ends the session: its bytes are unknown.
   */
  append(session: UploadSession, body: AsyncIterable<Uint8Array> | undefined, start: number | undefined, signal: AbortSignal): Promise<number>;
  /**
   * Ends the session: the data must hash to `digest` (else DIGEST_INVALID, and the session is gone), then it is
   * stored in `blobs` (unless already there) and the session's data removed.
   */
  finish(session: UploadSession, digest: string, blobs: BlobStore, signal: AbortSignal): Promise<BlobInfo>;
  /** Forgets a session and removes its data; unknown sessions are ignored. */
  cancel(session: UploadSession): Promise<void>;
  /** The registry is closing: what only this process could continue is removed. */
  closeAll(): Promise<void>;
}

/** A session untouched for this long is dropped (its file removed) when the next one starts. */
const IDLE_MS = 60 * 60 * 1000;
const WRITE_BATCH = 1 << 20;

/** The spec's `Range` header value for a session: the inclusive byte range received (`0-0` when empty). */
export function uploadRange(size: number): string {
  return `0-${Math.max(0, size - 1)}`;
}

/** The open upload sessions of one registry process, with their data under `dir`. */
export class UploadSessions implements UploadSessionStore {
  private readonly sessions = new Map<string, SessionState>();

  constructor(private readonly dir: string) {}

  /**
   * Removes every session file that is not one of this object's open sessions: called before the registry
   * serves, it clears the partial uploads of a process that crashed or was killed. Sessions live in memory, so
   * no client can resume those files, and they may hold part of a private image.
   */
  async sweep(): Promise<void> {
    const names = await fsp.readdir(this.dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!this.sessions.has(name)) await fsp.rm(path.join(this.dir, name), { recursive: true, force: true });
    }
  }

  /** Opens an empty session for an account's upload into a repository (dropping long-idle ones first). */
  async start(repository: string, accountId: string): Promise<UploadSession> {
    await this.expireIdle();
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const id = randomUUID();
    const file = path.join(this.dir, id);
    await (await fsp.open(file, 'wx', 0o600)).close();
    const state: SessionState = { id, repository, accountId, size: 0, file, hash: createHash('sha256'), lastUsed: Date.now(), busy: false };
    this.sessions.set(id, state);
    return state;
  }

  get(id: string, repository: string, accountId: string): Promise<UploadSession> {
    try {
      return Promise.resolve(this.state(id, repository, accountId));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  private state(id: string, repository: string, accountId: string): SessionState {
    const s = this.sessions.get(id);
    if (!s || s.repository !== repository || s.accountId !== accountId) {
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${id} is not in progress in repository ${repository}`, { uuid: id });
    }
    return s;
  }

  async append(session: UploadSession, body: AsyncIterable<Uint8Array> | undefined, start: number | undefined, signal: AbortSignal): Promise<number> {
    const s = this.state(session.id, session.repository, session.accountId);
    if (start !== undefined && start !== s.size) {
      throw new RegistryError('RANGE_INVALID', `chunk starts at ${start}, but the upload has ${s.size} bytes`, undefined, { headers: { range: uploadRange(s.size), 'docker-upload-uuid': s.id } });
    }
    if (s.busy) throw new RegistryError('BLOB_UPLOAD_INVALID', `upload ${s.id} is already receiving a chunk`);
    if (body === undefined) return s.size;
    s.busy = true;
    const fh = await fsp.open(s.file, 'a');
    try {
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        if (pendingBytes === 0) return;
        const data = Buffer.concat(pending);
        pending = [];
        pendingBytes = 0;
        let offset = 0;
        while (offset < data.byteLength) offset += (await fh.write(data, offset, data.byteLength - offset)).bytesWritten;
      };
      for await (const chunk of body) {
        signal.throwIfAborted();
        s.hash.update(chunk);
        s.size += chunk.byteLength;
        pending.push(chunk);
        pendingBytes += chunk.byteLength;
        if (pendingBytes >= WRITE_BATCH) await flush();
      }
      await flush();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await this.cancel(s);
      throw err;
    }
    await fh.close();
    s.busy = false;
    s.lastUsed = Date.now();
    return s.size;
  }

  async finish(session: UploadSession, digest: string, blobs: BlobStore, signal: AbortSignal): Promise<BlobInfo> {
    const s = this.state(session.id, session.repository, session.accountId);
    if (s.busy) throw new RegistryError('BLOB_UPLOAD_INVALID', `upload ${s.id} is still receiving a chunk`);
    s.busy = true;
    try {
      const actual = `sha256:${s.hash.digest('hex')}`;
      if (actual !== digest) throw new RegistryError('DIGEST_INVALID', `uploaded content is ${actual}, not ${digest}`, { digest });
      const existing = await blobs.stat(digest);
      if (existing) return existing;
      return await blobs.put(createReadStream(s.file), { expectedDigest: digest, expectedSize: s.size, signal });
    } finally {
      await this.cancel(s);
    }
  }

  async cancel(session: UploadSession): Promise<void> {
    const s = this.sessions.get(session.id);
    if (!s) return;
    this.sessions.delete(s.id);
    await fsp.rm(s.file, { force: true });
  }

  /** Removes every open session: they live in this process only. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => this.cancel(s)));
  }

  private async expireIdle(): Promise<void> {
    const cutoff = Date.now() - IDLE_MS;
    for (const s of [...this.sessions.values()]) if (!s.busy && s.lastUsed < cutoff) await this.cancel(s);
  }
}
