import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advance, patchImage, ImageStateChanged } from '../builder/stages/image-record.js';
import { ImageEventBus, observeImageStates, type ImageStateChange } from './image-events.js';
import { ACCOUNT, REGION, createImage, tempStore } from './events-fixture.js';

function collect(bus: ImageEventBus): ImageStateChange[] {
  const seen: ImageStateChange[] = [];
  bus.subscribe((e) => void seen.push(e));
  return seen;
}

test('a created image and each committed status change are published, after the commit, never for a no-op', async (t) => {
  const raw = tempStore(t);
  const bus = new ImageEventBus({ firstSeq: 1 });
  const store = observeImageStates(raw, bus);
  const seen = collect(bus);
  // What a listener reads from the store in its turn: the change must already be committed.
  const storedAtPublish: string[] = [];
  bus.subscribe(async (e) => {
    const record = await raw.getResource(e.arn);
    storedAtPublish.push(String((record!.data.state as { status: string }).status));
  });

  const image = await createImage(store);
  assert.equal(seen.length, 1);
  assert.deepEqual({ ...seen[0], time: undefined }, { seq: 1, arn: image.arn, accountId: ACCOUNT, region: REGION, status: 'PENDING', time: undefined, local: true });

  await advance(store, image.arn, 'CREATING');
  await advance(store, image.arn, 'BUILDING', { patch: { buildPlan: { x: 1 } } });
  // No-ops: a patch that keeps the state, a move to the state it is in, and a refused move.
  await patchImage(store, image.arn, { note: 'no state change' });
  await advance(store, image.arn, 'BUILDING');
  await assert.rejects(advance(store, image.arn, 'PENDING'), ImageStateChanged);
  await advance(store, image.arn, 'FAILED', { reason: 'Step ApplyBuildComponents failed' });

  assert.deepEqual(
    seen.map((e) => [e.seq, e.previousStatus, e.status, e.reason]),
    [
      [1, undefined, 'PENDING', undefined],
      [2, 'PENDING', 'CREATING', undefined],
      [3, 'CREATING', 'BUILDING', undefined],
      [4, 'BUILDING', 'FAILED', 'Step ApplyBuildComponents failed'],
    ],
  );
  assert.ok(seen.every((e) => !Number.isNaN(Date.parse(e.time))));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(storedAtPublish, ['PENDING', 'CREATING', 'BUILDING', 'FAILED']);
});

test('an aborted update, another resource type and an idempotent repeat publish nothing', async (t) => {
  const bus = new ImageEventBus();
  const store = observeImageStates(tempStore(t), bus);
  const image = await createImage(store);
  const seen = collect(bus);

  await assert.rejects(
    store.updateResource(image.arn, () => {
      throw new Error('refused inside the transaction');
    }),
    /refused inside/,
  );
  const { record: infra } = await store.createResource({ accountId: ACCOUNT, region: REGION, type: 'infrastructure-configuration', name: 'i', version: '', arn: `arn:aws:imagebuilder:${REGION}:${ACCOUNT}:infrastructure-configuration/i`, build: 'none', data: { state: { status: 'PENDING' } } });
  await store.updateResource(infra.arn, (c) => ({ ...c.data, state: { status: 'AVAILABLE' } }));

  const key = { operation: 'CancelImageCreation', token: 'tok-1', inputHash: 'h' };
  const cancel = (c: { data: Record<string, unknown> }) => ({ ...c.data, state: { status: 'CANCELLED', reason: 'by test' } });
  await store.updateResource(image.arn, cancel, key);
  await store.updateResource(image.arn, cancel, key);
  assert.deepEqual(
    seen.map((e) => [e.previousStatus, e.status, e.reason]),
    [['PENDING', 'CANCELLED', 'by test']],
  );
});

test("a listener's failure never reaches the store's caller; unsubscribe stops delivery; recent events replay by seq", async (t) => {
  const failures: string[] = [];
  const bus = new ImageEventBus({ historySize: 2, onListenerError: (err) => failures.push((err as Error).message) });
  const store = observeImageStates(tempStore(t), bus);
  bus.subscribe(() => {
    throw new Error('sync listener bug');
  });
  bus.subscribe(async () => {
    throw new Error('async listener bug');
  });
  const seen: string[] = [];
  const unsubscribe = bus.subscribe((e) => void seen.push(e.status));
  assert.equal(bus.listenerCount, 3);

  const image = await createImage(store);
  await advance(store, image.arn, 'CREATING');
  unsubscribe();
  await advance(store, image.arn, 'CANCELLED', { reason: 'x' });
  await new Promise((r) => setImmediate(r));

  assert.deepEqual(seen, ['PENDING', 'CREATING']);
  assert.deepEqual(failures.sort(), ['async listener bug', 'async listener bug', 'async listener bug', 'sync listener bug', 'sync listener bug', 'sync listener bug']);
  // Numbered by the store's event log (a fresh one: 1, 2, 3).
  assert.equal(bus.lastSeq, 3);
  // History keeps the last two.
  assert.deepEqual(bus.since(0).map((e) => e.seq), [2, 3]);
  assert.deepEqual(bus.since(2).map((e) => e.status), ['CANCELLED']);
});

test('the decorator delegates everything else to the wrapped store, its own methods included', async (t) => {
  const raw = tempStore(t);
  const store = observeImageStates(raw, new ImageEventBus());
  await store.createAccount({ name: 'a', accountId: ACCOUNT, accessKeyId: 'AKIATEST', secretAccessKey: 's' });
  assert.equal((await store.listAccounts()).length, 1);
  assert.equal(store.schemaVersion(), raw.schemaVersion());
  const image = await createImage(store);
  assert.equal((await store.getResource(image.arn))?.arn, image.arn);
});

test('batch updates (updateResources, where the store has it) publish each image whose status changed', async (t) => {
  const raw = tempStore(t);
  const batch = (raw as unknown as { updateResources?: unknown }).updateResources;
  if (typeof batch !== 'function') return t.skip('this store has no updateResources');
  const bus = new ImageEventBus();
  const store = observeImageStates(raw, bus);
  const a = await createImage(store, { name: 'a' });
  const b = await createImage(store, { name: 'b' });
  for (const arn of [a.arn, b.arn]) for (const s of ['CREATING', 'BUILDING', 'AVAILABLE'] as const) await advance(store, arn, s);
  const seen = collect(bus);
  const update = (store as unknown as { updateResources(changes: { arn: string; change: (c: { data: Record<string, unknown> }) => Record<string, unknown> | undefined }[]): Promise<unknown[]> }).updateResources.bind(store);
  await update([
    { arn: a.arn, change: (c) => ({ ...c.data, state: { status: 'DEPRECATED' } }) },
    { arn: b.arn, change: (c) => ({ ...c.data, note: 'same state' }) },
  ]);
  assert.deepEqual(
    seen.map((e) => [e.arn, e.previousStatus, e.status]),
    [[a.arn, 'AVAILABLE', 'DEPRECATED']],
  );
});
