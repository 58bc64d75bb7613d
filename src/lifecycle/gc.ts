/**
 * Garbage collection of the artifact stores: blobs, unpacked layers and machine-image disks that nothing
 * references any more, typically after a lifecycle DELETE removed an image's record, registry tags and
 * machine images. Mark and sweep:
 *
 * - roots: every image record not DELETED (its container image, machine root filesystem and disk, and the
 *   parent its build plan names), every machine image (disk, root filesystem), every import task (disk), every manifest in Kiln's
 *   registry, every blob a registry repository links (an upload waiting for its manifest links its blobs), and
 *   the layer or disk each entry of the step cache names;
 * - marking follows manifests to their configs and layers, and indexes to their manifests;
 * - sweeping spares anything younger than a grace period (a writer stores a blob before a record names it),
 *   and the whole sweep waits while a build or other background job is under way: a reproducible build may
 *   store a layer whose bytes (and old file) already exist, and only its record, written later, would name it.
 *
 * Unpacked layers follow their blobs: a layer directory is kept while its blob is kept. Given a limit, the pass
 * first removes the step cache's least recently used entries beyond it (build-cache-prune.ts), so what they
 * named is collected in the same pass.
 */
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import type { BlobStore } from '../artifacts/blob-store.js';
import type { DiskStore } from '../artifacts/disk/disk-store.js';
import type { LayerCache } from '../artifacts/oci/unpack.js';
import { KilnError } from '../domain/errors.js';
import { MAX_MANIFEST_BYTES, parseManifest } from '../registry/manifest.js';
import type { BuildCache, JobQueue, RegistryIndex, ResourceRecord, ResourceStore, Store } from '../store/store.js';
import { type GarbageReport } from './execution-records.js';
import { LIFECYCLE_EXECUTION_JOB } from '../domain/job-kinds.js';
import type { JsonObject } from '../domain/json.js';
import { pruneBuildCache } from './build-cache-prune.js';

export interface GcDeps {
  store: Store;
  blobs: BlobStore;
  layers?: LayerCache;
  disks?: DiskStore;
  /** Files younger than this (by modification time, wall clock) are kept. */
  graceMs: number;
  /** The step cache's size limit in bytes (`buildCacheGiB`): entries beyond it, least recently used first, are removed. */
  buildCacheBytes?: number;
}

/** What a collection did; `deferred` names the jobs that made it wait (nothing was removed then). */
export interface GcResult extends GarbageReport {
  deferred?: string;
  /** Unreferenced files kept because they are younger than the grace period. */
  young: number;
  /** Step cache entries removed for the size limit, and the bytes they kept alive (freed now unless young). */
  cacheEntries?: number;
  cacheBytes?: number;
}

const SHA256 = /^sha256:[0-9a-f]{64}$/;

function digestAt(value: unknown, key: string): string | undefined {
  const v = typeof value === 'object' && value !== null ? (value as JsonObject)[key] : undefined;
  return typeof v === 'string' && SHA256.test(v) ? v : undefined;
}

/** The blobs and disks a record names directly. */
function recordRoots(record: ResourceRecord, blobs: Set<string>, disks: Set<string>): void {
  const d = record.data;
  const add = (digest: string | undefined, into: Set<string>) => {
    if (digest !== undefined) into.add(digest);
  };
  for (const ref of [d.containerImage, (d.machine as JsonObject | undefined)?.rootfs, d.rootfs]) {
    add(digestAt(ref, 'manifestDigest'), blobs);
    add(digestAt(ref, 'configDigest'), blobs);
  }
  add(digestAt((d.machine as JsonObject | undefined)?.disk, 'digest'), disks);
  add(digestAt(d.disk, 'digest'), disks);
  // A machine parent's plan may name a disk instead of a manifest; keeping it in both sets costs nothing.
  const parent = digestAt((d.buildPlan as JsonObject | undefined)?.parent, 'manifestDigest');
  add(parent, blobs);
  add(parent, disks);
}

/** The layer (kind `layer`; null when the unit changed nothing) or disk (kind `disk`) a step cache entry names. */
function cacheEntryRoots(kind: string, entry: JsonObject, blobs: Set<string>, disks: Set<string>): void {
  const digest = kind === 'disk' ? digestAt(entry.disk, 'digest') : digestAt(entry.layer, 'digest');
  if (digest !== undefined) (kind === 'disk' ? disks : blobs).add(digest);
}

/** Every blob and disk the store's records, registry and step cache name directly. */
export async function gcRoots(store: ResourceStore & RegistryIndex & BuildCache): Promise<{ blobs: Set<string>; disks: Set<string> }> {
  const blobs = new Set<string>();
  const disks = new Set<string>();
  for (const record of await store.listResourcesOfType('image')) {
    if ((record.data.state as { status?: string } | undefined)?.status === 'DELETED') continue;
    recordRoots(record, blobs, disks);
  }
  for (const record of await store.listResourcesOfType('machine-image')) recordRoots(record, blobs, disks);
  // An import task keeps its disk until an image names it (ImportVmImage) and after: the task can be named again.
  for (const record of await store.listResourcesOfType('import-image-task')) recordRoots(record, blobs, disks);
  for (const m of await store.listRegistryManifests()) blobs.add(m.digest);
  for (const digest of await store.listLinkedRegistryBlobs()) blobs.add(digest);
  for (const e of await store.listCacheEntries()) cacheEntryRoots(e.kind, e.entry as JsonObject, blobs, disks);
  return { blobs, disks };
}

