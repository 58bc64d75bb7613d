import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { advance } from '../builder/stages/image-record.js';
import { ExecutionRecorder } from '../builder/records/execution-records.js';
import { ImageEventBus, observeImageStates } from './image-events.js';
import { DEFAULT_DELIVERY, type DeliveryPolicy, type NotificationsConfig } from './notification-config.js';
import { deliverWebhook, Notifier, redactUrl, type DeliveryOutcome } from './notifier.js';
import { snsNotification, type ImageSnsMessage } from './sns-message.js';
import { SIGNATURE_HEADER, verifySignature } from './signature.js';
import type { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { ACCOUNT, createImage, startReceiver, tempStore } from './events-fixture.js';

const FAST: DeliveryPolicy = { attempts: 5, firstRetryMs: 20, maxRetryMs: 80, timeoutMs: 2000 };
const TOPIC = `arn:aws:sns:local:${ACCOUNT}:image-builds`;
const notification = () => snsNotification({ topicArn: TOPIC, messageId: 'm-1', message: '{"x":1}', timestamp: new Date() });

test('a receiver that fails twice and then answers 200 gets the same notification three times, signed each time', async (t) => {
  const receiver = await startReceiver(t, (n) => (n <= 2 ? 503 : 200));
  const n = notification();
  const started = Date.now();
  const outcome = await deliverWebhook({ url: receiver.url, secret: 'sekrit' }, n, FAST, new AbortController().signal);
  assert.deepEqual(outcome, { delivered: true, attempts: 3, status: 200 });
  assert.ok(Date.now() - started >= 20 + 40, 'waited firstRetryMs, then twice that');
  assert.equal(receiver.received.length, 3);
  for (const r of receiver.received) {
    assert.equal(r.body, n.body);
    assert.equal(r.headers['x-amz-sns-message-type'], 'Notification');
    assert.equal(r.headers['x-amz-sns-message-id'], 'm-1', 'one message id across retries, so receivers can drop repeats');
    assert.equal(r.headers['x-amz-sns-topic-arn'], TOPIC);
    assert.equal(verifySignature('sekrit', r.headers[SIGNATURE_HEADER] as string, r.body, 60), true);
  }
});

test('a 4xx other than 408/429 is final; an endpoint without a secret gets no signature header', async (t) => {
  const receiver = await startReceiver(t, () => 403);
  const outcome = await deliverWebhook({ url: receiver.url }, notification(), FAST, new AbortController().signal);
  assert.deepEqual(outcome, { delivered: false, attempts: 1, status: 403, error: 'HTTP 403' });
  assert.equal(receiver.received[0]!.headers[SIGNATURE_HEADER], undefined);
  const throttled = await startReceiver(t, (n) => (n === 1 ? 429 : 204));
  assert.deepEqual(await deliverWebhook({ url: throttled.url }, notification(), FAST, new AbortController().signal), { delivered: true, attempts: 2, status: 204 });
});

test('a receiver that never answers or cannot be reached does not throw: each attempt times out, then it gives up', async (t) => {
  const receiver = await startReceiver(t, () => 'hang');
  const policy = { attempts: 3, firstRetryMs: 10, maxRetryMs: 10, timeoutMs: 150 };
  const started = Date.now();
  const outcome = await deliverWebhook({ url: receiver.url }, notification(), policy, new AbortController().signal);
  assert.deepEqual(outcome, { delivered: false, attempts: 3, error: 'no answer within 150 ms' });
  assert.equal(receiver.received.length, 3);
  assert.ok(Date.now() - started < 2000);
  // A port that was just free: nothing listens there.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const refused = await deliverWebhook({ url: `http://127.0.0.1:${port}/` }, notification(), policy, new AbortController().signal);
  assert.equal(refused.delivered, false);
  assert.equal(refused.attempts, 3);
  assert.match(refused.error ?? '', /ECONNREFUSED/);
});

test('redactUrl keeps tokens in webhook paths and queries out of logs', () => {
  assert.equal(redactUrl('https://hooks.example.com/services/T000/B000/XXXX?token=1'), 'https://hooks.example.com');
});

interface Harness {
  store: SqliteStore;
  notifier: Notifier;
  logs: string[];
  deliveries: DeliveryOutcome[];
}

function harness(t: TestContext, config: NotificationsConfig): Harness {
  const bus = new ImageEventBus();
  const store = observeImageStates(tempStore(t), bus);
  const logs: string[] = [];
  const deliveries: DeliveryOutcome[] = [];
  const notifier = new Notifier({ store, bus, config, log: (line) => logs.push(line), onDelivery: (r) => deliveries.push(r.outcome) });
  notifier.start();
  t.after(() => notifier.stop());
  return { store, notifier, logs, deliveries };
}

async function build(store: Harness['store'], arn: string, end: 'AVAILABLE' | 'FAILED' | 'CANCELLED', reason?: string): Promise<void> {
  await advance(store, arn, 'CREATING');
  await advance(store, arn, 'BUILDING');
  await advance(store, arn, end, { ...(reason ? { reason } : {}), ...(end === 'AVAILABLE' ? { patch: { outputResources: { containers: [{ region: 'local', imageUris: ['127.0.0.1:8420/web:1.0.0-1'] }] } } } : {}) });
}

test('an image that becomes AVAILABLE is announced to every endpoint of its topic with the SNS image message', async (t) => {
  const a = await startReceiver(t, () => 200);
  const b = await startReceiver(t, (n) => (n === 1 ? 500 : 200));
  const { store, notifier, logs } = harness(t, { topics: { [TOPIC]: [{ url: a.url, secret: 'one' }, { url: b.url, secret: 'two' }] }, delivery: FAST });
  const image = await createImage(store, { snsTopicArn: TOPIC });
  const recorder = new ExecutionRecorder(store, '/nonexistent-logs');
  const wf = await recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: 'arn:aws:imagebuilder:local:aws:workflow/build/build-container/1.0.0/1', totalStepCount: 0 });
  await build(store, image.arn, 'AVAILABLE');
  await notifier.idle();

  assert.deepEqual(logs, []);
  assert.equal(a.received.length, 1);
  assert.equal(b.received.length, 2, 'the failing endpoint was retried on its own');
  const envelope = JSON.parse(a.received[0]!.body) as Record<string, string>;
  assert.equal(verifySignature('one', a.received[0]!.headers[SIGNATURE_HEADER] as string, a.received[0]!.body, 60), true);
  assert.equal(verifySignature('two', b.received[1]!.headers[SIGNATURE_HEADER] as string, b.received[1]!.body, 60), true);
  assert.equal(envelope.Type, 'Notification');
  assert.equal(envelope.TopicArn, TOPIC);
  assert.equal(JSON.parse(b.received[1]!.body).MessageId, envelope.MessageId, 'one message, one id, for all subscribers');
  assert.notEqual(a.received[0]!.headers['x-amz-sns-subscription-arn'], b.received[0]!.headers['x-amz-sns-subscription-arn']);
  const m = JSON.parse(envelope.Message!) as ImageSnsMessage;
  assert.equal(m.arn, image.arn);
  assert.equal(m.versionlessArn, `arn:aws:imagebuilder:local:${ACCOUNT}:image/web`);
  assert.deepEqual(m.state, { status: 'AVAILABLE' });
  assert.equal(m.buildVersion, 1);
  assert.equal(m.accountId, ACCOUNT);
  assert.equal(m.infrastructureConfiguration?.snsTopicArn, TOPIC);
  assert.equal(m.buildExecutionId, wf.workflowExecutionId);
  assert.deepEqual(m.outputResources.containers?.[0]?.imageUris, ['127.0.0.1:8420/web:1.0.0-1']);
  assert.equal(m.dateCreated, 'Jul 28, 2022 1:13:45 AM');
});

