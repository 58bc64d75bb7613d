/**
 * Mounts the OCI distribution API v2 at /v2/ on Kiln's fastify app, next to the Image Builder API. The routes
 * live in an encapsulated plugin with their own content-type parser that hands the request stream through
 * untouched, so blobs stream into the blob store while the API's raw-buffer parser stays as it is.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FsBlobStore } from '../../artifacts/blob-store.js';
import { authenticate, type RegistryKeyLookup } from './auth.js';
import { BlobHandlers } from './blob-handlers.js';
import { countedBody, countedResponse, type RegistryByteKind, type RegistryBytesListener } from './byte-counting.js';
import { RegistryCore, type BuiltinRegistryDeps } from './builtin-registry.js';
import { RegistryError, errorBody, toRegistryError, type RegistryErrorCode } from './errors.js';
import { ManifestHandlers } from './manifest-handlers.js';
import { matchRegistryPath, type RegistryRoute } from './paths.js';
import type { RegistryRequest, RegistryResponse } from './request.js';
import { UploadSessions, type UploadSessionStore } from './uploads.js';

export interface RegistryRouteDeps extends BuiltinRegistryDeps {
  /** Finds active keys for Basic auth; by default the store's (which records no last use). */
  lookupKey?: RegistryKeyLookup;
  /** Where upload sessions keep their data; by default `uploads/` in an FsBlobStore's root (same file system), else a temp dir. */
  uploadDir?: string;
  /** Where upload sessions are kept instead of `uploadDir` (a bucket shared by API nodes); swept when the registry starts. */
  uploads?: UploadSessionStore;
  /** Told of blob and manifest bytes as they are received and sent (metrics). */
  onBytes?: RegistryBytesListener;
}

const METHODS: Record<RegistryRoute['kind'], readonly string[]> = {
  ping: ['GET', 'HEAD'],
  catalog: ['GET'],
  tags: ['GET'],
  referrers: ['GET'],
  manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
  blob: ['GET', 'HEAD', 'DELETE'],
  uploads: ['POST'],
  upload: ['GET', 'PATCH', 'PUT', 'DELETE'],
};

/** The spec's "not found" code per route, for NotFound errors from shared code. */
const NOT_FOUND: Record<RegistryRoute['kind'], RegistryErrorCode> = {
  ping: 'NAME_UNKNOWN',
  catalog: 'NAME_UNKNOWN',
  tags: 'NAME_UNKNOWN',
  referrers: 'NAME_UNKNOWN',
  manifest: 'MANIFEST_UNKNOWN',
  blob: 'BLOB_UNKNOWN',
  uploads: 'BLOB_UNKNOWN',
  upload: 'BLOB_UPLOAD_UNKNOWN',
};

function defaultUploadDir(deps: BuiltinRegistryDeps): string {
  return deps.blobs instanceof FsBlobStore ? path.join(deps.blobs.root, 'uploads') : path.join(os.tmpdir(), 'kiln-registry-uploads');
}

function decodePath(rawUrl: string): { pathname: string; query: URLSearchParams } {
  const q = rawUrl.indexOf('?');
  const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
  let pathname: string;
  try {
    pathname = decodeURIComponent(rawPath);
  } catch {
    throw new RegistryError('NAME_INVALID', `malformed path ${JSON.stringify(rawPath)}`);
  }
  return { pathname, query: new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1)) };
}

/**
 * Registers the registry on `app` (before it listens). Repositories, tags and manifests are kept in
 * `deps.store`, blobs in `deps.blobs`; callers authenticate with HTTP Basic (access key id : secret).
 */
