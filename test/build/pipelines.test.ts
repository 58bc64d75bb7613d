/**
 * Pipelines end to end with real container builds and a TestClock: the default start condition builds on the
 * first tick, skips a tick with nothing new, and builds again after a new component version (matched by 1.x.x);
 * a webhook trigger builds when the base image's tag moved; a webhook receiver gets AWS's SNS image message,
 * signed; an autoDisablePolicy of 1 disables a pipeline whose scheduled build failed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateImagePipelineCommand,
  CreateInfrastructureConfigurationCommand,
  GetImagePipelineCommand,
  ListImagePipelineImagesCommand,
  type ImagebuilderClient,
} from '@aws-sdk/client-imagebuilder';
import { openStore } from '../../src/app/server-start.js';
import { verifySignature, SIGNATURE_HEADER } from '../../src/events/sns-message.js';
import { TestClock } from '../../src/domain/clock.js';
import { ensureAdmin } from '../../src/service/accounts.js';
import { bashComponent, buildSkipReason, hostLeftovers, pushHostBase, startBuildServer, waitForImage, type BuildServer } from './helpers.js';

const KILN = path.resolve('bin/kiln');
const skip = buildSkipReason();

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver: records every POST and answers 200. */
async function receiver(t: { after: (fn: () => unknown) => void }): Promise<{ url: string; deliveries: Delivery[] }> {
  const deliveries: Delivery[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}/hook`, deliveries };
}

function kilnCli(kiln: BuildServer, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env, AWS_ACCESS_KEY_ID: kiln.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: kiln.credentials.secretAccessKey };
  return new Promise((resolve) => {
    const child = spawn(KILN, [...args, '--endpoint', kiln.server.endpoint], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function pipelineImages(ib: ImagebuilderClient, imagePipelineArn: string): Promise<{ arn: string; buildType?: string; status?: string }[]> {
  const out = await ib.send(new ListImagePipelineImagesCommand({ imagePipelineArn }));
  return (out.imageSummaryList ?? []).map((i) => ({ arn: i.arn!, buildType: i.buildType, status: i.state?.status }));
}

test('pipelines: rebuild only on change, webhook trigger, SNS notification, auto-disable', { skip, timeout: 600_000 }, async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-pipelines-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  // The topic must belong to the building account, so learn the admin account's id before Kiln starts.
  const pre = openStore(dataDir);
  const accountId = (await ensureAdmin(pre)).account.accountId;
  await pre.close();
  const topicArn = `arn:aws:sns:local:${accountId}:image-builds`;
  const hook = await receiver(t);
  const secret = 'receiver-secret';
  const clock = new TestClock('2026-03-08T05:30:00Z');
  const kiln = await startBuildServer(
    t,
    { notifications: { topics: { [topicArn]: [{ url: hook.url, secret }] }, delivery: { attempts: 3, firstRetryMs: 100, maxRetryMs: 500, timeoutMs: 5000 } } },
    { clock, dataDir },
  );
  const ib = kiln.client;
  const scheduler = kiln.server.scheduler!;
  const tickAt = async (at: string) => {
    clock.set(at);
    await scheduler.waitForTick(new Date(at));
  };
  const base = await pushHostBase(t, kiln, 'bases/host', 'stable');
  const stamp = (version: string) => bashComponent({ build: [`mkdir -p /etc/kiln && echo ${version} > /etc/kiln/stamp`] });
  await ib.send(new CreateComponentCommand({ name: 'stamp', semanticVersion: '1.0.0', platform: 'Linux', data: stamp('1.0.0') }));
  const componentArn = `arn:aws:imagebuilder:local:${accountId}:component/stamp/1.x.x`;
  const recipe = (
    await ib.send(
      new CreateContainerRecipeCommand({
        containerType: 'DOCKER',
        name: 'app',
        semanticVersion: '1.0.0',
        parentImage: base,
        targetRepository: { service: 'ECR', repositoryName: 'team/app' },
        components: [{ componentArn }],
        dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}\n',
      }),
    )
  ).containerRecipeArn!;
  const infra = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'infra', instanceProfileName: 'Profile', instanceTypes: ['ns.small'], snsTopicArn: topicArn })))
    .infrastructureConfigurationArn!;
  const arn = (
    await ib.send(
      new CreateImagePipelineCommand({
        name: 'hourly',
        containerRecipeArn: recipe,
        infrastructureConfigurationArn: infra,
        imageTestsConfiguration: { imageTestsEnabled: false },
        schedule: { scheduleExpression: 'cron(0 * * * ? *)', timezone: 'America/New_York' },
      }),
    )
  ).imagePipelineArn!;
  const store = openStore(dataDir);
  t.after(() => store.close());
  const planOf = async (image: string) => (await store.getResource(image))!.data.buildPlan as { parent: { resolved: string }; components: { arn: string }[] };

  // First tick: nothing was built yet, so it builds.
  await tickAt('2026-03-08T06:00:00Z');
  let runs = await pipelineImages(ib, arn);
  assert.equal(runs.length, 1);
  assert.equal(runs[0]!.buildType, 'SCHEDULED');
  const first = await waitForImage(ib, runs[0]!.arn);
  assert.equal(first.state?.status, 'AVAILABLE', first.state?.reason);
  assert.match((await planOf(first.arn!)).components[0]!.arn, /component\/stamp\/1\.0\.0\/1$/);

  // The SNS message reaches the receiver with AWS's fields and a signature the receiver can check.
  for (let i = 0; i < 100 && !hook.deliveries.some((d) => d.body.includes('AVAILABLE')); i++) await sleep(50);
  const delivery = hook.deliveries.find((d) => d.body.includes('AVAILABLE'));
  assert.ok(delivery, `no AVAILABLE delivery among ${hook.deliveries.length}`);
  assert.equal(delivery.headers['x-amz-sns-message-type'], 'Notification');
  assert.equal(delivery.headers['x-amz-sns-topic-arn'], topicArn);
  assert.ok(verifySignature(secret, delivery.headers[SIGNATURE_HEADER] as string | undefined, delivery.body, 300), 'the signature verifies');
  assert.ok(!verifySignature('another-secret', delivery.headers[SIGNATURE_HEADER] as string | undefined, delivery.body, 300));
  const envelope = JSON.parse(delivery.body) as { Type: string; TopicArn: string; Message: string };
  assert.equal(envelope.Type, 'Notification');
  assert.equal(envelope.TopicArn, topicArn);
  const message = JSON.parse(envelope.Message) as Record<string, unknown>;
  assert.equal(message.arn, first.arn);
  assert.deepEqual(message.state, { status: 'AVAILABLE' });
  assert.equal(message.type, 'DOCKER');
  assert.equal(message.buildType, 'SCHEDULED');
  assert.equal(message.sourcePipelineArn, arn);
  assert.equal(message.accountId, accountId);
  assert.match(String(message.dateCreated), /^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M$/);
  assert.deepEqual((message.outputResources as { containers: { imageUris: string[] }[] }).containers[0]!.imageUris, first.outputResources?.containers?.[0]?.imageUris);

  // Second tick, nothing changed: skipped, and the history says why.
  await tickAt('2026-03-08T07:00:00Z');
  assert.equal((await pipelineImages(ib, arn)).length, 1);
  const history = await kilnCli(kiln, ['pipelines', 'history', arn, '--json']);
  assert.equal(history.code, 0, history.stderr);
  const ticks = (JSON.parse(history.stdout) as { ticks: { scheduledTime: string; outcome: string; reason?: string }[] }).ticks;
  assert.deepEqual(
    ticks.map((x) => [x.scheduledTime, x.outcome]),
    [
      ['2026-03-08T06:00:00.000Z', 'STARTED'],
      ['2026-03-08T07:00:00.000Z', 'SKIPPED'],
    ],
  );
  assert.match(ticks[1]!.reason ?? '', /no dependency updates/);

  // A new component version matched by 1.x.x: the next tick builds with it.
  await ib.send(new CreateComponentCommand({ name: 'stamp', semanticVersion: '1.1.0', platform: 'Linux', data: stamp('1.1.0') }));
  await tickAt('2026-03-08T08:00:00Z');
  runs = await pipelineImages(ib, arn);
  assert.equal(runs.length, 2);
  const second = await waitForImage(ib, runs[0]!.arn);
  assert.equal(second.state?.status, 'AVAILABLE', second.state?.reason);
  assert.match((await planOf(second.arn!)).components[0]!.arn, /component\/stamp\/1\.1\.0\/1$/);

  // The webhook: a wrong token is refused; with nothing new the trigger skips; after the base's tag moved it builds.
  const created = await kilnCli(kiln, ['pipelines', 'webhook', arn]);
  assert.equal(created.code, 0, created.stderr);
  const url = /url:\s+(\S+)/.exec(created.stdout)![1]!;
  const token = /token:\s+(\S+)/.exec(created.stdout)![1]!;
  const post = (bearer: string) => fetch(url, { method: 'POST', headers: { authorization: `Bearer ${bearer}` } });
  const refused = await post('not-the-token');
  assert.equal(refused.status, 403);
  assert.equal(((await refused.json()) as { __type: string }).__type, 'ForbiddenException');
  const unchanged = await post(token);
  assert.equal(unchanged.status, 200);
  assert.equal(((await unchanged.json()) as { skipped: boolean }).skipped, true);
  await pushHostBase(t, kiln, 'bases/host', 'stable', '2024-01-01T00:00:00Z');
  const triggered = await post(token);
  assert.equal(triggered.status, 202, await triggered.clone().text());
  const third = await waitForImage(ib, ((await triggered.json()) as { imageBuildVersionArn: string }).imageBuildVersionArn);
  assert.equal(third.state?.status, 'AVAILABLE', third.state?.reason);
  assert.equal(third.buildType, 'SCHEDULED');
  assert.notEqual((await planOf(third.arn!)).parent.resolved, (await planOf(second.arn!)).parent.resolved, 'built on the new base');

  const pipeline = (await ib.send(new GetImagePipelineCommand({ imagePipelineArn: arn }))).imagePipeline!;
  assert.equal(pipeline.lastRunStatus, 'AVAILABLE');
  assert.equal(pipeline.consecutiveFailures, 0);
  assert.equal(pipeline.dateNextRun, '2026-03-08T09:00:00.000Z');

  // A failing scheduled build with autoDisablePolicy 1 disables its pipeline; the receiver hears FAILED.
  await ib.send(new CreateComponentCommand({ name: 'broken', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['exit 3'] }) }));
  const brokenRecipe = (
    await ib.send(
      new CreateContainerRecipeCommand({
        containerType: 'DOCKER',
        name: 'broken',
        semanticVersion: '1.0.0',
        parentImage: base,
        targetRepository: { service: 'ECR', repositoryName: 'team/broken' },
        components: [{ componentArn: `arn:aws:imagebuilder:local:${accountId}:component/broken/1.0.0/1` }],
        dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}\n',
      }),
    )
  ).containerRecipeArn!;
  const broken = (
    await ib.send(
      new CreateImagePipelineCommand({
        name: 'broken',
        containerRecipeArn: brokenRecipe,
        infrastructureConfigurationArn: infra,
        imageTestsConfiguration: { imageTestsEnabled: false },
        schedule: { scheduleExpression: 'rate(1 hour)', autoDisablePolicy: { failureCount: 1 } },
      }),
    )
  ).imagePipelineArn!;
  await tickAt('2026-03-08T09:30:00Z');
  const failedRun = (await pipelineImages(ib, broken))[0]!;
  assert.equal((await waitForImage(ib, failedRun.arn)).state?.status, 'FAILED');
  let disabled = (await ib.send(new GetImagePipelineCommand({ imagePipelineArn: broken }))).imagePipeline!;
  for (let i = 0; i < 50 && disabled.status !== 'DISABLED'; i++) {
    await sleep(50);
    disabled = (await ib.send(new GetImagePipelineCommand({ imagePipelineArn: broken }))).imagePipeline!;
  }
  assert.equal(disabled.status, 'DISABLED');
  assert.equal(disabled.consecutiveFailures, 1);
  for (let i = 0; i < 100 && !hook.deliveries.some((d) => d.body.includes(failedRun.arn) && d.body.includes('FAILED')); i++) await sleep(50);
  assert.ok(hook.deliveries.some((d) => d.body.includes(failedRun.arn) && d.body.includes('FAILED')), 'the receiver heard of the failure');
  await tickAt('2026-03-08T11:30:00Z');
  assert.equal((await pipelineImages(ib, broken)).length, 1, 'a disabled pipeline does not run');
  assert.deepEqual(hostLeftovers(kiln.dataDir), []);
});