/** The roots and everything their manifests reach (configs, layers, an index's manifests, recursively). */
export async function reachableBlobs(blobs: BlobStore, roots: Iterable<string>, signal?: AbortSignal): Promise<Set<string>> {
  const live = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    if (signal?.aborted) throw new KilnError('Cancelled', 'garbage collection was cancelled');
    const digest = queue.pop()!;
    if (live.has(digest)) continue;
    live.add(digest);
    const info = await blobs.stat(digest);
    if (!info || info.size > MAX_MANIFEST_BYTES) continue;
    const bytes = await blobs.get(digest);
    // Configs and layers are not manifests: only a JSON object with a schemaVersion can be one.
    if (bytes[0] !== 0x7b) continue;
    try {
      const manifest = parseManifest(bytes);
      if (manifest.kind === 'index') queue.push(...manifest.manifests.map((m) => m.digest));
      else queue.push(manifest.config.digest, ...manifest.layers.map((l) => l.digest));
    } catch {
      // A JSON blob that is no manifest (an image config) references nothing.
    }
  }
  return live;
}

/** Background jobs other than lifecycle executions that are running now, as `kind resource` text. */
async function busyJobs(store: JobQueue): Promise<string[]> {
  const leased = await store.listJobs({ state: 'leased' });
  return leased.filter((j) => j.kind !== LIFECYCLE_EXECUTION_JOB).map((j) => `${j.kind} ${j.resourceArn}`);
}

async function mtimeMs(file: string): Promise<number | undefined> {
  return (await fsp.stat(file).catch(() => undefined))?.mtimeMs;
}

/** What a collection freed, as the runner logs it: `freed 3 blobs (…) …, pruned 2 step cache entries (… bytes)`. */
export function gcSummary(gc: GcResult): string {
  const pruned = gc.cacheEntries ? `; pruned ${gc.cacheEntries} step cache entries (${gc.cacheBytes ?? 0} bytes)` : '';
  return `freed ${gc.blobs} blobs (${gc.blobBytes} bytes), ${gc.layers} unpacked layers, ${gc.disks} disks (${gc.diskBytes} bytes)${pruned}`;
}

/**
 * Removes what nothing references (see the module comment) and reports what was freed. While another job is
 * leased it removes nothing and says which one (`deferred`); the caller tries again later.
 */
export async function collectGarbage(deps: GcDeps, signal?: AbortSignal): Promise<GcResult> {
  const result: GcResult = { blobs: 0, blobBytes: 0, layers: 0, disks: 0, diskBytes: 0, young: 0 };
  const busy = await busyJobs(deps.store);
  if (busy.length > 0) return { ...result, deferred: busy.join(', ') };
  if (deps.buildCacheBytes !== undefined) {
    const pruned = await pruneBuildCache(deps.store, { keepBytes: deps.buildCacheBytes });
    result.cacheEntries = pruned.removed.length;
    result.cacheBytes = pruned.bytes;
  }
  const roots = await gcRoots(deps.store);
  const live = await reachableBlobs(deps.blobs, roots.blobs, signal);
  const cutoff = Date.now() - deps.graceMs;
  const isYoung = async (file: string) => ((await mtimeMs(file)) ?? 0) > cutoff;

  const kept = new Set(live);
  for (const info of await deps.blobs.list()) {
    if (signal?.aborted) throw new KilnError('Cancelled', 'garbage collection was cancelled');
    if (live.has(info.digest)) continue;
    if (((await deps.blobs.storedAt(info.digest)) ?? 0) > cutoff) {
      kept.add(info.digest);
      result.young++;
      continue;
    }
    if (await deps.blobs.delete(info.digest)) {
      result.blobs++;
      result.blobBytes += info.size;
    }
  }

  if (deps.layers) {
    // A layer unpacked moments ago for a blob that is itself gone is kept as young too, not swept mid-use.
    for (const name of await fsp.readdir(deps.layers.root).catch(() => [] as string[])) {
      if (/^[0-9a-f]{64}$/.test(name) && !kept.has(`sha256:${name}`) && (await isYoung(path.join(deps.layers.root, name)))) kept.add(`sha256:${name}`);
    }
    result.layers = await deps.layers.prune(kept);
  }

  if (deps.disks) {
    for (const disk of await deps.disks.list()) {
      if (signal?.aborted) throw new KilnError('Cancelled', 'garbage collection was cancelled');
      if (roots.disks.has(disk.digest)) continue;
      const storedAt = await deps.disks.storedAt(disk.digest);
      if (storedAt === undefined) continue;
      if (storedAt > cutoff) {
        result.young++;
        continue;
      }
      const { bytes } = await deps.disks.remove(disk.digest);
      result.disks++;
      result.diskBytes += bytes;
    }
  }
  return result;
}

/**
 * A node's own cache of unpacked layers, swept by the node itself: on a cluster's workers the collection above
 * runs elsewhere (on the scheduler node) and frees only that node's copies. A layer directory is removed once
 * its blob is gone from the shared blob store (so no image needs it any more) and it is older than the grace
 * period. The caller runs it only while nothing on the node stacks layers (no build, no kept instance).
 */
export async function collectLocalLayers(deps: { blobs: BlobStore; layers: LayerCache; graceMs: number }, signal?: AbortSignal): Promise<number> {
  const cutoff = Date.now() - deps.graceMs;
  const kept = new Set<string>();
  for (const name of await fsp.readdir(deps.layers.root).catch(() => [] as string[])) {
    if (signal?.aborted) throw new KilnError('Cancelled', 'the layer cache sweep was cancelled');
    if (!/^[0-9a-f]{64}$/.test(name)) continue;
    const digest = `sha256:${name}`;
    if (((await mtimeMs(path.join(deps.layers.root, name))) ?? 0) > cutoff || (await deps.blobs.stat(digest)) !== undefined) kept.add(digest);
  }
  return deps.layers.prune(kept);
}
