/**
 * The step cache's index (issue 16, ADR 0013): what a build unit (a group of Dockerfile lines, one component,
 * an assembled disk) produced, under the sha256 of everything that decides its result. The bytes themselves
 * (layers, disks) live in the blob and disk stores; an entry only names them, so every node that shares the
 * store and the object store hits the same cache. Times come from the store's clock.
 */

/** One cached result. `entry` is the engine's own JSON (the layer descriptor, history, the disk digest). */
export interface BuildCacheEntry {
  /** Hex sha256 of the unit's inputs; unique across accounts (the account is one of the inputs). */
  key: string;
  accountId: string;
  /** `layer` for a build unit's changes (possibly none), `disk` for an assembled machine disk. */
  kind: 'layer' | 'disk';
  /** What a person reads in `kiln cache ls`: the component ARN, `Dockerfile lines 1-3`, `disk`. */
  label: string;
  /** Bytes the entry keeps alive in the blob or disk store (0 when it produced nothing). */
  size: number;
  entry: Record<string, unknown>;
  /** ISO times. */
  createdAt: string;
  lastUsedAt: string;
}

/** The step cache's index; see BuildCacheEntry. */
export interface BuildCache {
  /** The entry under `key`, or undefined. Does not count as a use: the engine calls `touchCacheEntries` for hits. */
  getCacheEntry(key: string): Promise<BuildCacheEntry | undefined>;
  /** Records an entry (replacing one with the same key: a rebuild after a prune); createdAt and lastUsedAt = now. */
  putCacheEntry(entry: Omit<BuildCacheEntry, 'createdAt' | 'lastUsedAt'>): Promise<void>;
  /** Sets lastUsedAt = now on the entries that exist; unknown keys are ignored. */
  touchCacheEntries(keys: readonly string[]): Promise<void>;
  /** Entries, most recently used first; only the account's when `accountId` is given. */
  listCacheEntries(filter?: { accountId?: string }): Promise<BuildCacheEntry[]>;
  /** Removes the entries; returns how many existed. */
  deleteCacheEntries(keys: readonly string[]): Promise<number>;
}
