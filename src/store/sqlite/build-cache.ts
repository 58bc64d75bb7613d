/**
 * The BuildCache role on SQLite. Times are SQLite's own clock (ISO text to the millisecond, as the nodes table's),
 * so the least-recently-used order is one clock's even when several processes share the file.
 */
import type Database from 'better-sqlite3';
import { asPromise } from './as-promise.js';
import type { BuildCache, BuildCacheEntry } from '../roles/build-cache.js';
import { CACHE_ORDER, keyBatches, toCacheEntry, type CacheRow } from '../sql/cache-rows.js';

const NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/** The BuildCache methods over one open database; the store class delegates to them. */
export function sqliteBuildCache(db: Database.Database): BuildCache {
  const get = db.prepare('SELECT * FROM build_cache WHERE key = ?');
  const put = db.prepare(
    `INSERT INTO build_cache (key, account_id, kind, label, size, entry, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ${NOW}, ${NOW})
     ON CONFLICT (key) DO UPDATE SET account_id = excluded.account_id, kind = excluded.kind, label = excluded.label, size = excluded.size,
       entry = excluded.entry, created_at = excluded.created_at, last_used_at = excluded.last_used_at`,
  );
  const listAll = db.prepare(`SELECT * FROM build_cache ${CACHE_ORDER}`);
  const listAccount = db.prepare(`SELECT * FROM build_cache WHERE account_id = ? ${CACHE_ORDER}`);
  const inKeys = (n: number): string => `(${Array.from({ length: n }, () => '?').join(', ')})`;
  const touch = db.transaction((keys: readonly string[]) => {
    for (const batch of keyBatches(keys)) db.prepare(`UPDATE build_cache SET last_used_at = ${NOW} WHERE key IN ${inKeys(batch.length)}`).run(...batch);
  });
  const remove = db.transaction((keys: readonly string[]) => {
    let n = 0;
    for (const batch of keyBatches(keys)) n += db.prepare(`DELETE FROM build_cache WHERE key IN ${inKeys(batch.length)}`).run(...batch).changes;
    return n;
  });
  return {
    getCacheEntry: (key: string) =>
      asPromise(() => {
        const row = get.get(key) as CacheRow | undefined;
        return row ? toCacheEntry(row) : undefined;
      }),
    putCacheEntry: (e: Omit<BuildCacheEntry, 'createdAt' | 'lastUsedAt'>) =>
      asPromise(() => void put.run(e.key, e.accountId, e.kind, e.label, e.size, JSON.stringify(e.entry))),
    touchCacheEntries: (keys: readonly string[]) => asPromise(() => (keys.length === 0 ? undefined : void touch.immediate(keys))),
    listCacheEntries: (filter?: { accountId?: string }) =>
      asPromise(() => ((filter?.accountId === undefined ? listAll.all() : listAccount.all(filter.accountId)) as CacheRow[]).map(toCacheEntry)),
    deleteCacheEntries: (keys: readonly string[]) => asPromise(() => (keys.length === 0 ? 0 : remove.immediate(keys))),
  };
}
