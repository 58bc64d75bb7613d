/**
 * The notifier's durable outbox: deliveries survive a stopped Kiln, and several nodes on one store send each
 * delivery once.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { advance } from '../builder/stages/image-record.js';
import { SecretBox } from '../store/secret-box.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';
import { ImageEventBus, observeImageStates } from './image-events.js';
import type { NotificationsConfig } from './notification-config.js';
import { Notifier, type DeliveryOutcome } from './notifier.js';
import { ACCOUNT, createImage, startReceiver } from './events-fixture.js';

const TOPIC = `arn:aws:sns:local:${ACCOUNT}:image-builds`;

/** A store on a database file a test may open more than once (a restart, a second node). */
function database(t: TestContext): () => { store: Store; bus: ImageEventBus } {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-outbox-'));
  const opened: SqliteStore[] = [];
  t.after(async () => {
    for (const s of opened) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const raw = new SqliteStore({ path: path.join(dir, 'kiln.db'), secrets: SecretBox.openKeyFile(path.join(dir, 'secret.key')) });
    opened.push(raw);
    const bus = new ImageEventBus();
    return { store: observeImageStates(raw, bus), bus };
  };
}

function notifier(t: TestContext, node: { store: Store; bus: ImageEventBus }, config: NotificationsConfig, deliveries: DeliveryOutcome[] = []): Notifier {
  const n = new Notifier({ ...node, config, log: () => undefined, onDelivery: (r) => deliveries.push(r.outcome), pollMs: 50 });
  t.after(() => n.stop());
  return n;
}

async function buildToAvailable(store: Store, arn: string): Promise<void> {
  for (const s of ['CREATING', 'BUILDING', 'AVAILABLE'] as const) await advance(store, arn, s);
}

test('a build that ended while no notifier ran is announced when one starts', async (t) => {
  const receiver = await startReceiver(t, () => 200);
  const config: NotificationsConfig = { topics: { [TOPIC]: [{ url: receiver.url }] }, delivery: { attempts: 2, firstRetryMs: 10, maxRetryMs: 10, timeoutMs: 1000 } };
  const open = database(t);
  const node = open();
  // The state change commits; Kiln "stops" before anything was sent (no notifier ever ran).
  const image = await createImage(node.store, { snsTopicArn: TOPIC });
  await buildToAvailable(node.store, image.arn);
  assert.equal(receiver.received.length, 0);

  const restarted = open();
  const n = notifier(t, restarted, config);
  n.start();
  await n.idle();
  assert.equal(receiver.received.length, 1);
  assert.equal(JSON.parse(JSON.parse(receiver.received[0]!.body).Message).arn, image.arn);
  assert.deepEqual((await restarted.store.listDeliveries()).map((d) => [d.state, d.attempts]), [['delivered', 1]]);
  // Started again, nothing is sent twice.
  const again = notifier(t, open(), config);
  again.start();
  await again.idle();
  assert.equal(receiver.received.length, 1);
});

test('a delivery under way when Kiln stops is handed back and sent after the restart, with the same message id', async (t) => {
  let up = false;
  const receiver = await startReceiver(t, () => (up ? 200 : 'hang'));
  const config: NotificationsConfig = { topics: { [TOPIC]: [{ url: receiver.url }] }, delivery: { attempts: 3, firstRetryMs: 10, maxRetryMs: 10, timeoutMs: 60_000 } };
  const open = database(t);
  const first = open();
  const deliveries: DeliveryOutcome[] = [];
  const n1 = notifier(t, first, config, deliveries);
  n1.start();
  const image = await createImage(first.store, { snsTopicArn: TOPIC });
  await buildToAvailable(first.store, image.arn);
  while (receiver.received.length === 0) await new Promise((r) => setTimeout(r, 10));
  await n1.stop();
  assert.deepEqual(deliveries, [{ delivered: false, attempts: 1, error: 'stopped' }]);
  assert.deepEqual((await first.store.listDeliveries()).map((d) => [d.state, d.attempts, d.lastError]), [['pending', 1, 'stopped']]);

  up = true;
  const second = open();
  const n2 = notifier(t, second, config, deliveries);
  n2.start();
  await n2.idle();
  assert.equal(receiver.received.length, 2);
  assert.equal(deliveries[1]!.delivered, true);
  const ids = receiver.received.map((r) => r.headers['x-amz-sns-message-id']);
  assert.equal(ids[0], ids[1], 'receivers can drop the repeat by its message id');
  assert.deepEqual((await second.store.listDeliveries()).map((d) => [d.state, d.attempts]), [['delivered', 2]]);
});

test('two nodes on one store, both notifying: every build end reaches each endpoint once', async (t) => {
  const a = await startReceiver(t, () => 200);
  const b = await startReceiver(t, () => 200);
  const config: NotificationsConfig = { topics: { [TOPIC]: [{ url: a.url }, { url: b.url }] }, delivery: { attempts: 2, firstRetryMs: 10, maxRetryMs: 10, timeoutMs: 1000 } };
  const open = database(t);
  const one = open();
  const two = open();
  const n1 = notifier(t, one, config);
  const n2 = notifier(t, two, config);
  n1.start();
  n2.start();
  const images = await Promise.all([0, 1, 2].map((i) => createImage(i % 2 ? one.store : two.store, { name: `img${i}`, snsTopicArn: TOPIC })));
  await Promise.all(images.map((image, i) => buildToAvailable(i % 2 ? two.store : one.store, image.arn)));
  // Node two hears of node one's changes only through the log: wait until both have nothing left to do.
  const deadline = Date.now() + 5000;
  while ((await one.store.listDeliveries('delivered')).length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await Promise.all([n1.idle(), n2.idle()]);
  await new Promise((r) => setTimeout(r, 200));
  await Promise.all([n1.idle(), n2.idle()]);
  for (const receiver of [a, b]) {
    const arns = receiver.received.map((r) => JSON.parse(JSON.parse(r.body).Message).arn as string).sort();
    assert.deepEqual(arns, images.map((i) => i.arn).sort());
  }
});
