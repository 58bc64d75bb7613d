/**
 * Image events end to end: the signed server-sent event stream of a real Kiln server read with a SigV4-signed
 * fetch, `kiln events`, and an SNS-style webhook receiving the message of a real build.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CancelImageCreationCommand,
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateImageCommand,
  CreateInfrastructureConfigurationCommand,
  ImagebuilderClient,
  ListWorkflowExecutionsCommand,
} from '@aws-sdk/client-imagebuilder';
import { kilnFetch } from '../../src/cli/kiln-client.js';
import { runLogs } from '../../src/cli/logs-command.js';
import { openStore, startServer } from '../../src/app/server-start.js';
import { readSseEvents } from '../../src/events/sse.js';
import { verifySignature, type ImageSnsMessage } from '../../src/events/sns-message.js';
import { createAccount, ensureAdmin } from '../../src/service/accounts.js';
import { bashComponent, buildSkipReason, pushHostBase, waitForImage } from '../build/helpers.js';
import { readCredentials, startFixture } from './fixture.js';
import { createImage, data, openStream } from './event-stream.js';

test('the event stream tells a follower of one image its current state, then the CANCELLED change; the account stream sees creation too', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const all = await openStream(t, f);
  assert.equal(all.response.status, 200);
  assert.match(all.response.headers.get('content-type') ?? '', /^text\/event-stream/);

  const arn = await createImage(ib, 'web');
  const created = await all.waitFor((e) => data(e).imageBuildVersionArn === arn);
  assert.equal(created.event, 'image-state');
  assert.deepEqual({ ...data(created), time: 'T' }, { imageBuildVersionArn: arn, status: 'PENDING', time: 'T' });

  const one = await openStream(t, f, { imageBuildVersionArn: arn });
  const current = await one.waitFor(() => true);
  assert.deepEqual({ ...data(current), time: 'T' }, { imageBuildVersionArn: arn, status: 'PENDING', time: 'T' }, 'the current state first, without previousStatus');

  await ib.send(new CancelImageCreationCommand({ imageBuildVersionArn: arn, clientToken: 'cancel-1' }));
  for (const stream of [one, all]) {
    const cancelled = data(await stream.waitFor((e) => data(e).status === 'CANCELLED'));
    assert.equal(cancelled.imageBuildVersionArn, arn);
    assert.equal(cancelled.previousStatus, 'PENDING');
    assert.match(cancelled.reason ?? '', /cancelled by CancelImageCreation/);
    assert.ok(!Number.isNaN(Date.parse(cancelled.time)));
  }
  // Ids increase, so a reconnecting client resumes after the last one it saw.
  const ids = all.events.map((e) => Number(e.id));
  assert.deepEqual([...ids].sort((a, b) => a - b), ids);
  assert.ok(ids[1]! > ids[0]!);

  // A repeated cancel (same client token) changes nothing and tells nothing.
  await ib.send(new CancelImageCreationCommand({ imageBuildVersionArn: arn, clientToken: 'cancel-1' }));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(one.events.filter((e) => data(e).status === 'CANCELLED').length, 1);
});

test('Last-Event-ID replays the changes a dropped client missed', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const first = await openStream(t, f);
  const arn = await createImage(ib, 'resume');
  const pending = await first.waitFor((e) => data(e).imageBuildVersionArn === arn);
  await ib.send(new CancelImageCreationCommand({ imageBuildVersionArn: arn }));
  await first.waitFor((e) => data(e).status === 'CANCELLED');

  const controller = new AbortController();
  t.after(() => controller.abort());
  const response = await kilnFetch(
    { endpoint: f.server.endpoint, region: 'local', credentials: { ...f.credentials, source: 'test' } },
    { method: 'GET', path: '/kiln/events', headers: { 'last-event-id': pending.id! }, signal: controller.signal },
  );
  for await (const e of readSseEvents(response.body!)) {
    assert.equal(data(e).status, 'CANCELLED');
    assert.ok(Number(e.id) > Number(pending.id));
    break;
  }
});

test('refusals come before the stream, in the API error shape: unsigned 403, a hidden image 404, a bad ARN 400; other accounts see nothing', async (t) => {
  const f = await startFixture(t);
  const unsigned = await fetch(`${f.server.endpoint}/kiln/events`);
  assert.equal(unsigned.status, 403);
  assert.equal(unsigned.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
  assert.equal(((await unsigned.json()) as { __type: string }).__type, 'MissingAuthenticationTokenException');

  const arn = await createImage(f.client(), 'mine');
  const store = openStore(f.dataDir);
  const { key } = await createAccount(store, 'other');
  await store.close();
  const otherKeys = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
  const hidden = await openStream(t, f, { imageBuildVersionArn: arn }, otherKeys);
  assert.equal(hidden.response.status, 404);
  assert.equal(hidden.response.headers.get('x-amzn-errortype'), 'ResourceNotFoundException');
  const bad = await openStream(t, f, { imageBuildVersionArn: 'not-an-arn' });
  assert.equal(bad.response.status, 400);
  assert.match(((await bad.response.json()) as { message: string }).message, /imageBuildVersionArn/);

  const theirs = await openStream(t, f, {}, otherKeys);
  const ours = await openStream(t, f);
  await f.client().send(new CancelImageCreationCommand({ imageBuildVersionArn: arn }));
  await ours.waitFor((e) => data(e).status === 'CANCELLED');
  assert.deepEqual(theirs.events, [], "another account's stream shows nothing of this account");
});

test('kiln events --image prints each change of the image and exits 1 when it ends CANCELLED', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const arn = await createImage(ib, 'cli');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && k !== 'KILN_DATA_DIR'));
  const child = spawn('node', [path.resolve('bin/kiln'), 'events', '--image', arn, '--endpoint', f.server.endpoint, '--data-dir', f.dataDir], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, HOME: f.dataDir } });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += String(c)));
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += String(c)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  while (!out.includes('PENDING')) {
    if (child.exitCode !== null) assert.fail(`kiln events exited early: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await ib.send(new CancelImageCreationCommand({ imageBuildVersionArn: arn }));
  assert.equal(await exited, 1, err);
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 2, out);
  assert.match(lines[0]!, new RegExp(`^\\S+Z ${arn.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} PENDING$`));
  assert.match(lines[1]!, / PENDING → CANCELLED: Image creation was cancelled by CancelImageCreation/);
});

test('kiln logs --follow wakes on the state change instead of waiting for its next poll', { skip: process.env.AWS_ACCESS_KEY_ID ? 'AWS_ACCESS_KEY_ID is set; this test signs with the data directory credentials' : false }, async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const arn = await createImage(ib, 'follow');
  let err = '';
  const started = Date.now();
  // A poll interval far beyond the test's patience: only the event stream can end the command in time.
  const run = runLogs(arn, { follow: true, endpoint: f.server.endpoint, region: 'local', dataDir: f.dataDir, pollMs: 120_000 }, () => undefined, (text) => (err += text));
  await new Promise((r) => setTimeout(r, 500));
  await ib.send(new CancelImageCreationCommand({ imageBuildVersionArn: arn }));
  assert.equal(await run, 1);
  assert.match(err, /is CANCELLED: Image creation was cancelled/);
  assert.ok(Date.now() - started < 10_000, `ended after ${Date.now() - started} ms`);
});

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

test('a webhook receiver started by the test gets the AVAILABLE message of a real build, signed, with the right fields', { skip: buildSkipReason(), timeout: 300_000 }, async (t) => {
  const received: Delivery[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(received.length === 1 ? 503 : 200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    receiver.closeAllConnections();
    return new Promise<void>((resolve) => receiver.close(() => resolve()));
  });
  const hook = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;

  // The topic ARN names the account, so the admin account is made before the server starts.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-events-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const pre = openStore(dataDir);
  const { account } = await ensureAdmin(pre);
  await pre.close();
  const topic = `arn:aws:sns:local:${account.accountId}:image-builds`;
  const server = await startServer({ dataDir, listen: '127.0.0.1:0', config: { notifications: { topics: { [topic]: [{ url: hook, secret: 'webhook-secret' }] }, delivery: { attempts: 3, firstRetryMs: 50, maxRetryMs: 50, timeoutMs: 5000 } } } });
  t.after(() => server.close());
  const credentials = readCredentials(server.credentialsPath);
  const ib = new ImagebuilderClient({ endpoint: server.endpoint, region: 'local', credentials, maxAttempts: 1 });
  t.after(() => ib.destroy());

  const base = await pushHostBase(t, { server, credentials }, 'bases/notify');
  const componentArn = (await ib.send(new CreateComponentCommand({ name: 'notify', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['echo built > /built'] }) }))).componentBuildVersionArn!;
  const containerRecipeArn = (
    await ib.send(
      new CreateContainerRecipeCommand({
        containerType: 'DOCKER',
        name: 'notify',
        semanticVersion: '1.0.0',
        parentImage: base,
        targetRepository: { service: 'ECR', repositoryName: 'e2e/notify' },
        components: [{ componentArn }],
        dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}\n',
      }),
    )
  ).containerRecipeArn!;
  const infrastructureConfigurationArn = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'notify', instanceProfileName: 'kiln', instanceTypes: ['ns.small'], snsTopicArn: topic })))
    .infrastructureConfigurationArn!;
  const started = Date.now();
  const arn = (await ib.send(new CreateImageCommand({ containerRecipeArn, infrastructureConfigurationArn, tags: { team: 'web' } }))).imageBuildVersionArn!;
  const image = await waitForImage(ib, arn, { timeoutMs: 240_000 });
  assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
  while (received.length < 2) {
    if (Date.now() - started > 250_000) assert.fail(`the webhook got ${received.length} request(s)`);
    await new Promise((r) => setTimeout(r, 20));
  }
  t.diagnostic(`build and notification took ${Date.now() - started} ms`);

  assert.equal(received[1]!.body, received[0]!.body, 'the retry after a 503 carried the same notification');
  const { headers, body } = received[1]!;
  assert.equal(verifySignature('webhook-secret', headers['x-kiln-signature'] as string, body, 300), true);
  assert.equal(headers['x-amz-sns-message-type'], 'Notification');
  assert.equal(headers['x-amz-sns-topic-arn'], topic);
  const envelope = JSON.parse(body) as { Type: string; MessageId: string; TopicArn: string; Message: string; Timestamp: string };
  assert.equal(envelope.Type, 'Notification');
  assert.equal(envelope.TopicArn, topic);
  assert.equal(headers['x-amz-sns-message-id'], envelope.MessageId);
  const m = JSON.parse(envelope.Message) as ImageSnsMessage;
  const executions = (await ib.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: arn }))).workflowExecutions ?? [];
  assert.equal(m.arn, arn);
  assert.equal(m.versionlessArn, `arn:aws:imagebuilder:local:${account.accountId}:image/notify`);
  assert.match(envelope.Message, /"semver": 1237940039285380274899124225,/, '1.0.0/1 as AWS packs it');
  assert.equal(m.name, 'notify');
  assert.equal(m.version, '1.0.0');
  assert.equal(m.buildVersion, 1);
  assert.equal(m.type, 'DOCKER');
  assert.deepEqual(m.state, { status: 'AVAILABLE' });
  assert.equal(m.containerRecipe?.arn, containerRecipeArn);
  assert.equal(m.infrastructureConfiguration?.arn, infrastructureConfigurationArn);
  assert.equal(m.infrastructureConfiguration?.snsTopicArn, topic);
  assert.equal(m.accountId, account.accountId);
  assert.equal(m.buildType, 'USER_INITIATED');
  assert.equal(m.tags.team, 'web');
  assert.equal(m.tags.resourceArn, arn);
  assert.match(m.dateCreated ?? '', /^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M$/);
  assert.deepEqual(m.outputResources, JSON.parse(JSON.stringify(image.outputResources)));
  assert.equal(m.buildExecutionId, executions.find((e) => e.type === 'BUILD')?.workflowExecutionId);
  assert.equal(m.testExecutionId, executions.find((e) => e.type === 'TEST')?.workflowExecutionId);
  assert.equal(received.length, 2, 'one message per build end');
});
