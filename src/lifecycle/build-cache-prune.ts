/**
 * Least-recently-used collection of the step cache's index (issue 16). Only entries are removed here: the layers
 * and disks they named become garbage, and the next garbage collection frees them (gc.ts keeps what live entries
 * name). The garbage collector runs it against the configured limit (`buildCacheGiB`); `kiln cache prune` runs it
 * for one account.
 */
import type { BuildCache, BuildCacheEntry } from '../store/roles/build-cache.js';

/** What a prune removed: the entries (least recently used first) and the bytes they kept alive. */
export interface BuildCachePruneResult {
  removed: BuildCacheEntry[];
  bytes: number;
}

/**
 * Removes entries, least recently used first, until the sizes of those left add up to at most `keepBytes`
 * (0 removes them all); only the account's when `accountId` is given. The entries kept are thus the most
 * recently used ones that fit.
 */
export async function pruneBuildCache(store: Pick<BuildCache, 'listCacheEntries' | 'deleteCacheEntries'>, options: { keepBytes: number; accountId?: string }): Promise<BuildCachePruneResult> {
  const entries = await store.listCacheEntries(options.accountId === undefined ? {} : { accountId: options.accountId });
  let total = entries.reduce((n, e) => n + e.size, 0);
  const removed: BuildCacheEntry[] = [];
  // listCacheEntries answers most recently used first: walk it from the end.
  for (let i = entries.length - 1; i >= 0 && (total > options.keepBytes || options.keepBytes <= 0); i--) {
    const entry = entries[i]!;
    removed.push(entry);
    total -= entry.size;
  }
  if (removed.length > 0) await store.deleteCacheEntries(removed.map((e) => e.key));
  return { removed, bytes: removed.reduce((n, e) => n + e.size, 0) };
}

/** The bytes the account's entries (or all entries) keep alive. */
export async function buildCacheBytes(store: Pick<BuildCache, 'listCacheEntries'>, accountId?: string): Promise<number> {
  return (await store.listCacheEntries(accountId === undefined ? {} : { accountId })).reduce((n, e) => n + e.size, 0);
}
