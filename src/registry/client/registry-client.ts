/**
 * A fetch-based OCI distribution client: pulls images into Kiln's blob store and pushes stored images to any
 * v2 registry (Kiln's own, docker distribution, Docker Hub, ECR, ...). Blobs stream both ways; every pulled
 * byte is checked against its digest before it is stored.
 */
import type { BlobStore } from '../../artifacts/blob-store.js';
import { digestOf } from '../../artifacts/blob-store.js';
import type { RegistryEndpoint } from './registry-endpoint.js';
import { KilnError } from '../../domain/errors.js';
import { ACCEPT_MANIFESTS, MAX_MANIFEST_BYTES, bareMediaType, isForeignLayer, parseManifest, type Descriptor, type ParsedManifest, type Platform } from '../manifest.js';
import { formatImageReference, normalizeRegistryHost, type ImageReference } from './reference.js';
import { RegistryTransport, nodeStream, responseError } from './transport.js';

export { formatImageReference, parseImageReference, type ImageReference } from './reference.js';

export interface PullResult {
  /** The image manifest stored (for an index, the one picked for the platform). */
  manifestDigest: string;
  mediaType: string;
  manifest: object;
  config: object;
  configDigest: string;
  layers: { digest: string; size: number; mediaType: string }[];
}

export interface PushResult {
  manifestDigest: string;
  /** Blob bytes uploaded (manifests not counted). */
  bytesSent: number;
  /** Blobs the registry already had or mounted from `mountFrom`. */
  blobsSkipped: number;
}

/** Blobs moved at once in a pull or push. */
const CONCURRENCY = 3;
const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

/** Pulls and pushes images; keeps each host's auth state and tokens for the life of the client. */
export class RegistryClient {
  private readonly endpoints = new Map<string, RegistryEndpoint>();
  private readonly transports = new Map<string, RegistryTransport>();

  /** Per-host settings (insecure = plain HTTP, Basic credentials also used for tokens); other hosts: HTTPS, anonymous. */
  constructor(endpoints: readonly RegistryEndpoint[]) {
    for (const e of endpoints) this.endpoints.set(normalizeRegistryHost(e.host), e);
  }

  private transport(registry: string): RegistryTransport {
    const host = normalizeRegistryHost(registry);
    let t = this.transports.get(host);
    if (!t) {
      const e = this.endpoints.get(host);
      t = new RegistryTransport({ host, insecure: e?.insecure ?? false, ...(e?.username !== undefined ? { username: e.username, password: e.password ?? '' } : {}) });
      this.transports.set(host, t);
    }
    return t;
  }

  /** Pulls manifest, config and layers into `blobs` (skipping blobs already there; digests verified). An
   *  index / manifest list picks `platform` (default linux/amd64). Returns what was stored. */
  async pull(ref: ImageReference, blobs: BlobStore, options: { signal?: AbortSignal; platform?: { os: string; architecture: string } } = {}): Promise<PullResult> {
    const t = this.transport(ref.registry);
    const name = formatImageReference(ref);
    const scopes = [pullScope(ref.repository)];
    const signal = options.signal;
    let fetched = await this.fetchManifest(t, ref.repository, ref.digest ?? ref.tag ?? 'latest', scopes, name, signal);
    if (ref.digest !== undefined && fetched.digest !== ref.digest) {
      throw new KilnError('InvalidArgument', `${name}: the registry sent a manifest with digest ${fetched.digest}`);
    }
    if (fetched.manifest.kind === 'index') {
      const child = pickPlatform(fetched.manifest.manifests, options.platform ?? DEFAULT_PLATFORM, name);
      fetched = await this.fetchManifest(t, ref.repository, child.digest, scopes, name, signal);
      if (fetched.digest !== child.digest) throw new KilnError('InvalidArgument', `${name}: manifest ${child.digest} arrived with digest ${fetched.digest}`);
      if (fetched.manifest.kind !== 'image') throw new KilnError('InvalidArgument', `${name}: the index entry ${child.digest} is itself an index`);
    }
    const manifest = fetched.manifest as Extract<ParsedManifest, { kind: 'image' }>;
    const layers = manifest.layers.filter((l) => !isForeignLayer(l));
    await this.fetchBlob(t, ref.repository, manifest.config, blobs, scopes, name, signal);
    await forEachLimit(layers, CONCURRENCY, (l) => this.fetchBlob(t, ref.repository, l, blobs, scopes, name, signal));
    // The manifest goes in last, so a stored manifest always has its blobs.
    await blobs.put(fetched.bytes, { expectedDigest: fetched.digest, signal });
    const config = JSON.parse((await blobs.get(manifest.config.digest)).toString('utf8')) as object;
    return {
      manifestDigest: fetched.digest,
      mediaType: manifest.mediaType,
      manifest: JSON.parse(fetched.bytes.toString('utf8')) as object,
      config,
      configDigest: manifest.config.digest,
      layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
    };
  }

