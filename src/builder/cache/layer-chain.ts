/**
 * A build cut into units, one layer each, with the step cache in front of every unit (ADR 0013; a build whose
 * recipe leaves the cache off runs as one unit on one instance and never comes here). A unit (a
 * Dockerfile instruction that changes files, one component's build and validate phases) runs on a fresh
 * instance over the layers before it, and its overlay upper becomes its layer; with the cache on, a unit whose
 * key (step-cache-keys.ts) is recorded does not run: its layer is taken from the blob store as the entry names it.
 *
 * An instance is launched only for a unit that must run, and terminated once its layer is stored, so a build
 * whose units all hit launches nothing and unpacks nothing. An entry is written only after its unit succeeded
 * and its layer is stored: a failed or cancelled unit leaves nothing a later build could trust.
 */
import { readdir } from 'node:fs/promises';
import type { BlobStore } from '../../artifacts/blob-store.js';
import type { HistoryEntry } from '../dockerfile/dockerfile-exec.js';
import { writeLayer, type LayerDescriptor } from '../../artifacts/oci/layer.js';
import type { LayerCache } from '../../artifacts/oci/unpack.js';
import { snapshotDirOf, type DriverInstance } from '../../drivers/driver.js';
import type { OutputSink } from '../../logs/line-assembler.js';
import type { BuildCache } from '../../store/roles/build-cache.js';
import { chainKey, type UnitInputs } from './step-cache-keys.js';

/** What a chain needs from the build. */
export interface LayerChainOptions {
  cache: BuildCache;
  blobs: BlobStore;
  layers: LayerCache;
  compression: 'gzip' | 'zstd';
  accountId: string;
  /** The parent's layers, bottom first, and the epoch new layers' times are clamped to. */
  parent: { layers: readonly LayerDescriptor[]; sourceDateEpoch: number };
  /** The key units chain from (chainBase). */
  base: string;
  /** Launches an instance over the layer dirs (top first), held by the build (released on every path). */
  launch(layerDirs: string[], signal: AbortSignal): Promise<DriverInstance>;
  /** Terminates the instance `launch` gave last. */
  terminate(): Promise<void>;
  log: OutputSink;
  signal: AbortSignal;
}

/** A unit to run: what it is called in logs and `kiln cache ls`, its inputs, and its work on an instance. */
export interface BuildUnit {
  label: string;
  inputs: UnitInputs;
  /** Runs the unit; resolves to the history entries it adds (at most one of them claims the layer). */
  run(instance: DriverInstance): Promise<HistoryEntry[]>;
}

/** What a layer entry of the cache records. */
interface LayerEntry {
  layer: LayerDescriptor | null;
  history: HistoryEntry[];
}

function isLayerEntry(value: Record<string, unknown>): value is Record<string, unknown> & LayerEntry {
  const layer = value.layer;
  return Array.isArray(value.history) && (layer === null || (typeof layer === 'object' && typeof (layer as { digest?: unknown }).digest === 'string'));
}

/**
 * The history a unit's layer gets: the entry that claimed a layer keeps it (the last one when several did),
 * the others are empty; a unit that changed nothing has only empty entries, and a layer no entry claimed gets
 * one of its own, so that entries and layers match one to one (OCI's rule).
 */
function unitHistory(entries: readonly HistoryEntry[], layer: boolean, label: string): HistoryEntry[] {
  const last = layer ? entries.map((e) => !e.empty_layer).lastIndexOf(true) : -1;
  const out = entries.map((e, i) => {
    const { empty_layer: _, ...rest } = e;
    return i === last ? rest : { ...rest, empty_layer: true };
  });
  if (layer && last < 0) out.push({ created_by: `kiln: ${label}`, comment: 'kiln' });
  return out;
}

/** One build's units, in order; see the module comment. */
export class LayerChain {
  /** The layers the units made or took from the cache, bottom first. */
  readonly layers: LayerDescriptor[] = [];
  /** The units' history entries, in order, without `created` (the image writer dates them). */
  readonly history: HistoryEntry[] = [];
  /** Units (and of them, components) taken from the cache, and units that ran. */
  cached = 0;
  ran = 0;
  cachedComponents = 0;
  ranComponents = 0;
  private key: string;

  constructor(private readonly options: LayerChainOptions) {
    this.key = options.base;
  }

  /** Runs `unit`, or takes its result from the cache; resolves to whether it ran. */
  async unit(unit: BuildUnit): Promise<{ ran: boolean; history: HistoryEntry[] }> {
    const o = this.options;
    const key = chainKey(this.key, unit.inputs);
    const hit = await this.lookup(key);
    if (hit) {
      this.key = key;
      if (hit.layer) this.layers.push(hit.layer);
      this.history.push(...hit.history);
      this.cached++;
      if (unit.inputs.unit === 'component') this.cachedComponents++;
      await o.cache.touchCacheEntries([key]);
      o.log(`cached: ${unit.label} (${hit.layer ? `layer ${hit.layer.digest}, ${hit.layer.size} bytes` : 'no changes'})\n`);
      return { ran: false, history: hit.history };
    }
    o.log(`cache miss: ${unit.label}\n`);
    const instance = await o.launch(await this.layerDirs(), o.signal);
    const entries = await unit.run(instance);
    const upper = snapshotDirOf(instance);
    const changed = (await readdir(upper)).length > 0;
    // Unpacked from the same tar stream, so the next unit's instance stacks it without a gunzip.
    const written = changed
      ? await writeLayer(o.blobs, upper, { source: 'overlay-upper', sourceDateEpoch: o.parent.sourceDateEpoch, compression: o.compression, signal: o.signal, unpackInto: o.layers })
      : null;
    const layer: LayerDescriptor | null = written && { mediaType: written.mediaType, digest: written.digest, size: written.size, diffId: written.diffId, uncompressedSize: written.uncompressedSize };
    await o.terminate();
    const history = unitHistory(entries, layer !== null, unit.label);
    const entry: LayerEntry = { layer, history };
    await o.cache.putCacheEntry({ key, accountId: o.accountId, kind: 'layer', label: unit.label, size: layer?.size ?? 0, entry: entry as unknown as Record<string, unknown> });
    this.key = key;
    if (layer) this.layers.push(layer);
    this.history.push(...history);
    this.ran++;
    if (unit.inputs.unit === 'component') this.ranComponents++;
    o.log(layer ? `layer ${layer.digest} (${layer.size} bytes, ${layer.uncompressedSize} uncompressed): ${unit.label}\n` : `no changes: ${unit.label}\n`);
    return { ran: true, history };
  }

  /** The chain's key so far: what a later cache (an assembled disk) keys on. */
  get currentKey(): string {
    return this.key;
  }

  /** A recorded entry whose layer is still stored; an entry whose blob was collected is dropped. */
  private async lookup(key: string): Promise<LayerEntry | undefined> {
    const o = this.options;
    const found = await o.cache.getCacheEntry(key);
    if (!found || found.kind !== 'layer' || !isLayerEntry(found.entry)) return undefined;
    const { layer, history } = found.entry;
    if (layer && !(await o.blobs.stat(layer.digest))) {
      await o.cache.deleteCacheEntries([key]);
      return undefined;
    }
    return { layer, history };
  }

  /** The unpacked dirs of the parent's layers and the chain's, top first (unpacked now if needed). */
  private async layerDirs(): Promise<string[]> {
    const all = [...this.options.parent.layers, ...this.layers];
    const dirs: string[] = [];
    for (const layer of all) dirs.push(await this.options.layers.layerDir(layer, this.options.signal));
    return dirs.reverse();
  }
}
