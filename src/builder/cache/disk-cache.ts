/**
 * The step cache's assembled disks (ADR 0013): a machine build whose root filesystem is the same layer stack as an
 * earlier build's, at the same size, reuses that build's disk instead of assembling it again.
 */
import type { DiskStore } from '../../artifacts/disk/disk-store.js';
import type { OutputSink } from '../../logs/line-assembler.js';
import type { BuildCache } from '../../store/roles/build-cache.js';
import type { AssembledRoot } from '../machine/machine-disk.js';
import { chainKey } from './step-cache-keys.js';

/** An assembled disk and what its root filesystem holds. */
export type AssembledDisk = AssembledRoot;

function isAssembled(entry: Record<string, unknown>): entry is Record<string, unknown> & AssembledDisk {
  const disk = entry.disk as { digest?: unknown } | undefined;
  // Entries from before Kiln recorded inventories lack one: assembled again, once.
  const inventory = entry.inventory as { packages?: unknown } | undefined;
  return typeof disk?.digest === 'string' && Array.isArray(entry.packages) && Array.isArray(inventory?.packages);
}

/**
 * The disk of the layer stack `layers` (manifest order) at `sizeMiB`: the cached one when its entry exists and
 * the disk is still stored, else `assemble()`'s, recorded for the next build. `key` is the unit chain's key, so
 * an entry is never shared across accounts.
 */
export async function cachedDisk(
  options: { cache: BuildCache; disks: Pick<DiskStore, 'has'>; accountId: string; key: string; layers: string[]; sizeMiB: number | undefined; log: OutputSink },
  assemble: () => Promise<AssembledDisk>,
): Promise<AssembledDisk> {
  const { cache, log } = options;
  const key = chainKey(options.key, { unit: 'disk', layers: options.layers, sizeMiB: options.sizeMiB ?? null });
  const found = await cache.getCacheEntry(key);
  if (found?.kind === 'disk' && isAssembled(found.entry)) {
    if (await options.disks.has(found.entry.disk.digest)) {
      await cache.touchCacheEntries([key]);
      log(`cached: disk ${found.entry.disk.digest} (the same layers at the same size)\n`);
      return { disk: found.entry.disk, inventory: found.entry.inventory, packages: found.entry.packages };
    }
    await cache.deleteCacheEntries([key]);
  }
  const made = await assemble();
  const entry: AssembledDisk = { disk: made.disk, inventory: made.inventory, packages: made.packages };
  await cache.putCacheEntry({ key, accountId: options.accountId, kind: 'disk', label: 'disk', size: made.disk.sizeBytes, entry: entry as unknown as Record<string, unknown> });
  return made;
}
