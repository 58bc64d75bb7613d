/**
 * The pipeline scheduler on a real Kiln server with a TestClock and builds off: when ticks fire across a DST
 * change, that a restart neither double-fires nor loses a tick, that a crash between starting a run and moving
 * the cursor does not start a second run, manual runs under the one-run-at-a-time rule, and auto-disable.
 * Images stay PENDING (no builds); their ends are written into the store as the build engine would.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateImagePipelineCommand,
  CreateInfrastructureConfigurationCommand,
  GetImageCommand,
  GetImagePipelineCommand,
  ListImagePipelineImagesCommand,
  ResourceInUseException,
  StartImagePipelineExecutionCommand,
  type CreateImagePipelineCommandInput,
  type ImagebuilderClient,
} from '@aws-sdk/client-imagebuilder';
import { kilnRequest } from '../../src/cli/kiln-client.js';
import { openStore } from '../../src/app/server-start.js';
import { TestClock } from '../../src/domain/clock.js';
import { CONCURRENT_RUNS_TAG } from '../../src/pipelines/scheduler.js';
import type { Store } from '../../src/store/store.js';
import { bashComponent } from '../build/helpers.js';
import { startFixture, type Fixture } from './fixture.js';

interface Refs {
  containerRecipeArn: string;
  infrastructureConfigurationArn: string;
}

async function createRefs(ib: ImagebuilderClient): Promise<Refs> {
  const componentArn = (await ib.send(new CreateComponentCommand({ name: 'hello', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['echo hi'] }) }))).componentBuildVersionArn!;
  const containerRecipeArn = (
    await ib.send(
      new CreateContainerRecipeCommand({
        containerType: 'DOCKER',
        name: 'app',
        semanticVersion: '1.0.0',
        parentImage: 'debian:12',
        targetRepository: { service: 'ECR', repositoryName: 'team/app' },
        components: [{ componentArn }],
        dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}\n',
      }),
    )
  ).containerRecipeArn!;
  const infrastructureConfigurationArn = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'infra', instanceProfileName: 'Profile', instanceTypes: ['ns.small'] })))
    .infrastructureConfigurationArn!;
  return { containerRecipeArn, infrastructureConfigurationArn };
}

async function createPipeline(ib: ImagebuilderClient, refs: Refs, overrides: Partial<CreateImagePipelineCommandInput>): Promise<string> {
  const out = await ib.send(new CreateImagePipelineCommand({ name: 'nightly', ...refs, ...overrides }));
  return out.imagePipelineArn!;
}

async function images(ib: ImagebuilderClient, imagePipelineArn: string): Promise<{ arn: string; buildType?: string }[]> {
  const out = await ib.send(new ListImagePipelineImagesCommand({ imagePipelineArn }));
  return (out.imageSummaryList ?? []).map((i) => ({ arn: i.arn!, buildType: i.buildType }));
}

/** Moves the clock and waits until the server's scheduler has ticked at that time. */
async function tickAt(f: Fixture, clock: TestClock, at: string): Promise<void> {
  clock.set(at);
  await f.server.scheduler!.waitForTick(new Date(at));
}

async function setStatus(store: Store, arn: string, status: string, reason?: string): Promise<void> {
  await store.updateResource(arn, (current) => ({ ...current.data, state: { status, ...(reason ? { reason } : {}) } }));
}

async function start(t: TestContext, clock: TestClock, dataDir?: string): Promise<Fixture> {
  return startFixture(t, { clock, scheduler: true, ...(dataDir ? { dataDir } : {}) });
}