export function registerRegistry(app: FastifyInstance, deps: RegistryRouteDeps): void {
  const core = new RegistryCore(deps);
  const lookupKey = deps.lookupKey ?? ((id: string) => deps.store.getAccessKeySecret(id));
  const uploads = deps.uploads ?? new UploadSessions(deps.uploadDir ?? defaultUploadDir(deps));
  const blobs = new BlobHandlers(core, uploads);
  const manifests = new ManifestHandlers(core);

  const dispatch = async (route: RegistryRoute, req: RegistryRequest): Promise<RegistryResponse> => {
    if (!METHODS[route.kind].includes(req.method)) throw new RegistryError('UNSUPPORTED', `${req.method} is not supported here`);
    switch (route.kind) {
      case 'ping':
        return manifests.ping(req);
      case 'catalog':
        return manifests.catalog(req);
      case 'tags':
        return manifests.tags(req, route.name);
      case 'referrers':
        return manifests.referrers(req, route.name, route.digest);
      case 'manifest':
        return manifests.manifest(req, route.name, route.reference);
      case 'blob':
        return blobs.blob(req, route.name, route.digest);
      case 'uploads':
        return blobs.startUpload(req, route.name);
      case 'upload':
        return blobs.upload(req, route.name, route.id);
    }
  };

  /** What a route moves, for counting: blobs (uploads included) and manifests; listings are not counted. */
  const byteKind = (route: RegistryRoute): RegistryByteKind | undefined =>
    route.kind === 'manifest' ? 'manifest' : route.kind === 'blob' || route.kind === 'uploads' || route.kind === 'upload' ? 'blob' : undefined;

  const send = (reply: FastifyReply, res: RegistryResponse): FastifyReply => {
    reply.code(res.status).headers(res.headers ?? {});
    if (res.body === undefined) return reply.send();
    if (Buffer.isBuffer(res.body) || typeof (res.body as { pipe?: unknown }).pipe === 'function') return reply.send(res.body);
    // A JSON body is application/json unless the handler names its own type (the referrers API's OCI index),
    // which goes out as bytes so that no charset parameter is added to it.
    if (res.headers?.['content-type']) return reply.send(Buffer.from(JSON.stringify(res.body)));
    return reply.type('application/json').send(JSON.stringify(res.body));
  };

  const sendError = (reply: FastifyReply, err: RegistryError): FastifyReply => {
    reply.code(err.status).headers(err.headers);
    return reply.type('application/json').send(JSON.stringify(errorBody(err)));
  };

  const handle = async (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0');
    const aborted = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) aborted.abort();
    });
    let route: RegistryRoute | undefined;
    try {
      const { pathname, query } = decodePath(req.raw.url ?? '/');
      route = matchRegistryPath(pathname);
      if (!route) throw new RegistryError('NAME_INVALID', `no registry endpoint at ${pathname}`, undefined, { status: 404 });
      const accountId = await authenticate(lookupKey, req.headers.authorization);
      const onBytes = deps.onBytes;
      const kind = onBytes && byteKind(route);
      const raw = req.body as AsyncIterable<Uint8Array> | undefined;
      const body = kind && raw ? countedBody(raw, (n) => onBytes!('in', kind, n)) : raw;
      const res = await dispatch(route, { method: req.method, query, headers: req.headers, body, accountId, signal: aborted.signal });
      if (kind && req.method !== 'HEAD' && res.body !== undefined) res.body = countedResponse(res.body, (n) => onBytes!('out', kind, n));
      return send(reply, res);
    } catch (err) {
      const regErr = toRegistryError(err, route ? NOT_FOUND[route.kind] : 'NAME_UNKNOWN');
      if (regErr.status >= 500) req.log.error({ err }, 'registry request failed');
      return sendError(reply, regErr);
    }
  };

  void app.register(async (child) => {
    child.removeAllContentTypeParsers();
    child.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    child.addHook('onClose', async () => uploads.closeAll());
    child.setErrorHandler((err, _req, reply) => sendError(reply, toRegistryError(err, 'NAME_UNKNOWN')));
    await uploads.sweep();
    child.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'], url: '/v2/*', exposeHeadRoute: false, handler: handle });
  });
}
