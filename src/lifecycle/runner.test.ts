import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { FsBlobStore } from '../artifacts/blob-store.js';
import { isKilnError } from '../domain/errors.js';
import { TestClock } from '../domain/clock.js';
import { lifecycleHandlers } from '../service/lifecycle.js';
import type { RequestContext } from '../service/types.js';
import type { Store } from '../store/store.js';
import { DAY_MS } from './daily-slots.js';
import { createExecution, LIFECYCLE_EXECUTION_TYPE, executionArn, executionOf, newExecutionId, type ExecutionData, type ExecutionResource } from './execution-records.js';
import { startLifecycleRunner, type LifecycleRunner } from './runner.js';
import { ACCOUNT, REGION, addImageRecord, makeImage, makeLayer, statusOf, tempStore } from './testing.js';
import { LIFECYCLE_EXECUTION_JOB } from '../domain/job-kinds.js';

const START = new Date('2026-03-01T10:00:00Z');
const ctx = (operation: string): RequestContext => ({ operation, accountId: ACCOUNT, region: REGION, requestId: 'req-1' });

async function setup(t: Parameters<typeof tempStore>[0]): Promise<{ store: Store; clock: TestClock; runner: LifecycleRunner; handlers: ReturnType<typeof lifecycleHandlers>; blobs: FsBlobStore }> {
  const { store, dir } = tempStore(t);
  const clock = new TestClock(START);
  const blobs = new FsBlobStore(path.join(dir, 'blobs'));
  // A poll far away: passes happen when the test settles them (or a clock sleeper wakes).
  const runner = await startLifecycleRunner({ store, clock, blobs, registryHost: () => 'kiln.test:1', gcGraceMs: 0, pollMs: 3_600_000 });
  t.after(() => runner.stop());
  return { store, clock, runner, handlers: lifecycleHandlers(store, clock), blobs };
}

const deprecatePolicy = (over: Record<string, unknown> = {}) => ({
  name: 'deprecate old',
  executionRole: 'LifecycleRole',
  resourceType: 'AMI_IMAGE',
  policyDetails: [{ action: { type: 'DEPRECATE' }, filter: { type: 'AGE', value: 7, unit: 'DAYS' } }],
  resourceSelection: { recipes: [{ name: 'base', semanticVersion: '1.x.x' }] },
  ...over,
});