test('an hourly cron in Europe/Berlin fires at the right instants across the end of summer time', async (t) => {
  // 2026-10-25: at 03:00 CEST clocks go back to 02:00 CET, so local 02:00 happens twice (00:00Z and 01:00Z).
  const clock = new TestClock('2026-10-24T22:10:00Z');
  const f = await start(t, clock);
  const ib = f.client();
  const refs = await createRefs(ib);
  const arn = await createPipeline(ib, refs, {
    schedule: { scheduleExpression: 'cron(0 * * * ? *)', timezone: 'Europe/Berlin', pipelineExecutionStartCondition: 'EXPRESSION_MATCH_ONLY' },
    tags: { [CONCURRENT_RUNS_TAG]: 'true' },
  });
  assert.equal((await ib.send(new GetImagePipelineCommand({ imagePipelineArn: arn }))).imagePipeline?.dateNextRun, '2026-10-24T23:00:00.000Z');
  const fired: string[] = [];
  for (const at of ['2026-10-24T22:59:00Z', '2026-10-24T23:00:00Z', '2026-10-24T23:30:00Z', '2026-10-25T00:00:00Z', '2026-10-25T00:30:00Z', '2026-10-25T01:00:00Z', '2026-10-25T01:30:00Z', '2026-10-25T02:00:00Z']) {
    const before = (await images(ib, arn)).length;
    await tickAt(f, clock, at);
    if ((await images(ib, arn)).length > before) fired.push(at);
    if (at === '2026-10-25T00:30:00Z') {
      // The repeated 02:00 (CET) is not a second run: the next one is 03:00 CET.
      assert.equal((await ib.send(new GetImagePipelineCommand({ imagePipelineArn: arn }))).imagePipeline?.dateNextRun, '2026-10-25T02:00:00.000Z');
    }
  }
  assert.deepEqual(fired, ['2026-10-24T23:00:00Z', '2026-10-25T00:00:00Z', '2026-10-25T02:00:00Z']);
  const list = await images(ib, arn);
  assert.ok(list.every((i) => i.buildType === 'SCHEDULED'), JSON.stringify(list));
  const pipeline = (await ib.send(new GetImagePipelineCommand({ imagePipelineArn: arn }))).imagePipeline!;
  assert.equal(pipeline.dateLastRun, '2026-10-25T02:00:00.000Z');
  assert.equal(pipeline.dateNextRun, '2026-10-25T03:00:00.000Z');
});

test('a restart between ticks neither fires twice nor loses the tick; missed ticks fire once at start-up', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-sched-'));
  const clock = new TestClock('2026-06-01T09:30:00Z');
  const schedule = { scheduleExpression: 'cron(0 * * * ? *)', timezone: 'America/New_York', pipelineExecutionStartCondition: 'EXPRESSION_MATCH_ONLY' as const };
  let arn: string;
  {
    const f = await startFixture(t, { clock, scheduler: true, dataDir });
    const ib = f.client();
    arn = await createPipeline(ib, await createRefs(ib), { schedule, tags: { [CONCURRENT_RUNS_TAG]: 'true' } });
    await tickAt(f, clock, '2026-06-01T10:00:00Z');
    assert.equal((await images(ib, arn)).length, 1);
    await tickAt(f, clock, '2026-06-01T10:20:00Z');
    await f.server.close();
  }
  {
    // Restarted within the same hour: the 10:00 tick was handled, nothing fires.
    const f = await startFixture(t, { clock, scheduler: true, dataDir });
    await f.server.scheduler!.waitForTick(clock.now());
    assert.equal((await images(f.client(), arn)).length, 1);
    await f.server.close();
  }
  {
    // Down from 10:20 to 12:30: the 11:00 and 12:00 ticks were missed; start-up fires once for both.
    clock.set('2026-06-01T12:30:00Z');
    const f = await startFixture(t, { clock, scheduler: true, dataDir });
    const ib = f.client();
    await f.server.scheduler!.waitForTick(clock.now());
    assert.equal((await images(ib, arn)).length, 2);
    await tickAt(f, clock, '2026-06-01T12:59:00Z');
    assert.equal((await images(ib, arn)).length, 2);
    await tickAt(f, clock, '2026-06-01T13:00:00Z');
    assert.equal((await images(ib, arn)).length, 3);
  }
});

