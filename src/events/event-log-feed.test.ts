import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { advance } from '../builder/stages/image-record.js';
import { SecretBox } from '../store/secret-box.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { ImageEventFeed, type WakeSource } from './event-log-feed.js';
import { ImageEventBus, observeImageStates, type ImageStateChange } from './image-events.js';
import { createImage } from './events-fixture.js';

/** Two "nodes": two SqliteStore connections on one database file, each with its own bus and feed. */
function twoNodes(t: TestContext, options: { pollMs?: number; wake?: WakeSource } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-feed-'));
  const open = () => {
    const raw = new SqliteStore({ path: path.join(dir, 'kiln.db'), secrets: SecretBox.openKeyFile(path.join(dir, 'secret.key')) });
    const bus = new ImageEventBus();
    const feed = new ImageEventFeed({ log: raw, bus, pollMs: options.pollMs ?? 20, ...(options.wake ? { wake: options.wake } : {}) });
    const seen: ImageStateChange[] = [];
    bus.subscribe((e) => void seen.push(e));
    return { raw, bus, feed, store: observeImageStates(raw, feed), seen };
  };
  const a = open();
  const b = open();
  t.after(async () => {
    for (const n of [a, b]) {
      await n.feed.stop();
      await n.raw.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return { a, b };
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a change made through one node reaches the other node by polling, with the same number; each bus gets it once', async (t) => {
  const { a, b } = twoNodes(t);
  await Promise.all([a.feed.start(), b.feed.start()]);
  const image = await createImage(a.store);
  // The writer's own bus has the event when the write resolves; its poll and its catch-up never repeat it.
  assert.deepEqual(a.seen.map((e) => e.status), ['PENDING']);
  await advance(a.store, image.arn, 'CREATING');
  await advance(b.store, image.arn, 'CANCELLED', { reason: 'cancelled on node b' });
  await until(() => a.seen.length === 3 && b.seen.length === 3);
  await new Promise((r) => setTimeout(r, 100));
  for (const node of [a, b]) {
    assert.deepEqual(
      node.seen.map((e) => [e.seq, e.previousStatus, e.status, e.reason]),
      [
        [1, undefined, 'PENDING', undefined],
        [2, 'PENDING', 'CREATING', undefined],
        [3, 'CREATING', 'CANCELLED', 'cancelled on node b'],
      ],
    );
  }
  assert.equal(b.bus.lastSeq, 3);
  // Each node knows which changes were written through it (what its metrics count), whichever read delivered them.
  assert.deepEqual(a.seen.map((e) => e.local === true), [true, true, false]);
  assert.deepEqual(b.seen.map((e) => e.local === true), [false, false, true]);
});

test("batch updates and creates with assigned build numbers are marked as the writer node's; a failed write marks nothing", async (t) => {
  const { a, b } = twoNodes(t);
  await Promise.all([a.feed.start(), b.feed.start()]);
  const one = await createImage(a.store, { name: 'one' });
  const two = await createImage(a.store, { name: 'one' });
  assert.match(two.arn, /\/2$/);
  await assert.rejects(
    a.store.updateResource(one.arn, () => {
      throw new Error('refused');
    }),
    /refused/,
  );
  const batch = (a.store as unknown as { updateResources(c: { arn: string; change: (c: { data: Record<string, unknown> }) => Record<string, unknown> | undefined }[]): Promise<unknown> }).updateResources.bind(a.store);
  await batch([
    { arn: one.arn, change: (c) => ({ ...c.data, state: { status: 'CANCELLED' } }) },
    { arn: two.arn, change: (c) => ({ ...c.data, note: 'no state change' }) },
  ]);
  // Node b moves image two on: an event a must not count as its own.
  await advance(b.store, two.arn, 'CANCELLED');
  await until(() => a.seen.length === 4);
  assert.deepEqual(
    a.seen.map((e) => [e.arn, e.status, e.local === true]),
    [
      [one.arn, 'PENDING', true],
      [two.arn, 'PENDING', true],
      [one.arn, 'CANCELLED', true],
      [two.arn, 'CANCELLED', false],
    ],
  );
});

test('a feed starts at the end of the log: what was logged before it started is history, not news', async (t) => {
  const { a, b } = twoNodes(t, { pollMs: 0 });
  const image = await createImage(a.store);
  await advance(a.store, image.arn, 'CREATING');
  const bus = new ImageEventBus();
  const seen: ImageStateChange[] = [];
  bus.subscribe((e) => void seen.push(e));
  const late = new ImageEventFeed({ log: b.raw, bus, pollMs: 0 });
  await late.start();
  assert.equal(bus.lastSeq, 2);
  await advance(a.store, image.arn, 'BUILDING');
  await late.catchUp();
  assert.deepEqual(seen.map((e) => [e.seq, e.status]), [[3, 'BUILDING']]);
});

test('a wake-up source (LISTEN/NOTIFY on PostgreSQL) makes a feed read at once, without polling', async (t) => {
  let wake: (() => void) | undefined;
  let stopped = false;
  const source: WakeSource = async (onEvent) => {
    wake = onEvent;
    return async () => {
      stopped = true;
    };
  };
  const { a, b } = twoNodes(t, { pollMs: 0, wake: source });
  await Promise.all([a.feed.start(), b.feed.start()]);
  await createImage(a.store);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(b.seen.length, 0, 'no polling: nothing read yet');
  wake!();
  await until(() => b.seen.length === 1);
  await b.feed.stop();
  assert.equal(stopped, true);
});

test('concurrent catch-ups of many writers hand every event on once, in order', async (t) => {
  const { a } = twoNodes(t, { pollMs: 1 });
  await a.feed.start();
  const images = await Promise.all(Array.from({ length: 10 }, (_, i) => createImage(a.store, { name: `img${i}` })));
  await Promise.all(images.map((i) => advance(a.store, i.arn, 'CREATING')));
  await Promise.all([a.feed.catchUp(), a.feed.catchUp(), a.feed.catchUp()]);
  assert.deepEqual(
    a.seen.map((e) => e.seq),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
});

test('a bus never hands the same numbered event on twice', () => {
  const bus = new ImageEventBus();
  bus.seek(41);
  const seen: number[] = [];
  bus.subscribe((e) => void seen.push(e.seq));
  const e = { seq: 42, arn: 'arn', accountId: '1', region: 'r', status: 'PENDING' as const, time: new Date().toISOString() };
  assert.equal(bus.deliver(e), true);
  assert.equal(bus.deliver(e), false);
  assert.equal(bus.deliver({ ...e, seq: 40 }), false);
  assert.deepEqual(seen, [42]);
});
