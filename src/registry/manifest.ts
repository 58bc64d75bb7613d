/**
 * The four manifest formats a registry serves (OCI image manifest and index, Docker v2 manifest and list):
 * parsing with every problem named by field, and what each one references. Shared by the built-in registry
 * (to check pushes) and the client (to walk pulls and pushes).
 */
import { KilnError } from '../domain/errors.js';
import { isSha256Digest } from './names.js';
import type { JsonObject } from '../domain/json.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

export const MANIFEST_MEDIA_TYPES: readonly string[] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST];

/** The `Accept` header of a manifest request that takes any of the four formats. */
export const ACCEPT_MANIFESTS = [OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(', ');

/** The spec's minimum manifest size a registry must accept; larger ones are refused on both sides. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  /** Where a foreign (non-distributable) layer lives; such layers are not expected in the registry. */
  urls?: string[];
}

/** What OCI 1.1 lets any manifest say about itself: the manifest it refers to, its artifact type, annotations. */
export interface ManifestReferences {
  /** The manifest this one refers to (an SBOM's or signature's image); the referrers API lists it under that. */
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export type ParsedManifest =
  | ({ kind: 'image'; mediaType: string; config: Descriptor; layers: Descriptor[] } & ManifestReferences)
  | ({ kind: 'index'; mediaType: string; manifests: Descriptor[] } & ManifestReferences);

/** The OCI 1.1 empty descriptor's media type: the config of an artifact manifest that has none of its own. */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

/**
 * The artifact type a referrer is listed with: the manifest's `artifactType`, else an image manifest's config
 * media type (the OCI 1.1 rule), unless that is the empty config.
 */
export function artifactTypeOf(manifest: ParsedManifest): string | undefined {
  if (manifest.artifactType) return manifest.artifactType;
  return manifest.kind === 'image' && manifest.config.mediaType !== OCI_EMPTY ? manifest.config.mediaType : undefined;
}

/** Whether a manifest media type is a list of manifests (OCI index, Docker manifest list). */
export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST;
}

/** `application/json; charset=utf-8` → `application/json`. */
export function bareMediaType(contentType: string | undefined): string | undefined {
  const bare = contentType?.split(';')[0]?.trim().toLowerCase();
  return bare === '' ? undefined : bare;
}


function invalid(message: string): KilnError {
  return new KilnError('InvalidArgument', message);
}

function descriptor(value: unknown, at: string): Descriptor {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${at}: must be a descriptor object`);
  const d = value as JsonObject;
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw invalid(`${at}.mediaType: must be a non-empty string`);
  if (typeof d.digest !== 'string' || !isSha256Digest(d.digest)) throw invalid(`${at}.digest: must be a sha256 digest, got ${JSON.stringify(d.digest)}`);
  if (!Number.isSafeInteger(d.size) || (d.size as number) < 0) throw invalid(`${at}.size: must be a non-negative integer`);
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size as number };
  if (d.platform !== undefined) {
    const p = d.platform as JsonObject;
    if (typeof p !== 'object' || p === null || typeof p.os !== 'string' || typeof p.architecture !== 'string') {
      throw invalid(`${at}.platform: must have os and architecture strings`);
    }
    out.platform = { os: p.os, architecture: p.architecture, ...(typeof p.variant === 'string' ? { variant: p.variant } : {}) };
  }
  if (Array.isArray(d.urls)) out.urls = d.urls.filter((u): u is string => typeof u === 'string');
  return out;
}

/** The OCI 1.1 `subject`, `artifactType` and `annotations` of a manifest body, checked. */
function references(m: JsonObject): ManifestReferences {
  const out: ManifestReferences = {};
  if (m.subject !== undefined) out.subject = descriptor(m.subject, 'manifest.subject');
  if (m.artifactType !== undefined) {
    if (typeof m.artifactType !== 'string' || m.artifactType === '') throw invalid('manifest.artifactType: must be a non-empty string');
    out.artifactType = m.artifactType;
  }
  if (m.annotations !== undefined) {
    const a = m.annotations;
    if (typeof a !== 'object' || a === null || Array.isArray(a) || Object.values(a).some((v) => typeof v !== 'string')) {
      throw invalid('manifest.annotations: must be an object of strings');
    }
    out.annotations = a as Record<string, string>;
  }
  return out;
}

/**
 * Parses manifest bytes. `declared` is the media type the sender stated (Content-Type); when the body names
 * its own `mediaType` the two must agree. Without either, an object with `manifests` is an OCI index and one
 * with `config` an OCI manifest. Schema 1 manifests are refused. InvalidArgument names the field at fault.
 */
export function parseManifest(bytes: Uint8Array, declared?: string): ParsedManifest {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw invalid('manifest: not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('manifest: must be a JSON object');
  const m = body as JsonObject;
  if (m.schemaVersion !== 2) throw invalid(`manifest.schemaVersion: must be 2, got ${JSON.stringify(m.schemaVersion)}`);
  if (m.mediaType !== undefined && typeof m.mediaType !== 'string') throw invalid('manifest.mediaType: must be a string');
  const own = m.mediaType as string | undefined;
  const stated = declared !== undefined && MANIFEST_MEDIA_TYPES.includes(declared) ? declared : undefined;
  if (stated !== undefined && own !== undefined && own !== stated) throw invalid(`manifest.mediaType: ${own} does not match the declared ${stated}`);
  const mediaType = stated ?? own ?? (Array.isArray(m.manifests) ? OCI_INDEX : OCI_MANIFEST);
  if (!MANIFEST_MEDIA_TYPES.includes(mediaType)) throw invalid(`manifest.mediaType: ${mediaType} is not a supported manifest type`);
  const refs = references(m);
  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(m.manifests)) throw invalid('manifest.manifests: must be a list');
    return { kind: 'index', mediaType, manifests: m.manifests.map((d, i) => descriptor(d, `manifest.manifests[${i}]`)), ...refs };
  }
  if (m.layers !== undefined && !Array.isArray(m.layers)) throw invalid('manifest.layers: must be a list');
  const layers = ((m.layers as unknown[] | undefined) ?? []).map((d, i) => descriptor(d, `manifest.layers[${i}]`));
  return { kind: 'image', mediaType, config: descriptor(m.config, 'manifest.config'), layers, ...refs };
}

/** Layers a registry need not hold: foreign / non-distributable ones, fetched from their `urls`. */
export function isForeignLayer(d: Descriptor): boolean {
  return /\.foreign\.|nondistributable/.test(d.mediaType) && (d.urls?.length ?? 0) > 0;
}

/** The blobs an image manifest needs in the registry: config and (distributable) layers; none for an index. */
export function requiredBlobs(manifest: ParsedManifest): Descriptor[] {
  if (manifest.kind === 'index') return [];
  return [manifest.config, ...manifest.layers.filter((l) => !isForeignLayer(l))];
}