  /**
   * The digest `pull` would store for `ref` (an index resolves to its `platform` child), reading manifests only:
   * what a tag points at now, for deciding whether a parent image changed.
   */
  async resolve(ref: ImageReference, options: { signal?: AbortSignal; platform?: { os: string; architecture: string } } = {}): Promise<string> {
    if (ref.digest !== undefined) return ref.digest;
    const t = this.transport(ref.registry);
    const name = formatImageReference(ref);
    const scopes = [pullScope(ref.repository)];
    const fetched = await this.fetchManifest(t, ref.repository, ref.tag ?? 'latest', scopes, name, options.signal);
    if (fetched.manifest.kind !== 'index') return fetched.digest;
    return pickPlatform(fetched.manifest.manifests, options.platform ?? DEFAULT_PLATFORM, name).digest;
  }

  private async fetchManifest(t: RegistryTransport, repository: string, reference: string, scopes: string[], name: string, signal: AbortSignal | undefined): Promise<{ bytes: Buffer; digest: string; manifest: ParsedManifest }> {
    const res = await t.request({ method: 'GET', url: `/v2/${repository}/manifests/${reference}`, headers: { accept: ACCEPT_MANIFESTS }, scopes, follow: true, ...(signal ? { signal } : {}) });
    if (!res.ok) throw await responseError(res, `pull ${name}: manifest ${reference}`);
    const length = Number(res.headers.get('content-length') ?? '0');
    if (length > MAX_MANIFEST_BYTES) throw new KilnError('InvalidArgument', `pull ${name}: manifest ${reference} has ${length} bytes, more than ${MAX_MANIFEST_BYTES}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    if (bytes.byteLength > MAX_MANIFEST_BYTES) throw new KilnError('InvalidArgument', `pull ${name}: manifest ${reference} is larger than ${MAX_MANIFEST_BYTES} bytes`);
    const digest = digestOf(bytes);
    const claimed = res.headers.get('docker-content-digest');
    if (claimed !== null && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new KilnError('InvalidArgument', `pull ${name}: the registry says manifest ${reference} is ${claimed}, but its content is ${digest}`);
    }
    try {
      return { bytes, digest, manifest: parseManifest(bytes, bareMediaType(res.headers.get('content-type') ?? undefined)) };
    } catch (err) {
      throw new KilnError('InvalidArgument', `pull ${name}: ${(err as Error).message}`, [], { cause: err });
    }
  }

  private async fetchBlob(t: RegistryTransport, repository: string, d: Descriptor, blobs: BlobStore, scopes: string[], name: string, signal: AbortSignal | undefined): Promise<void> {
    const have = await blobs.stat(d.digest);
    if (have?.size === d.size) return;
    const res = await t.request({ method: 'GET', url: `/v2/${repository}/blobs/${d.digest}`, scopes, follow: true, ...(signal ? { signal } : {}) });
    if (!res.ok || !res.body) throw await responseError(res, `pull ${name}: blob ${d.digest}`);
    const body = nodeStream(res.body);
    try {
      await blobs.put(body, { expectedDigest: d.digest, expectedSize: d.size, ...(signal ? { signal } : {}) });
    } catch (err) {
      body.destroy();
      if (signal?.aborted) throw new KilnError('Cancelled', `pull ${name}: cancelled while fetching blob ${d.digest}`, [], { cause: err });
      if ((err as { kind?: string }).kind === 'InvalidArgument') throw new KilnError('InvalidArgument', `pull ${name}: blob ${d.digest} arrived corrupted: ${(err as Error).message}`, [], { cause: err });
      throw err;
    }
  }

  /** Pushes a stored manifest with its config and layers to `ref` (tag or digest), sending only blobs the
   *  registry lacks (HEAD first; cross-repo mount when `mountFrom` is given). Returns the digest and bytes sent. */
  async push(blobs: BlobStore, manifestDigest: string, ref: ImageReference, options: { signal?: AbortSignal; mountFrom?: string } = {}): Promise<PushResult> {
    if (ref.digest !== undefined && ref.digest !== manifestDigest) {
      throw new KilnError('InvalidArgument', `push ${formatImageReference(ref)}: the reference names digest ${ref.digest}, but the image is ${manifestDigest}`);
    }
    const t = this.transport(ref.registry);
    const scopes = [`repository:${ref.repository}:pull,push`, ...(options.mountFrom !== undefined ? [pullScope(options.mountFrom)] : [])];
    const job: PushJob = { t, blobs, repository: ref.repository, name: formatImageReference(ref), scopes, signal: options.signal, mountFrom: options.mountFrom, bytesSent: 0, blobsSkipped: 0 };
    const reference = ref.tag ?? ref.digest ?? 'latest';
    await this.pushManifest(job, manifestDigest, reference, 0);
    return { manifestDigest, bytesSent: job.bytesSent, blobsSkipped: job.blobsSkipped };
  }

  private async pushManifest(job: PushJob, digest: string, reference: string, depth: number): Promise<void> {
    const bytes = await job.blobs.get(digest);
    let manifest: ParsedManifest;
    try {
      manifest = parseManifest(bytes);
    } catch (err) {
      throw new KilnError('InvalidArgument', `push ${job.name}: stored manifest ${digest}: ${(err as Error).message}`, [], { cause: err });
    }
    if (manifest.kind === 'index') {
      if (depth >= 4) throw new KilnError('InvalidArgument', `push ${job.name}: indexes nest too deep`);
      for (const child of manifest.manifests) await this.pushManifest(job, child.digest, child.digest, depth + 1);
    } else {
      const needed = [manifest.config, ...manifest.layers.filter((l) => !isForeignLayer(l))];
      await forEachLimit(needed, CONCURRENCY, (d) => this.pushBlob(job, d));
    }
    const res = await job.t.request({
      method: 'PUT',
      url: `/v2/${job.repository}/manifests/${reference}`,
      headers: { 'content-type': manifest.mediaType },
      body: async () => bytes,
      scopes: job.scopes,
      ...(job.signal ? { signal: job.signal } : {}),
    });
    if (res.status !== 201 && res.status !== 200) throw await responseError(res, `push ${job.name}: manifest ${reference}`);
    const claimed = res.headers.get('docker-content-digest');
    await res.body?.cancel().catch(() => undefined);
    if (claimed !== null && claimed !== digest) throw new KilnError('Internal', `push ${job.name}: the registry stored manifest ${reference} as ${claimed}, expected ${digest}`);
  }

  private async pushBlob(job: PushJob, d: Descriptor): Promise<void> {
    const local = await job.blobs.stat(d.digest);
    if (!local) throw new KilnError('NotFound', `push ${job.name}: blob ${d.digest} is not in the blob store`);
    const signal = job.signal ? { signal: job.signal } : {};
    const head = await job.t.request({ method: 'HEAD', url: `/v2/${job.repository}/blobs/${d.digest}`, scopes: job.scopes, ...signal });
    if (head.ok) {
      job.blobsSkipped++;
      return;
    }
    if (head.status !== 404) throw await responseError(head, `push ${job.name}: blob ${d.digest}`);
    const mount = job.mountFrom !== undefined ? `?mount=${encodeURIComponent(d.digest)}&from=${encodeURIComponent(job.mountFrom)}` : '';
    const started = await job.t.request({ method: 'POST', url: `/v2/${job.repository}/blobs/uploads/${mount}`, scopes: job.scopes, ...signal });
    await started.body?.cancel().catch(() => undefined);
    if (started.status === 201) {
      job.blobsSkipped++;
      return;
    }
    const location = started.headers.get('location');
    if (started.status !== 202 || location === null) throw await responseError(started, `push ${job.name}: starting the upload of ${d.digest}`);
    const url = new URL(location, new URL(`/v2/${job.repository}/blobs/uploads/`, job.t.baseUrl));
    url.searchParams.set('digest', d.digest);
    let sent = 0;
    const res = await job.t.request({
      method: 'PUT',
      url: url.href,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(local.size) },
      body: async () => {
        sent = 0;
        return counted(await job.blobs.open(d.digest), (n) => (sent += n));
      },
      scopes: job.scopes,
      ...signal,
    });
    await res.body?.cancel().catch(() => undefined);
    if (res.status !== 201 && res.status !== 204) throw await responseError(res, `push ${job.name}: uploading blob ${d.digest}`);
    job.bytesSent += sent;
  }
}

interface PushJob {
  t: RegistryTransport;
  blobs: BlobStore;
  repository: string;
  name: string;
  scopes: string[];
  signal: AbortSignal | undefined;
  mountFrom: string | undefined;
  bytesSent: number;
  blobsSkipped: number;
}

async function* counted(source: AsyncIterable<Uint8Array>, add: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    add(chunk.byteLength);
    yield chunk;
  }
}

/** The index entry for a platform; NotFound listing the platforms the index has. */
function pickPlatform(entries: readonly Descriptor[], platform: { os: string; architecture: string }, name: string): Descriptor {
  const found = entries.find((e) => e.platform?.os === platform.os && e.platform.architecture === platform.architecture);
  if (found) return found;
  const offered = entries.map((e) => (e.platform ? `${e.platform.os}/${e.platform.architecture}${e.platform.variant ? `/${e.platform.variant}` : ''}` : 'unknown')).join(', ');
  throw new KilnError('NotFound', `${name} has no ${platform.os}/${platform.architecture} image (it has: ${offered || 'none'})`);
}