test('a crash after a scheduled run started but before the tick was recorded does not start a second run', async (t) => {
  const clock = new TestClock('2026-06-01T09:30:00Z');
  const f = await start(t, clock);
  const ib = f.client();
  const arn = await createPipeline(ib, await createRefs(ib), { schedule: { scheduleExpression: 'cron(0 * * * ? *)', pipelineExecutionStartCondition: 'EXPRESSION_MATCH_ONLY' }, tags: { [CONCURRENT_RUNS_TAG]: 'true' } });
  await tickAt(f, clock, '2026-06-01T10:00:00Z');
  const first = await images(ib, arn);
  assert.equal(first.length, 1);
  // Put the pipeline back as it was before the tick was recorded, as if Kiln died right after creating the image.
  const store = openStore(f.dataDir);
  t.after(() => store.close());
  await store.updateResource(arn, (current) => {
    const { scheduleCursor: _c, scheduleHistory: _h, pendingRuns: _p, dateLastRun: _d, ...before } = current.data;
    return before;
  });
  const report = await f.server.scheduler!.tick(new Date('2026-06-01T10:00:30Z'));
  assert.deepEqual(report.started, [first[0]!.arn], 'the same tick is the same run');
  assert.equal((await images(ib, arn)).length, 1);
});

test('one run at a time: ticks are skipped and manual starts refused while a run is under way; its end is counted', async (t) => {
  const clock = new TestClock('2026-06-01T09:30:00Z');
  const f = await start(t, clock);
  const ib = f.client();
  const store = openStore(f.dataDir);
  t.after(() => store.close());
  const arn = await createPipeline(ib, await createRefs(ib), { schedule: { scheduleExpression: 'rate(1 hour)', pipelineExecutionStartCondition: 'EXPRESSION_MATCH_ONLY' } });
  const manual = (await ib.send(new StartImagePipelineExecutionCommand({ imagePipelineArn: arn }))).imageBuildVersionArn!;
  assert.equal((await ib.send(new GetImageCommand({ imageBuildVersionArn: manual }))).image?.buildType, 'USER_INITIATED');
  await assert.rejects(ib.send(new StartImagePipelineExecutionCommand({ imagePipelineArn: arn })), (e: Error) => e instanceof ResourceInUseException && /run under way/.test(e.message));
  await tickAt(f, clock, '2026-06-01T10:30:00Z');
  assert.equal((await images(ib, arn)).length, 1, 'the tick is skipped while the manual run is under way');
  await setStatus(store, manual, 'AVAILABLE');
  await tickAt(f, clock, '2026-06-01T11:30:00Z');
  const runs = await images(ib, arn);
  assert.equal(runs.length, 2);
  const pipeline = (await ib.send(new GetImagePipelineCommand({ imagePipelineArn: arn }))).imagePipeline!;
  assert.equal(pipeline.lastRunStatus, 'AVAILABLE');
  assert.equal(pipeline.dateLastRun, '2026-06-01T11:30:00.000Z');
});

test('autoDisablePolicy: consecutive failed scheduled runs disable the pipeline; a failed manual run does not count', async (t) => {
  const clock = new TestClock('2026-06-01T09:30:00Z');
  const f = await start(t, clock);
  const ib = f.client();
  const store = openStore(f.dataDir);
  t.after(() => store.close());
  const arn = await createPipeline(ib, await createRefs(ib), {
    schedule: { scheduleExpression: 'cron(0 * * * ? *)', pipelineExecutionStartCondition: 'EXPRESSION_MATCH_ONLY', autoDisablePolicy: { failureCount: 2 } },
  });
  const manual = (await ib.send(new StartImagePipelineExecutionCommand({ imagePipelineArn: arn }))).imageBuildVersionArn!;
  await setStatus(store, manual, 'FAILED', 'broken');
  await tickAt(f, clock, '2026-06-01T10:00:00Z');
  let pipeline = (await ib.send(new GetImagePipelineCommand({ imagePipelineArn: arn }))).imagePipeline!;
  assert.equal(pipeline.consecutiveFailures, 0, 'a failed manual run leaves the count');
  assert.equal(pipeline.lastRunStatus, 'FAILED');
  for (const [i, at] of ['2026-06-01T11:00:00Z', '2026-06-01T12:00:00Z'].entries()) {
    const scheduled = (await images(ib, arn)).filter((x) => x.buildType === 'SCHEDULED');
    assert.equal(scheduled.length, i + 1);
    await setStatus(store, scheduled[0]!.arn, 'FAILED', 'broken');
    await tickAt(f, clock, at);
  }
  pipeline = (await ib.send(new GetImagePipelineCommand({ imagePipelineArn: arn }))).imagePipeline!;
  assert.equal(pipeline.consecutiveFailures, 2);
  assert.equal(pipeline.status, 'DISABLED');
  assert.equal(pipeline.dateNextRun, undefined);
  const count = (await images(ib, arn)).length;
  await tickAt(f, clock, '2026-06-01T13:00:00Z');
  assert.equal((await images(ib, arn)).length, count, 'a DISABLED pipeline does not run');
});

