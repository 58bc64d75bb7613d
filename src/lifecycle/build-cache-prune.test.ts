import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCacheBytes, pruneBuildCache } from './build-cache-prune.js';
import { tempStore } from './testing.js';
import type { Store } from '../store/store.js';

const key = (n: number): string => n.toString(16).padStart(64, '0');

/** Entries 1..n, used in that order (so 1 is the least recently used), with the given sizes and accounts. */
async function fill(store: Store, entries: { size: number; account?: string }[]): Promise<void> {
  for (const [i, e] of entries.entries()) {
    await store.putCacheEntry({ key: key(i + 1), accountId: e.account ?? '000000000001', kind: 'layer', label: `unit ${i + 1}`, size: e.size, entry: { layer: null } });
    await new Promise((resolve) => setTimeout(resolve, 3));
  }
}

test('pruneBuildCache: least recently used first, until what is left fits; a use saves an entry', async (t) => {
  const { store } = tempStore(t);
  await fill(store, [{ size: 100 }, { size: 200 }, { size: 300 }, { size: 400 }]);
  await store.touchCacheEntries([key(1)]);
  // 1000 bytes, keep 750: entry 2 (200) and then 3 (300) go; 1 was used last, so it stays.
  const first = await pruneBuildCache(store, { keepBytes: 750 });
  assert.deepEqual(first.removed.map((e) => e.label), ['unit 2', 'unit 3']);
  assert.equal(first.bytes, 500);
  assert.equal(await buildCacheBytes(store), 500);
  const again = await pruneBuildCache(store, { keepBytes: 750 });
  assert.deepEqual([again.removed, again.bytes], [[], 0], 'within the limit, nothing goes');
  const exact = await pruneBuildCache(store, { keepBytes: 500 });
  assert.deepEqual(exact.removed, [], 'a total equal to the limit is within it');
  const all = await pruneBuildCache(store, { keepBytes: 0 });
  assert.deepEqual(all.removed.map((e) => e.label), ['unit 4', 'unit 1']);
  assert.deepEqual(await store.listCacheEntries(), []);
});

test('pruneBuildCache: with an account, only its entries count and go', async (t) => {
  const { store } = tempStore(t);
  await fill(store, [{ size: 100, account: '000000000002' }, { size: 100 }, { size: 100 }, { size: 500, account: '000000000002' }]);
  const pruned = await pruneBuildCache(store, { keepBytes: 100, accountId: '000000000001' });
  assert.deepEqual(pruned.removed.map((e) => e.label), ['unit 2']);
  assert.equal(await buildCacheBytes(store, '000000000002'), 600, 'another account\'s entries are untouched, however old');
  assert.equal(await buildCacheBytes(store), 700);
});
