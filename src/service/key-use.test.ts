import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authenticatingKeys, KeyUseRecorder } from './key-use.js';

/** A clock the test moves, and a store that records the writes it gets (and fails them when told to). */
function harness() {
  let now = Date.parse('2026-03-01T10:00:00.000Z');
  const writes: [string, string][] = [];
  let failing = false;
  const errors: unknown[] = [];
  const store = {
    recordAccessKeyUse: (id: string, at: string) => {
      if (failing) return Promise.reject(new Error('disk full'));
      writes.push([id, at]);
      return Promise.resolve();
    },
    getAccessKeySecret: (id: string) => Promise.resolve(id === 'AK1' ? { accountId: '000000000001', secretAccessKey: 's' } : undefined),
  };
  const recorder = new KeyUseRecorder(store, { now: () => new Date(now), onError: (err) => errors.push(err) });
  return { store, recorder, writes, errors, advance: (ms: number) => (now += ms), fail: (on: boolean) => (failing = on) };
}

test('key use: written on first use, then at most once a minute per key', () => {
  const h = harness();
  h.recorder.used('AK1');
  h.recorder.used('AK1');
  h.recorder.used('AK2');
  h.advance(59_999);
  h.recorder.used('AK1');
  h.advance(1);
  h.recorder.used('AK1');
  assert.deepEqual(h.writes, [
    ['AK1', '2026-03-01T10:00:00.000Z'],
    ['AK2', '2026-03-01T10:00:00.000Z'],
    ['AK1', '2026-03-01T10:01:00.000Z'],
  ]);
});

test('key use: a failed write is reported, never thrown, and retried on the next use', async () => {
  const h = harness();
  h.fail(true);
  assert.doesNotThrow(() => h.recorder.used('AK1'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal((h.errors[0] as Error).message, 'disk full');
  h.fail(false);
  h.recorder.used('AK1');
  assert.deepEqual(h.writes, [['AK1', '2026-03-01T10:00:00.000Z']]);
});

test('key use: the lookup finds only what the store authenticates, and marks use only when verified', async () => {
  const h = harness();
  const lookup = authenticatingKeys(h.store, h.recorder);
  assert.equal(await lookup('AK9'), undefined);
  const found = await lookup('AK1');
  assert.deepEqual([found?.accountId, found?.secretAccessKey], ['000000000001', 's']);
  assert.deepEqual(h.writes, [], 'a lookup alone is no use: the signature may still be wrong');
  found?.verified();
  assert.deepEqual(h.writes, [['AK1', '2026-03-01T10:00:00.000Z']]);
});
