/**
 * Blob endpoints: download (HEAD/GET with Range), delete from a repository, and uploads (monolithic POST,
 * sessions with chunked PATCH and a closing PUT, cross-repository mount). A blob belongs to a repository once
 * uploaded or mounted there; reading it through another repository is BLOB_UNKNOWN, as in the spec.
 */
import { isKilnError } from '../../domain/errors.js';
import { isSha256Digest } from '../names.js';
import type { RegistryCore } from './builtin-registry.js';
import { RegistryError } from './errors.js';
import { registryPaths } from './paths.js';
import type { RegistryRequest, RegistryResponse } from './request.js';
import { uploadRange, type UploadSession, type UploadSessionStore } from './uploads.js';

function checkDigest(digest: string | null): string {
  if (digest === null || !isSha256Digest(digest)) throw new RegistryError('DIGEST_INVALID', `invalid digest ${JSON.stringify(digest)} (Kiln accepts sha256)`, { digest });
  return digest;
}

/** One `bytes=` range of a blob of `size` bytes; undefined for no (or an unusable multi-) range. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a = '', b = ''] = m;
  let start: number;
  let end: number;
  if (a === '') {
    if (b === '') return undefined;
    start = Math.max(0, size - Number(b));
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start > end || start >= size) {
    throw new RegistryError('RANGE_INVALID', `range ${header} is outside the blob's ${size} bytes`, undefined, { headers: { 'content-range': `bytes */${size}` } });
  }
  return { start, end };
}

/** The start offset of a PATCH's `Content-Range: <start>-<end>`, or undefined without one. */
function chunkStart(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/\d+|\/\*)?$/.exec(header.trim());
  if (!m) throw new RegistryError('RANGE_INVALID', `malformed Content-Range ${JSON.stringify(header)}`);
  return Number(m[1]);
}

function sessionHeaders(name: string, session: UploadSession, size: number): Record<string, string> {
  return { location: registryPaths.upload(name, session.id), range: uploadRange(size), 'docker-upload-uuid': session.id };
}

function blobCreated(name: string, digest: string): RegistryResponse {
  return { status: 201, headers: { location: registryPaths.blob(name, digest), 'docker-content-digest': digest } };
}

/** Blob and upload endpoints over the registry's rules and its upload sessions. */
export class BlobHandlers {
  constructor(
    private readonly core: RegistryCore,
    private readonly uploads: UploadSessionStore,
  ) {}

  private get store() {
    return this.core.deps.store;
  }

  private get blobs() {
    return this.core.deps.blobs;
  }

  /** HEAD / GET / DELETE `/v2/<name>/blobs/<digest>`. */
  async blob(req: RegistryRequest, name: string, digestText: string): Promise<RegistryResponse> {
    if (req.method === 'DELETE') {
      await this.core.owned(name, req.accountId);
      const digest = checkDigest(digestText);
      if (!(await this.store.unlinkRegistryBlob(name, digest))) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not in repository ${name}`, { digest });
      return { status: 202 };
    }
    await this.core.readable(name, req.accountId);
    const digest = checkDigest(digestText);
    const info = (await this.store.hasRegistryBlob(name, digest)) ? await this.blobs.stat(digest) : undefined;
    if (!info) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not in repository ${name}`, { digest });
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'docker-content-digest': digest,
      etag: `"${digest}"`,
      'accept-ranges': 'bytes',
      'cache-control': 'max-age=31536000',
    };
    const range = req.method === 'GET' ? parseRange(req.headers.range, info.size) : undefined;
    if (req.method === 'HEAD') return { status: 200, headers: { ...headers, 'content-length': String(info.size) } };
    if (range) {
      const body = await this.blobs.open(digest, range);
      return { status: 206, headers: { ...headers, 'content-length': String(range.end - range.start + 1), 'content-range': `bytes ${range.start}-${range.end}/${info.size}` }, body };
    }
    return { status: 200, headers: { ...headers, 'content-length': String(info.size) }, body: await this.blobs.open(digest) };
  }

  /** POST `/v2/<name>/blobs/uploads/`: a mount, a monolithic upload (`?digest=`), or a new session. */
  async startUpload(req: RegistryRequest, name: string): Promise<RegistryResponse> {
    const repo = await this.core.writable(name, req.accountId);
    const accountId = repo.accountId;
    const mount = req.query.get('mount');
    const from = req.query.get('from');
    if (mount !== null && from !== null && (await this.canMount(mount, from, accountId))) {
      await this.store.linkRegistryBlobs(name, [mount]);
      return blobCreated(name, mount);
    }
    const digestParam = req.query.get('digest');
    if (digestParam !== null) {
      const digest = checkDigest(digestParam);
      await this.putVerified(req.body ?? Buffer.alloc(0), digest, req.signal);
      await this.store.linkRegistryBlobs(name, [digest]);
      return blobCreated(name, digest);
    }
    const session = await this.uploads.start(name, accountId);
    return { status: 202, headers: sessionHeaders(name, session, 0) };
  }

  /** Stores a body that must hash to `digest`; DIGEST_INVALID (and nothing stored) when it does not. */
  private async putVerified(body: AsyncIterable<Uint8Array> | Uint8Array, digest: string, signal: AbortSignal): Promise<void> {
    try {
      await this.blobs.put(body, { expectedDigest: digest, signal });
    } catch (err) {
      if (isKilnError(err, 'InvalidArgument')) throw new RegistryError('DIGEST_INVALID', err.message, { digest });
      throw err;
    }
  }

  /** A mount works when the caller may read `from` and the blob is there; otherwise the client uploads. */
  private async canMount(digest: string, from: string, accountId: string): Promise<boolean> {
    if (!isSha256Digest(digest)) return false;
    try {
      await this.core.readable(from, accountId);
    } catch {
      return false;
    }
    return (await this.store.hasRegistryBlob(from, digest)) && (await this.blobs.has(digest));
  }

  /** GET / PATCH / PUT / DELETE `/v2/<name>/blobs/uploads/<id>`. */
  async upload(req: RegistryRequest, name: string, id: string): Promise<RegistryResponse> {
    const repo = await this.core.owned(name, req.accountId);
    const session = await this.uploads.get(id, name, repo.accountId);
    switch (req.method) {
      case 'GET':
        return { status: 204, headers: sessionHeaders(name, session, session.size) };
      case 'DELETE':
        await this.uploads.cancel(session);
        return { status: 204 };
      case 'PATCH': {
        const size = await this.uploads.append(session, req.body, chunkStart(req.headers['content-range']), req.signal);
        return { status: 202, headers: sessionHeaders(name, session, size) };
      }
      case 'PUT': {
        const digest = checkDigest(req.query.get('digest'));
        if (session.size === 0 && req.body !== undefined) {
          // The whole blob in the closing PUT (a monolithic upload): straight into the blob store, one write.
          await this.uploads.cancel(session);
          await this.putVerified(req.body, digest, req.signal);
        } else {
          await this.uploads.append(session, req.body, chunkStart(req.headers['content-range']), req.signal);
          await this.uploads.finish(session, digest, this.blobs, req.signal);
        }
        await this.store.linkRegistryBlobs(name, [digest]);
        return blobCreated(name, digest);
      }
      default:
        throw new RegistryError('UNSUPPORTED', `${req.method} is not supported on an upload`);
    }
  }
}
