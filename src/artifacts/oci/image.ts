/**
 * OCI image config and manifest, stored as blobs, and export of an image as an OCI image layout directory.
 * JSON is written with sorted keys and no insignificant whitespace, so equal images have equal digests.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { KilnError } from '../../domain/errors.js';
import { digestHex, type BlobStore, type Digest } from '../blob-store.js';
import type { LayerDescriptor } from './layer.js';

export const MEDIA_TYPE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_TYPE_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_TYPE_INDEX = 'application/vnd.oci.image.index.v1+json';

/** Docker's healthcheck (OCI has none; Docker, podman and buildah read this field from the config). */
export interface Healthcheck {
  /** `["NONE"]`, `["CMD", arg...]` or `["CMD-SHELL", command]`. */
  Test: string[];
  /** Durations in nanoseconds, as Docker stores them. */
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

/** The runtime defaults of an image (the config's `config` object). */
export interface ContainerConfig {
  User?: string;
  /** `80/tcp` style keys; a list is accepted for convenience. */
  ExposedPorts?: string[] | Record<string, Record<string, never>>;
  /** `NAME=value` entries. */
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  Volumes?: string[] | Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: Healthcheck;
}

export interface HistoryEntry {
  /** RFC 3339 time. */
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  /** True for instructions that changed only the config (ENV, CMD, ...), not the filesystem. */
  empty_layer?: boolean;
}

export interface ImageInput {
  layers: readonly LayerDescriptor[];
  config?: ContainerConfig;
  /** One entry per instruction; those without `empty_layer` must match `layers` one to one. */
  history?: readonly HistoryEntry[];
  /** RFC 3339; derive it from the source date epoch for reproducible digests. */
  created?: string;
  author?: string;
  architecture?: string;
  os?: string;
  /** Manifest annotations (`org.opencontainers.image.*`). */
  annotations?: Record<string, string>;
}

export interface StoredImage {
  manifestDigest: Digest;
  manifestSize: number;
  configDigest: Digest;
  configSize: number;
  manifest: OciManifest;
}

export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface OciManifest {
  schemaVersion: 2;
  mediaType: string;
  config: OciDescriptor;
  layers: OciDescriptor[];
  annotations?: Record<string, string>;
}

/** JSON with object keys sorted at every level and undefined members dropped: a stable byte form. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

function asSet(value: string[] | Record<string, Record<string, never>> | undefined): Record<string, Record<string, never>> | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return value;
  return Object.fromEntries(value.map((k) => [k, {}]));
}

/** Validates the input, then stores the config and the manifest blobs; layers must already be stored. */
export async function writeImage(store: BlobStore, input: ImageInput): Promise<StoredImage> {
  const history: readonly HistoryEntry[] = input.history ?? input.layers.map(() => ({ created: input.created }));
  const filesystemSteps = history.filter((h) => !h.empty_layer).length;
  if (filesystemSteps !== input.layers.length) {
    throw new KilnError('InvalidArgument', `history has ${filesystemSteps} entries that add a layer, but the image has ${input.layers.length} layers`);
  }
  for (const layer of input.layers) {
    if (!(await store.has(layer.digest))) throw new KilnError('NotFound', `layer blob ${layer.digest} is not in the blob store`);
  }
  const c = input.config ?? {};
  const config = {
    created: input.created,
    author: input.author,
    architecture: input.architecture ?? 'amd64',
    os: input.os ?? 'linux',
    config: {
      User: c.User,
      ExposedPorts: asSet(c.ExposedPorts),
      Env: c.Env,
      Entrypoint: c.Entrypoint,
      Cmd: c.Cmd,
      Volumes: asSet(c.Volumes),
      WorkingDir: c.WorkingDir,
      Labels: c.Labels,
      StopSignal: c.StopSignal,
      Healthcheck: c.Healthcheck,
    },
    rootfs: { type: 'layers', diff_ids: input.layers.map((l) => l.diffId) },
    history,
  };
  const configBlob = await store.put(Buffer.from(canonicalJson(config)));
  const manifest: OciManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_MANIFEST,
    config: { mediaType: MEDIA_TYPE_CONFIG, digest: configBlob.digest, size: configBlob.size },
    layers: input.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    ...(input.annotations && Object.keys(input.annotations).length > 0 ? { annotations: input.annotations } : {}),
  };
  const manifestBlob = await store.put(Buffer.from(canonicalJson(manifest)));
  return { manifestDigest: manifestBlob.digest, manifestSize: manifestBlob.size, configDigest: configBlob.digest, configSize: configBlob.size, manifest };
}

/** Reads and minimally checks a stored image manifest. */
export async function readManifest(store: BlobStore, manifestDigest: string): Promise<OciManifest> {
  const raw = await store.get(manifestDigest);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new KilnError('InvalidArgument', `blob ${manifestDigest} is not JSON`, [], { cause: err });
  }
  const m = parsed as Partial<OciManifest>;
  if (m.schemaVersion !== 2 || !m.config || !Array.isArray(m.layers)) {
    throw new KilnError('InvalidArgument', `blob ${manifestDigest} is not an image manifest`);
  }
  return m as OciManifest;
}

const REF_NAME = 'org.opencontainers.image.ref.name';

/**
 * Writes an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) at `dir` for tools such as
 * skopeo (`oci:DIR:TAG`) and umoci. An existing layout is extended: blobs already there are kept, and the
 * index entry for `tag` is replaced.
 */
export async function exportLayout(store: BlobStore, manifestDigest: string, dir: string, tag: string): Promise<void> {
  const manifest = await readManifest(store, manifestDigest);
  const manifestInfo = await store.stat(manifestDigest);
  if (!manifestInfo) throw new KilnError('NotFound', `blob ${manifestDigest} not found`);
  const blobsDir = path.join(dir, 'blobs', 'sha256');
  await fsp.mkdir(blobsDir, { recursive: true });
  for (const d of [manifest.config, ...manifest.layers, { digest: manifestDigest, size: manifestInfo.size }]) {
    await copyBlob(store, d.digest, d.size, blobsDir);
  }
  await writeAtomic(path.join(dir, 'oci-layout'), canonicalJson({ imageLayoutVersion: '1.0.0' }));

  const indexPath = path.join(dir, 'index.json');
  let manifests: OciDescriptor[] = [];
  try {
    const existing = JSON.parse(await fsp.readFile(indexPath, 'utf8')) as { manifests?: OciDescriptor[] };
    manifests = (existing.manifests ?? []).filter((m) => m.annotations?.[REF_NAME] !== tag);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  manifests.push({ mediaType: MEDIA_TYPE_MANIFEST, digest: manifestDigest, size: manifestInfo.size, annotations: { [REF_NAME]: tag } });
  await writeAtomic(indexPath, canonicalJson({ schemaVersion: 2, mediaType: MEDIA_TYPE_INDEX, manifests }));
}

async function copyBlob(store: BlobStore, digest: string, size: number, blobsDir: string): Promise<void> {
  const target = path.join(blobsDir, digestHex(digest));
  const st = await fsp.stat(target).catch(() => undefined);
  if (st?.size === size) return;
  const tmp = `${target}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await pipeline(await store.open(digest), createWriteStream(tmp, { mode: 0o644 }));
    await fsp.rename(tmp, target);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

async function writeAtomic(file: string, content: string): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await fsp.writeFile(tmp, content, { mode: 0o644 });
    await fsp.rename(tmp, file);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}
