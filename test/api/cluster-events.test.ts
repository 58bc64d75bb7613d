/**
 * Events across nodes with real servers: two Kiln servers on one PostgreSQL database see each other's image
 * state changes on `/kiln/events` with the same ids, and resume across nodes with Last-Event-ID; a notification
 * whose POST a stopped server never made is sent after the restart.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CancelImageCreationCommand, ImagebuilderClient } from '@aws-sdk/client-imagebuilder';
import { openStore, startServer } from '../../src/app/server-start.js';
import { ensureAdmin } from '../../src/service/accounts.js';
import { advance } from '../../src/builder/stages/image-record.js';
import { kilnFetch } from '../../src/cli/kiln-client.js';
import { ImageEventFeed } from '../../src/events/event-log-feed.js';
import { ImageEventBus } from '../../src/events/image-events.js';
import { readSseEvents } from '../../src/events/sse.js';
import { startReceiver } from '../../src/events/events-fixture.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { postgresUnavailable, startPostgres, type LocalPostgres } from '../helpers/postgres.js';
import { createImage, data, openStream } from './event-stream.js';
import { readCredentials, startFixture } from './fixture.js';

// Needs root and Debian's postgresql-15: the tests start their own throwaway cluster as the postgres user.
const skip = postgresUnavailable();
let server: LocalPostgres | undefined;
before(async () => {
  if (!skip) server = await startPostgres();
});
after(() => server?.stop());

test('two servers on one PostgreSQL database: a change made through one is on the other stream, same id, once; Last-Event-ID resumes on either', { skip }, async (t) => {
  const shared = mkdtempSync(path.join(tmpdir(), 'kiln-pg-events-'));
  t.after(() => rmSync(shared, { recursive: true, force: true }));
  const config = { store: await server!.createDatabase(), secretKeyFile: path.join(shared, 'secret.key') };
  const a = await startFixture(t, { config });
  const b = await startFixture(t, { config });
  const onA = await openStream(t, a);
  const onB = await openStream(t, b);

  const arn = await createImage(a.client(), 'across');
  const pendingB = await onB.waitFor((e) => data(e).imageBuildVersionArn === arn);
  const pendingA = await onA.waitFor((e) => data(e).imageBuildVersionArn === arn);
  assert.equal(data(pendingB).status, 'PENDING');
  assert.equal(pendingB.id, pendingA.id, 'one number on every node');

  const started = Date.now();
  await a.client().send(new CancelImageCreationCommand({ imageBuildVersionArn: arn }));
  const answered = Date.now();
  const cancelledB = await onB.waitFor((e) => data(e).status === 'CANCELLED');
  t.diagnostic(`CancelImageCreation on node A took ${answered - started} ms; node B's stream had the change ${Date.now() - answered} ms after A answered`);
  const cancelledA = await onA.waitFor((e) => data(e).status === 'CANCELLED');
  assert.equal(cancelledB.id, cancelledA.id);
  assert.equal(data(cancelledB).previousStatus, 'PENDING');

  // And the other way round: node B's change reaches node A.
  const fromB = await createImage(b.client(), 'back');
  await onA.waitFor((e) => data(e).imageBuildVersionArn === fromB);
  await new Promise((r) => setTimeout(r, 600));
  for (const stream of [onA, onB]) {
    const ids = stream.events.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, `no event twice: ${ids.join(',')}`);
    assert.deepEqual(
      stream.events.map((e) => [data(e).imageBuildVersionArn, data(e).status]),
      [
        [arn, 'PENDING'],
        [arn, 'CANCELLED'],
        [fromB, 'PENDING'],
      ],
    );
  }
  assert.deepEqual(onA.events.map((e) => e.id), onB.events.map((e) => e.id));

  // A client that saw PENDING on node A reconnects to node B: B replays what it missed from the log.
  const controller = new AbortController();
  t.after(() => controller.abort());
  const resumed = await kilnFetch(
    { endpoint: b.server.endpoint, region: 'local', credentials: { ...b.credentials, source: 'test' } },
    { method: 'GET', path: '/kiln/events', headers: { 'last-event-id': pendingA.id! }, signal: controller.signal },
  );
  const replayed: string[] = [];
  for await (const e of readSseEvents(resumed.body!)) {
    replayed.push(`${e.id} ${data(e).status}`);
    if (replayed.length === 2) break;
  }
  assert.deepEqual(replayed, [`${cancelledA.id} CANCELLED`, `${onA.events[2]!.id} PENDING`]);
});

test('on PostgreSQL, LISTEN/NOTIFY wakes a node at once; polling alone takes up to its interval (measured)', { skip }, async (t) => {
  const url = await server!.createDatabase();
  const keyDir = mkdtempSync(path.join(tmpdir(), 'kiln-pg-key-'));
  t.after(() => rmSync(keyDir, { recursive: true, force: true }));
  const secrets = SecretBox.openKeyFile(path.join(keyDir, 'secret.key'));
  const writer = await PostgresStore.open({ connectionString: url, secrets });
  const reader = await PostgresStore.open({ connectionString: url, secrets });
  t.after(async () => {
    await writer.close();
    await reader.close();
  });
  const arrivals = new Map<string, number[]>();
  const follow = async (name: string, options: { pollMs: number; listen: boolean }): Promise<ImageEventFeed> => {
    const bus = new ImageEventBus();
    const times: number[] = [];
    arrivals.set(name, times);
    bus.subscribe(() => void times.push(performance.now()));
    const feed = new ImageEventFeed({ log: reader, bus, pollMs: options.pollMs, ...(options.listen ? { wake: (on, err) => reader.listenForEvents(on, err) } : {}) });
    await feed.start();
    t.after(() => feed.stop());
    return feed;
  };
  await follow('listen', { pollMs: 0, listen: true });
  await follow('poll 250 ms', { pollMs: 250, listen: false });

  const { record } = await writer.createResource({
    accountId: '111122223333', region: 'local', type: 'image', name: 'timed', version: '1.0.0', arn: 'arn:aws:imagebuilder:local:111122223333:image/timed/1.0.0', build: 'assign', data: { state: { status: 'PENDING' } },
  });
  const committed: number[] = [performance.now()];
  const statuses = ['CREATING', 'BUILDING', 'TESTING', 'DISTRIBUTING', 'INTEGRATING', 'AVAILABLE', 'DEPRECATED', 'DISABLED', 'AVAILABLE', 'DEPRECATED'];
  for (const status of statuses) {
    await new Promise((r) => setTimeout(r, 97));
    await writer.updateResource(record.arn, (c) => ({ ...c.data, state: { status } }));
    committed.push(performance.now());
  }
  const deadline = Date.now() + 3000;
  while ([...arrivals.values()].some((times) => times.length < committed.length) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const report: string[] = [];
  const medians = new Map<string, number>();
  for (const [name, times] of arrivals) {
    assert.equal(times.length, committed.length, `${name}: every change arrived`);
    const lags = times.map((at, i) => at - committed[i]!).sort((x, y) => x - y);
    medians.set(name, lags[Math.floor(lags.length / 2)]!);
    report.push(`${name}: median ${lags[Math.floor(lags.length / 2)]!.toFixed(1)} ms, max ${lags[lags.length - 1]!.toFixed(1)} ms`);
  }
  t.diagnostic(`commit → another node's bus, ${committed.length} changes: ${report.join('; ')}`);
  assert.ok(medians.get('listen')! < medians.get('poll 250 ms')!, 'LISTEN/NOTIFY is faster than polling');
});

test('a build end committed by another process while the webhook hangs is sent after the server restarts', async (t) => {
  let up = false;
  const receiver = await startReceiver(t, () => (up ? 200 : 'hang'));
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-outbox-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const setup = openStore(dataDir);
  const accountId = (await ensureAdmin(setup)).account.accountId;
  await setup.close();
  const topic = `arn:aws:sns:local:${accountId}:builds`;
  const notifications = { topics: { [topic]: [{ url: receiver.url, secret: 's' }] }, delivery: { attempts: 2, firstRetryMs: 50, maxRetryMs: 50, timeoutMs: 60_000 } };

  const server1 = await startServer({ dataDir, listen: '127.0.0.1:0', builds: false, config: { notifications } });
  const credentials = readCredentials(server1.credentialsPath);
  const client = new ImagebuilderClient({ endpoint: server1.endpoint, region: 'local', credentials, maxAttempts: 1 });
  t.after(() => client.destroy());
  const arn = await createImage(client, 'durable', { snsTopicArn: topic });
  // Another process on the same data directory (a worker, `kiln` tooling) ends the build: the server hears of
  // it only through the event log.
  const other = openStore(dataDir);
  for (const status of ['CREATING', 'BUILDING', 'FAILED'] as const) await advance(other, arn, status, status === 'FAILED' ? { reason: 'Step Build failed' } : {});
  await other.close();
  const deadline = Date.now() + 10_000;
  while (receiver.received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(receiver.received.length, 1, 'the first attempt reached the (hanging) receiver');
  // Kiln stops between the state change and a completed POST.
  await server1.close();

  up = true;
  await startFixture(t, { dataDir, config: { notifications } });
  while (receiver.received.length < 2 && Date.now() < deadline + 10_000) await new Promise((r) => setTimeout(r, 20));
  assert.equal(receiver.received.length, 2, 'sent again after the restart');
  const message = JSON.parse((JSON.parse(receiver.received[1]!.body) as { Message: string }).Message) as { arn: string; state: { status: string; reason?: string } };
  assert.equal(message.arn, arn);
  assert.deepEqual(message.state, { status: 'FAILED', reason: 'Step Build failed' });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(receiver.received.length, 2, 'and only once');
});