test('FAILED is announced with its reason; CANCELLED, other topics, unconfigured topics and foreign accounts are not', async (t) => {
  const receiver = await startReceiver(t, () => 200);
  const other = `arn:aws:sns:local:${ACCOUNT}:other`;
  const foreign = 'arn:aws:sns:local:999999999999:theirs';
  const { store, notifier, logs } = harness(t, { topics: { [TOPIC]: [{ url: receiver.url }], [foreign]: [{ url: receiver.url }] }, delivery: FAST });
  const failed = await createImage(store, { name: 'failed', snsTopicArn: TOPIC });
  await build(store, failed.arn, 'FAILED', 'Step ApplyBuildComponents failed');
  await build(store, (await createImage(store, { name: 'cancelled', snsTopicArn: TOPIC })).arn, 'CANCELLED', 'by request');
  await build(store, (await createImage(store, { name: 'silent' })).arn, 'AVAILABLE');
  await build(store, (await createImage(store, { name: 'unconfigured', snsTopicArn: other })).arn, 'AVAILABLE');
  await build(store, (await createImage(store, { name: 'unconfigured2', snsTopicArn: other })).arn, 'FAILED');
  await build(store, (await createImage(store, { name: 'foreign', snsTopicArn: foreign })).arn, 'AVAILABLE');
  await notifier.idle();

  assert.equal(receiver.received.length, 1);
  const m = JSON.parse((JSON.parse(receiver.received[0]!.body) as { Message: string }).Message) as ImageSnsMessage;
  assert.equal(m.arn, failed.arn);
  assert.deepEqual(m.state, { status: 'FAILED', reason: 'Step ApplyBuildComponents failed' });
  assert.deepEqual(logs, [
    `no webhook is configured for the SNS topic ${other} (notifications.topics in the server configuration); images that name it are not notified`,
    `the SNS topic ${foreign} belongs to another account than ${ACCOUNT}; images of ${ACCOUNT} are not sent to it`,
  ]);
});