async function executions(store: Store): Promise<ExecutionData[]> {
  return (await store.listResourcesOfType(LIFECYCLE_EXECUTION_TYPE)).map(executionOf).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

test('runner: a policy runs a day after its creation, then once a day; dateLastRun is kept', async (t) => {
  const { store, clock, runner, handlers } = await setup(t);
  const old = await addImageRecord(store, { name: 'base', type: 'AMI', dateCreated: new Date(START.getTime() - 30 * DAY_MS) });
  const fresh = await addImageRecord(store, { name: 'base', type: 'AMI', dateCreated: new Date(START.getTime() - 5.5 * DAY_MS) });
  const { lifecyclePolicyArn } = (await handlers.CreateLifecyclePolicy!(deprecatePolicy(), ctx('CreateLifecyclePolicy'))) as { lifecyclePolicyArn: string };
  await runner.settle();
  clock.advance(DAY_MS - 1);
  await runner.settle();
  assert.deepEqual(await executions(store), [], 'nothing before the first day is over');

  clock.advance(1);
  await runner.settle();
  let runs = await executions(store);
  assert.equal(runs.length, 1);
  assert.deepEqual([runs[0]!.state, runs[0]!.trigger, runs[0]!.lifecyclePolicyArn, runs[0]!.hasImpactedResources], [{ status: 'SUCCESS' }, 'SCHEDULE', lifecyclePolicyArn, true]);
  assert.deepEqual(runs[0]!.resources.map((r) => [r.resourceId, r.action.name, r.state.status]), [[old.arn, 'DEPRECATE', 'SUCCESS']]);
  assert.equal(await statusOf(store, old.arn), 'DEPRECATED');
  assert.equal(await statusOf(store, fresh.arn), 'AVAILABLE');
  const policy = (await handlers.GetLifecyclePolicy!({ lifecyclePolicyArn }, ctx('GetLifecyclePolicy'))).lifecyclePolicy as { dateLastRun?: Date };
  assert.equal(policy.dateLastRun?.toISOString(), new Date(START.getTime() + DAY_MS).toISOString());

  clock.advance(DAY_MS / 2);
  await runner.settle();
  assert.equal((await executions(store)).length, 1, 'one run a day');
  await handlers.UpdateLifecyclePolicy!({ ...deprecatePolicy(), name: undefined, lifecyclePolicyArn, description: 'changed' }, ctx('UpdateLifecyclePolicy'));
  clock.advance(DAY_MS / 2);
  await runner.settle();
  runs = await executions(store);
  assert.equal(runs.length, 2, 'an update keeps the run history, and the next day runs');
  assert.deepEqual(runs[1]!.resources.map((r) => [r.resourceId, r.state.status]), [[fresh.arn, 'SUCCESS']], 'the image deprecated yesterday is not touched again');
});

test('runner: the clock wakes the background loop at the next slot', async (t) => {
  const { store, clock, runner, handlers } = await setup(t);
  await handlers.CreateLifecyclePolicy!(deprecatePolicy(), ctx('CreateLifecyclePolicy'));
  await runner.settle();
  clock.advance(DAY_MS);
  const deadline = Date.now() + 5000;
  while ((await executions(store)).length === 0 || (await executions(store))[0]!.state.status !== 'SUCCESS') {
    assert.ok(Date.now() < deadline, 'the loop ran the due policy');
    await new Promise((r) => setTimeout(r, 20));
  }
});

test('runner: one execution per policy at a time; disabled policies do not run; runNow', async (t) => {
  const { store, clock, runner, handlers } = await setup(t);
  const { lifecyclePolicyArn } = (await handlers.CreateLifecyclePolicy!(deprecatePolicy(), ctx('CreateLifecyclePolicy'))) as { lifecyclePolicyArn: string };
  // An execution that never got its job stays PENDING: it holds the policy's only slot.
  const waiting: ExecutionData = { lifecycleExecutionId: newExecutionId(), kind: 'POLICY', lifecyclePolicyArn, trigger: 'MANUAL', enqueued: true, state: { status: 'PENDING' }, hasImpactedResources: false, createdAt: START.toISOString(), resources: [] };
  await createExecution(store, { accountId: ACCOUNT, region: REGION }, waiting, { enqueue: false });
  clock.advance(DAY_MS + 5);
  await runner.settle();
  assert.equal((await executions(store)).length, 1, 'the due day waits for the pending execution');
  assert.equal(await runner.runNow(lifecyclePolicyArn), waiting.lifecycleExecutionId);

  await store.deleteResource(executionArn(REGION, ACCOUNT, waiting.lifecycleExecutionId));
  const id = await runner.runNow(lifecyclePolicyArn);
  assert.notEqual(id, waiting.lifecycleExecutionId);
  await runner.settle();
  const manual = (await executions(store)).find((e) => e.lifecycleExecutionId === id)!;
  assert.deepEqual([manual.trigger, manual.state.status], ['MANUAL', 'SUCCESS']);
  await runner.settle();
  assert.equal((await executions(store)).length, 1, 'a manual run counts as the day’s run');

  await handlers.UpdateLifecyclePolicy!({ ...deprecatePolicy(), name: undefined, lifecyclePolicyArn, status: 'DISABLED' }, ctx('UpdateLifecyclePolicy'));
  clock.advance(3 * DAY_MS);
  await runner.settle();
  assert.equal((await executions(store)).length, 1, 'a disabled policy does not run');
  await assert.rejects(runner.runNow(lifecyclePolicyArn), (e: unknown) => isKilnError(e, 'InUse'));
  await assert.rejects(runner.runNow(`${lifecyclePolicyArn}-nope`), (e: unknown) => isKilnError(e, 'NotFound'));
});

/** An execution already planned: image resources still IN_PROGRESS with what to do, and its job queued. */
async function planned(store: Store, status: ExecutionData['state']['status'], resources: ExecutionResource[], policyArn?: string): Promise<string> {
  const id = newExecutionId();
  const data: ExecutionData = {
    lifecycleExecutionId: id,
    kind: policyArn ? 'POLICY' : 'STATE_UPDATE',
    ...(policyArn ? { lifecyclePolicyArn: policyArn } : { resourceArn: resources[0]!.resourceId }),
    trigger: 'MANUAL',
    enqueued: true,
    state: { status },
    hasImpactedResources: true,
    createdAt: START.toISOString(),
    startTime: START.toISOString(),
    resources,
  };
  await createExecution(store, { accountId: ACCOUNT, region: REGION }, data, { enqueue: true });
  return executionArn(REGION, ACCOUNT, id);
}

const todo = (arn: string, name: ExecutionResource['action']['name'], status: ExecutionResource['state']['status'] = 'IN_PROGRESS'): ExecutionResource => ({
  resourceId: arn,
  accountId: ACCOUNT,
  region: REGION,
  action: { name },
  state: { status },
  plan: { include: {}, amiSkips: {}, manual: false },
});

test('runner: CANCELLING stops before the next image; the rest is SKIPPED and left alone', async (t) => {
  const { store, runner } = await setup(t);
  const a = await addImageRecord(store, { name: 'base', type: 'AMI', dateCreated: START });
  const b = await addImageRecord(store, { name: 'base', type: 'AMI', dateCreated: START });
  const arn = await planned(store, 'CANCELLING', [todo(a.arn, 'DEPRECATE'), todo(b.arn, 'DEPRECATE')]);
  await runner.settle();
  const done = executionOf((await store.getResource(arn))!);
  assert.equal(done.state.status, 'CANCELLED');
  assert.ok(done.endTime);
  assert.deepEqual(done.resources.map((r) => r.state.status), ['SKIPPED', 'SKIPPED']);
  assert.match(done.resources[0]!.state.reason!, /cancelled before Kiln reached this resource/);
  assert.equal(await statusOf(store, a.arn), 'AVAILABLE');
  assert.equal(done.resources[0]!.plan, undefined, 'the internal plan does not outlive the execution');
});

test('runner: a restart resumes an execution from its saved plan; a failed resource fails the execution', async (t) => {
  const { store, dir } = tempStore(t);
  const clock = new TestClock(START);
  const a = await addImageRecord(store, { name: 'base', type: 'AMI', status: 'DEPRECATED', dateCreated: START });
  const b = await addImageRecord(store, { name: 'base', type: 'AMI', status: 'DISABLED', dateCreated: START });
  const c = await addImageRecord(store, { name: 'base', type: 'AMI', dateCreated: START });
  const arn = await planned(store, 'IN_PROGRESS', [{ ...todo(a.arn, 'DEPRECATE', 'SUCCESS'), plan: undefined }, todo(b.arn, 'DEPRECATE'), todo(c.arn, 'DISABLE')]);
  // The previous process leased the job and died.
  assert.ok(await store.leaseJob([LIFECYCLE_EXECUTION_JOB], 'kiln-gone', 600_000));
  const runner = await startLifecycleRunner({ store, clock, blobs: new FsBlobStore(path.join(dir, 'blobs')), registryHost: () => 'kiln.test:1', gcGraceMs: 0, pollMs: 3_600_000 });
  t.after(() => runner.stop());
  await runner.settle();
  const done = executionOf((await store.getResource(arn))!);
  assert.deepEqual(done.resources.map((r) => r.state.status), ['SUCCESS', 'FAILED', 'SUCCESS']);
  assert.match(done.resources[1]!.state.reason!, /DISABLED cannot become DEPRECATED/);
  assert.deepEqual(done.state, { status: 'FAILED', reason: '1 of 3 resources failed; ListLifecycleExecutionResources gives each reason' });
  assert.equal(await statusOf(store, c.arn), 'DISABLED');
  assert.deepEqual((await store.listJobs({ resourceArn: arn })).map((j) => j.state).sort(), ['done', 'failed']);
});

test('runner: a policy disabled or deleted before its execution starts cancels it', async (t) => {
  const { store, runner, handlers } = await setup(t);
  const { lifecyclePolicyArn } = (await handlers.CreateLifecyclePolicy!(deprecatePolicy(), ctx('CreateLifecyclePolicy'))) as { lifecyclePolicyArn: string };
  const id = await runner.runNow(lifecyclePolicyArn);
  await handlers.DeleteLifecyclePolicy!({ lifecyclePolicyArn }, ctx('DeleteLifecyclePolicy'));
  await runner.settle();
  const done = executionOf((await store.getResource(executionArn(REGION, ACCOUNT, id)))!);
  assert.deepEqual(done.state, { status: 'CANCELLED', reason: `the lifecycle policy ${lifecyclePolicyArn} was deleted` });
});

test('runner: garbage collection after a deletion waits for a running build, then runs on a later pass', async (t) => {
  const { store, dir } = tempStore(t);
  const clock = new TestClock(START);
  const blobs = new FsBlobStore(path.join(dir, 'blobs'));
  const logs: string[] = [];
  const runner = await startLifecycleRunner({ store, clock, blobs, registryHost: () => 'kiln.test:1', gcGraceMs: 0, pollMs: 3_600_000, scheduleMs: 0, log: (text) => logs.push(text) });
  t.after(() => runner.stop());
  const layer = await makeLayer(blobs, 'only', 'only the deleted image holds this');
  const image = await addImageRecord(store, { name: 'base', dateCreated: START, containerImage: await makeImage(blobs, [layer], 'x') });
  await store.enqueueJob('build-image', 'arn:aws:imagebuilder:local:123456789012:image/other/1.0.0/1');
  const build = (await store.leaseJob(['build-image'], 'builder', 600_000))!;
  const arn = await planned(store, 'IN_PROGRESS', [todo(image.arn, 'DELETE')]);
  await runner.settle();
  const done = executionOf((await store.getResource(arn))!);
  assert.deepEqual([done.state.status, done.garbage], ['SUCCESS', undefined]);
  assert.equal(await blobs.has(layer.digest), true, 'nothing is collected while the build runs');
  assert.ok(logs.some((l) => /waits for build-image/.test(l)));
  await store.finishJob(build.id, 'builder', 'done');
  await runner.settle();
  assert.equal(await blobs.has(layer.digest), false);
  assert.ok(logs.some((l) => /garbage collection freed 3 blobs/.test(l)));
});

test('runner: a step cache over its limit is pruned, least recently used first, and what it named collected, at the schedule\'s pace', async (t) => {
  const { store, dir } = tempStore(t);
  const clock = new TestClock(START);
  const blobs = new FsBlobStore(path.join(dir, 'blobs'));
  const logs: string[] = [];
  const runner = await startLifecycleRunner({ store, clock, blobs, registryHost: () => 'kiln.test:1', gcGraceMs: 0, pollMs: 3_600_000, scheduleMs: 0, buildCacheBytes: 1000, log: (text) => logs.push(text) });
  t.after(() => runner.stop());
  const old = await makeLayer(blobs, 'old', 'the layer of the least recently used entry');
  const recent = await makeLayer(blobs, 'recent', 'the layer of a recently used entry');
  await store.putCacheEntry({ key: 'a'.repeat(64), accountId: ACCOUNT, kind: 'layer', label: 'old', size: 800, entry: { layer: old } });
  await runner.settle();
  assert.equal(await blobs.has(old.digest), true, 'within the limit, nothing is collected');
  await new Promise((resolve) => setTimeout(resolve, 5));
  await store.putCacheEntry({ key: 'b'.repeat(64), accountId: ACCOUNT, kind: 'layer', label: 'recent', size: 800, entry: { layer: recent } });
  await runner.settle();
  assert.deepEqual((await store.listCacheEntries()).map((e) => e.label), ['recent']);
  assert.deepEqual([await blobs.has(old.digest), await blobs.has(recent.digest)], [false, true]);
  assert.ok(logs.some((l) => /garbage collection freed 1 blobs .*; pruned 1 step cache entries \(800 bytes\)/.test(l)), logs.join(''));
});

test('runner: with a leadership, of two runners on one store only the leader schedules; a stop hands it over', async (t) => {
  const { store, dir } = tempStore(t);
  const clock = new TestClock(START);
  const blobs = new FsBlobStore(path.join(dir, 'blobs'));
  const ticks: Record<string, string[]> = { a: [], b: [] };
  const start = (name: 'a' | 'b') =>
    startLifecycleRunner({ store, clock, blobs, registryHost: () => 'kiln.test:1', gcGraceMs: 0, pollMs: 3_600_000, leadership: { nodes: store }, onTick: (outcome) => ticks[name]!.push(outcome) });
  const a = await start('a');
  t.after(() => a.stop());
  await a.settle();
  const b = await start('b');
  t.after(() => b.stop());
  const handlers = lifecycleHandlers(store, clock);
  await handlers.CreateLifecyclePolicy!(deprecatePolicy(), ctx('CreateLifecyclePolicy'));
  clock.advance(DAY_MS);
  await b.settle();
  assert.deepEqual(await executions(store), [], 'the runner without the leadership schedules nothing');
  await a.settle();
  assert.equal((await executions(store)).length, 1, 'the leader schedules the due run');
  await b.settle();
  assert.equal((await executions(store)).length, 1);
  assert.deepEqual([ticks.a!.every((o) => o === 'ran'), ticks.b!.every((o) => o === 'skipped')], [true, true], JSON.stringify(ticks));
  await a.stop();
  clock.advance(DAY_MS);
  await b.settle();
  assert.equal((await executions(store)).length, 2, 'a stopped leader gives the leadership up: the other runner takes the next day');
  assert.equal(ticks.b!.at(-1), 'ran');
});

test('runner: a start takes back only what its own node\'s dead processes left, never a live node\'s job', async (t) => {
  const { store, dir } = tempStore(t);
  const clock = new TestClock(START);
  const a = await addImageRecord(store, { name: 'base', type: 'AMI', dateCreated: START });
  const arn = await planned(store, 'IN_PROGRESS', [todo(a.arn, 'DEPRECATE')]);
  // Leased by a process of another host: it may be running, so only its lease may end its hold on the job.
  const job = (await store.leaseJob([LIFECYCLE_EXECUTION_JOB], 'other-host/4242/0123abcd', 600_000))!;
  const runner = await startLifecycleRunner({ store, clock, blobs: new FsBlobStore(path.join(dir, 'blobs')), registryHost: () => 'kiln.test:1', gcGraceMs: 0, pollMs: 3_600_000 });
  t.after(() => runner.stop());
  await runner.settle();
  assert.deepEqual((await store.listJobs({ resourceArn: arn })).map((j) => [j.id, j.state, j.leaseOwner]), [[job.id, 'leased', 'other-host/4242/0123abcd']]);
  assert.equal(executionOf((await store.getResource(arn))!).state.status, 'IN_PROGRESS');
});

test('runner: deleting an image deletes its step logs; other actions leave them, and a failed log deletion is logged, not fatal', async (t) => {
  const { store, dir } = tempStore(t);
  const clock = new TestClock(START);
  const gone = await addImageRecord(store, { name: 'base', type: 'AMI', dateCreated: START });
  const kept = await addImageRecord(store, { name: 'base', type: 'AMI', dateCreated: START });
  const stuck = await addImageRecord(store, { name: 'base', type: 'AMI', dateCreated: START });
  const deleted: string[] = [];
  const lines: string[] = [];
  const runner = await startLifecycleRunner({
    store,
    clock,
    blobs: new FsBlobStore(path.join(dir, 'blobs')),
    registryHost: () => 'kiln.test:1',
    gcGraceMs: 0,
    pollMs: 3_600_000,
    log: (text) => lines.push(text),
    deleteLogs: (arn) => (arn === stuck.arn ? Promise.reject(new Error('bucket unreachable')) : Promise.resolve(void deleted.push(arn))),
  });
  t.after(() => runner.stop());
  const arn = await planned(store, 'IN_PROGRESS', [todo(gone.arn, 'DELETE'), todo(kept.arn, 'DEPRECATE'), todo(stuck.arn, 'DELETE')]);
  await runner.settle();
  assert.deepEqual(deleted, [gone.arn]);
  assert.ok(lines.some((l) => l.includes(`the step logs of ${stuck.arn} were left: bucket unreachable`)), lines.join(''));
  assert.deepEqual(executionOf((await store.getResource(arn))!).resources.map((r) => r.state.status), ['SUCCESS', 'SUCCESS', 'SUCCESS']);
  assert.equal(await statusOf(store, stuck.arn), 'DELETED');
});
