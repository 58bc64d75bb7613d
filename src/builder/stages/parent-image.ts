/**
 * Reads a stored parent image (manifest + config) into what a build continues from: its layers with their
 * diff_ids, its runtime config, its history and the epoch new layers' times are clamped to.
 */
import type { BlobStore, Digest } from '../../artifacts/blob-store.js';
import { MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_TAR, MEDIA_TYPE_LAYER_ZSTD, type LayerDescriptor } from '../../artifacts/oci/layer.js';
import type { HistoryEntry } from '../../artifacts/oci/image.js';
import { KilnError } from '../../domain/errors.js';
import type { ImageConfig } from '../dockerfile/dockerfile-exec.js';

/** Docker's layer media types and their OCI names (same bytes). */
const OCI_LAYER_TYPES: Record<string, string> = {
  'application/vnd.docker.image.rootfs.diff.tar.gzip': MEDIA_TYPE_LAYER_GZIP,
  'application/vnd.docker.image.rootfs.diff.tar': MEDIA_TYPE_LAYER_TAR,
  [MEDIA_TYPE_LAYER_GZIP]: MEDIA_TYPE_LAYER_GZIP,
  [MEDIA_TYPE_LAYER_TAR]: MEDIA_TYPE_LAYER_TAR,
  [MEDIA_TYPE_LAYER_ZSTD]: MEDIA_TYPE_LAYER_ZSTD,
};

export interface ParentImage {
  layers: LayerDescriptor[];
  config: ImageConfig;
  history: HistoryEntry[];
  /** The parent's creation time in seconds (0 when it has none): a stable epoch for reproducible layers. */
  sourceDateEpoch: number;
}

interface RawManifest {
  config?: { digest?: string };
  layers?: { mediaType?: string; digest?: string; size?: number }[];
}

interface RawConfig {
  created?: string;
  config?: ImageConfig;
  rootfs?: { diff_ids?: string[] };
  history?: HistoryEntry[];
}

/** Loads a parent from the blob store; InvalidArgument names what is wrong with an unusable image. */
export async function loadParentImage(blobs: BlobStore, manifestDigest: string): Promise<ParentImage> {
  const manifest = JSON.parse((await blobs.get(manifestDigest)).toString('utf8')) as RawManifest;
  if (!manifest.config?.digest || !Array.isArray(manifest.layers)) throw new KilnError('InvalidArgument', `parent image ${manifestDigest} is not an image manifest`);
  const config = JSON.parse((await blobs.get(manifest.config.digest)).toString('utf8')) as RawConfig;
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw new KilnError('InvalidArgument', `parent image ${manifestDigest} lists ${manifest.layers.length} layers but ${diffIds.length} diff_ids`);
  }
  const layers = manifest.layers.map((l, i): LayerDescriptor => {
    const mediaType = OCI_LAYER_TYPES[l.mediaType ?? ''];
    if (!mediaType) throw new KilnError('InvalidArgument', `parent image layer ${l.digest ?? i} has the unsupported media type ${l.mediaType ?? '(none)'}`);
    return { mediaType, digest: l.digest as Digest, size: l.size ?? 0, diffId: diffIds[i] as Digest, uncompressedSize: 0 };
  });
  const created = config.created ? Date.parse(config.created) : NaN;
  const history = config.history ?? layers.map(() => ({}));
  return { layers, config: config.config ?? {}, history, sourceDateEpoch: Number.isFinite(created) ? Math.floor(created / 1000) : 0 };
}

/**
 * The history a single snapshot layer gets: the Dockerfile's entries with every filesystem step but the last
 * marked empty, so that entries and layers still match one to one (OCI's rule), and one entry when no
 * instruction claimed the layer.
 */
export function snapshotHistory(entries: readonly HistoryEntry[], created: string): HistoryEntry[] {
  const last = entries.map((e) => !e.empty_layer).lastIndexOf(true);
  const out = entries.map((e, i) => ({ ...e, created, ...(i === last || e.empty_layer ? {} : { empty_layer: true }) }));
  if (last < 0) out.push({ created, created_by: 'kiln: build snapshot', comment: 'kiln' });
  return out;
}