test('webhook triggers: created and rotated by signed requests, refused without the token, one run at a time', async (t) => {
  const clock = new TestClock('2026-06-01T09:30:00Z');
  const f = await start(t, clock);
  const ib = f.client();
  const arn = await createPipeline(ib, await createRefs(ib), { schedule: { scheduleExpression: 'cron(0 0 1 1 ? *)' } });
  const target = { endpoint: f.server.endpoint, region: 'local', credentials: { ...f.credentials, source: 'the test' } };
  const create = () => kilnRequest(target, { method: 'POST', path: '/kiln/pipelines/webhook', body: { imagePipelineArn: arn } });
  const first = await create();
  assert.equal(first.status, 201);
  const rotated = await create();
  assert.notEqual(rotated.body.token, first.body.token);
  assert.match(String(rotated.body.url), new RegExp(`^${f.server.endpoint}/kiln/hooks/pipelines/[0-9a-f]{24}$`));
  const post = (token: string, url = String(rotated.body.url)) => fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal((await post(String(first.body.token), String(first.body.url))).status, 403, 'a rotated-out token no longer works');
  assert.equal((await post('')).status, 403);

  const started = await post(String(rotated.body.token));
  assert.equal(started.status, 202);
  const image = ((await started.json()) as { imageBuildVersionArn: string }).imageBuildVersionArn;
  assert.equal((await ib.send(new GetImageCommand({ imageBuildVersionArn: image }))).image?.buildType, 'SCHEDULED');
  const busy = await post(String(rotated.body.token));
  assert.equal(busy.status, 400, 'ResourceInUseException is a 400 in the model');
  assert.equal(((await busy.json()) as { __type: string }).__type, 'ResourceInUseException');

  const history = await kilnRequest(target, { method: 'GET', path: '/kiln/pipelines/history', query: { imagePipelineArn: arn } });
  assert.deepEqual((history.body.pendingRuns as { imageBuildVersionArn: string }[]).map((r) => r.imageBuildVersionArn), [image]);

  assert.equal((await kilnRequest(target, { method: 'DELETE', path: '/kiln/pipelines/webhook', query: { imagePipelineArn: arn } })).status, 200);
  assert.equal((await post(String(rotated.body.token))).status, 403, 'a deleted webhook no longer starts runs');
  const unsigned = await fetch(`${f.server.endpoint}/kiln/pipelines/webhook`, { method: 'POST', body: JSON.stringify({ imagePipelineArn: arn }) });
  assert.equal(unsigned.status, 403);
  assert.equal(((await unsigned.json()) as { __type: string }).__type, 'MissingAuthenticationTokenException');
  const missing = await kilnRequest(target, { method: 'POST', path: '/kiln/pipelines/webhook', body: { imagePipelineArn: `${arn}-gone` } });
  assert.equal(missing.status, 404);
  const bad = await kilnRequest(target, { method: 'POST', path: '/kiln/pipelines/webhook', body: { imagePipelineArn: 'nope' } });
  assert.equal(bad.status, 400);
  assert.match(String(bad.body.message), /imagePipelineArn/);
});
