/**
 * The BuildCache role on PostgreSQL. Every time is the database's `now()`, so the least-recently-used order is one
 * clock's across nodes.
 */
import type pg from 'pg';
import type { BuildCache, BuildCacheEntry } from '../roles/build-cache.js';
import { CACHE_ORDER, keyBatches, toCacheEntry, type CacheRow } from '../sql/cache-rows.js';

/** The BuildCache methods over a pool; the store class delegates to them. */
export function postgresBuildCache(pool: Pick<pg.Pool, 'query'>): BuildCache {
  return {
    async getCacheEntry(key: string): Promise<BuildCacheEntry | undefined> {
      const { rows } = await pool.query<CacheRow>('SELECT * FROM build_cache WHERE key = $1', [key]);
      return rows[0] ? toCacheEntry(rows[0]) : undefined;
    },
    async putCacheEntry(e: Omit<BuildCacheEntry, 'createdAt' | 'lastUsedAt'>): Promise<void> {
      // clock_timestamp(), not now(): a transaction's now() is its start, and two puts in one would tie.
      await pool.query(
        `INSERT INTO build_cache (key, account_id, kind, label, size, entry, created_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp(), clock_timestamp())
         ON CONFLICT (key) DO UPDATE SET account_id = excluded.account_id, kind = excluded.kind, label = excluded.label, size = excluded.size,
           entry = excluded.entry, created_at = excluded.created_at, last_used_at = excluded.last_used_at`,
        [e.key, e.accountId, e.kind, e.label, e.size, JSON.stringify(e.entry)],
      );
    },
    async touchCacheEntries(keys: readonly string[]): Promise<void> {
      for (const batch of keyBatches(keys)) await pool.query('UPDATE build_cache SET last_used_at = clock_timestamp() WHERE key = ANY($1::text[])', [batch]);
    },
    async listCacheEntries(filter?: { accountId?: string }): Promise<BuildCacheEntry[]> {
      const { rows } =
        filter?.accountId === undefined
          ? await pool.query<CacheRow>(`SELECT * FROM build_cache ${CACHE_ORDER}`)
          : await pool.query<CacheRow>(`SELECT * FROM build_cache WHERE account_id = $1 ${CACHE_ORDER}`, [filter.accountId]);
      return rows.map(toCacheEntry);
    },
    async deleteCacheEntries(keys: readonly string[]): Promise<number> {
      let n = 0;
      for (const batch of keyBatches(keys)) n += (await pool.query('DELETE FROM build_cache WHERE key = ANY($1::text[])', [batch])).rowCount ?? 0;
      return n;
    },
  };
}
