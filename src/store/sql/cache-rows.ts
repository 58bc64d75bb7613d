/** The `build_cache` row both SQL backends read, and how it becomes a BuildCacheEntry. */
import type { BuildCacheEntry } from '../roles/build-cache.js';
import type { StoredTime } from './rows.js';

export interface CacheRow {
  key: string;
  account_id: string;
  kind: string;
  label: string;
  size: number;
  /** The engine's JSON, kept as text so it reads back exactly as written. */
  entry: string;
  created_at: StoredTime;
  last_used_at: StoredTime;
}

const iso = (t: StoredTime): string => (typeof t === 'string' ? t : t.toISOString());

export const toCacheEntry = (r: CacheRow): BuildCacheEntry => ({
  key: r.key,
  accountId: r.account_id,
  kind: r.kind === 'disk' ? 'disk' : 'layer',
  label: r.label,
  size: Number(r.size),
  entry: JSON.parse(r.entry) as Record<string, unknown>,
  createdAt: iso(r.created_at),
  lastUsedAt: iso(r.last_used_at),
});

/** Most recently used first; ties (one clock tick) by the later creation, then by key, so the order is total. */
export const CACHE_ORDER = 'ORDER BY last_used_at DESC, created_at DESC, key';

/** Keys per statement: within SQLite's bound on parameters, and small enough to keep one statement short. */
export const CACHE_KEYS_PER_STATEMENT = 500;

/** `keys` in slices of at most CACHE_KEYS_PER_STATEMENT, without duplicates (so counts of deleted rows add up). */
export function keyBatches(keys: readonly string[]): string[][] {
  const unique = [...new Set(keys)];
  const out: string[][] = [];
  for (let i = 0; i < unique.length; i += CACHE_KEYS_PER_STATEMENT) out.push(unique.slice(i, i + CACHE_KEYS_PER_STATEMENT));
  return out;
}