test('a failing receiver never fails the build: the state change completes at once, the failure is only logged', async (t) => {
  const receiver = await startReceiver(t, () => 'hang');
  const { store, notifier, logs, deliveries } = harness(t, { topics: { [TOPIC]: [{ url: receiver.url }] }, delivery: { attempts: 2, firstRetryMs: 10, maxRetryMs: 10, timeoutMs: 500 } });
  const image = await createImage(store, { snsTopicArn: TOPIC });
  const started = Date.now();
  await build(store, image.arn, 'AVAILABLE');
  assert.ok(Date.now() - started < 500, 'advance() did not wait for the receiver (which takes a second to give up)');
  await notifier.idle();
  assert.deepEqual(deliveries, [{ delivered: false, attempts: 2, error: 'no answer within 500 ms' }]);
  assert.equal(logs.length, 1);
  assert.match(logs[0]!, new RegExp(`^notification of ${image.arn.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} AVAILABLE to endpoint 1 of ${TOPIC} \\(http://127\\.0\\.0\\.1:\\d+\\) failed after 2 attempt\\(s\\): no answer within 500 ms$`));
  assert.doesNotMatch(logs[0]!, /token=hidden/);
});

test('stop() aborts deliveries under way at once', async (t) => {
  const receiver = await startReceiver(t, () => 'hang');
  const { store, notifier, deliveries } = harness(t, { topics: { [TOPIC]: [{ url: receiver.url }] }, delivery: { ...DEFAULT_DELIVERY, timeoutMs: 60_000 } });
  await build(store, (await createImage(store, { snsTopicArn: TOPIC })).arn, 'AVAILABLE');
  while (receiver.received.length === 0) await new Promise((r) => setTimeout(r, 10));
  const started = Date.now();
  await notifier.stop();
  assert.ok(Date.now() - started < 1000, `stopped in ${Date.now() - started} ms`);
  assert.deepEqual(deliveries, [{ delivered: false, attempts: 1, error: 'stopped' }]);
});
