/**
 * Lifecycle policies end to end on a real SqliteStore, FsBlobStore, layer cache and Kiln's registry (a Kiln
 * server on a temp data directory, which the stock SDK and HTTP clients talk to), with a lifecycle runner on the
 * same data directory driven by a TestClock. Images are small OCI images written straight into the blob store
 * and tagged in the registry, as finished builds leave them.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  DeleteImageCommand,
  GetLifecycleExecutionCommand,
  ListLifecycleExecutionResourcesCommand,
  ListLifecycleExecutionsCommand,
  StartResourceStateUpdateCommand,
} from '@aws-sdk/client-imagebuilder';
import { FsBlobStore } from '../../src/artifacts/blob-store.js';
import { LocalDiskStore } from '../../src/artifacts/disk/disk-store.js';
import { MEDIA_TYPE_MANIFEST, type StoredImage } from '../../src/artifacts/oci/image.js';
import { LayerCache } from '../../src/artifacts/oci/unpack.js';
import { machineImageData, registerMachineImage } from '../../src/builder/machine/machine-images.js';
import { openStore } from '../../src/app/server-start.js';
import { DAY_MS } from '../../src/lifecycle/daily-slots.js';
import { startLifecycleRunner, type LifecycleRunner } from '../../src/lifecycle/runner.js';
import { addImageRecord, makeImage, makeLayer, statusOf } from '../../src/lifecycle/testing.js';
import { TestClock } from '../../src/domain/clock.js';
import { createBuiltinRegistry, type BuiltinRegistry } from '../../src/registry/server/builtin-registry.js';
import { lifecycleHandlers } from '../../src/service/lifecycle.js';
import type { RequestContext } from '../../src/service/types.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { startFixture, type Fixture } from '../api/fixture.js';
import { startBuildServer } from './helpers.js';

const OTHER = '222222222222';

interface Env {
  f: Fixture;
  store: SqliteStore;
  blobs: FsBlobStore;
  layers: LayerCache;
  registry: BuiltinRegistry;
  clock: TestClock;
  runner: LifecycleRunner;
  accountId: string;
  handlers: ReturnType<typeof lifecycleHandlers>;
  ctx: (operation: string) => RequestContext;
  host: string;
}

async function lifecycleEnv(t: TestContext): Promise<Env> {
  const f = await startFixture(t);
  const store = openStore(f.dataDir);
  t.after(() => store.close());
  const blobs = new FsBlobStore(path.join(f.dataDir, 'blobs'));
  const layers = new LayerCache(path.join(f.dataDir, 'layers'), blobs);
  const clock = new TestClock(new Date());
  const host = f.server.registryHost;
  // A grace period of 0: every blob these tests write is "old" the moment the collector looks.
  const runner = await startLifecycleRunner({ store, clock, blobs, layers, disks: new LocalDiskStore(path.join(f.dataDir, 'disks')), registryHost: () => host, gcGraceMs: 0, pollMs: 20 });
  t.after(() => runner.stop());
  const accountId = (await store.listAccounts()).find((a) => a.admin)!.accountId;
  const ctx = (operation: string): RequestContext => ({ operation, accountId, region: 'local', requestId: 'test' });
  return { f, store, blobs, layers, registry: createBuiltinRegistry({ store, blobs, region: 'local' }), clock, runner, accountId, handlers: lifecycleHandlers(store, clock), ctx, host };
}

/** A container image build of `name` 1.0.0, `daysOld` days old, tagged `<version>-<n>` in repository `name`. */
async function containerBuild(env: Env, name: string, n: number, daysOld: number, layers: Awaited<ReturnType<typeof makeLayer>>[], tags: Record<string, string> = {}): Promise<{ arn: string; image: StoredImage; uri: string }> {
  const image = await makeImage(env.blobs, layers, `${name}-${n}`);
  const tag = `1.0.0-${n}`;
  await env.registry.tag({ accountId: env.accountId, repository: name, tag, manifestDigest: image.manifestDigest, mediaType: MEDIA_TYPE_MANIFEST });
  const uri = `${env.host}/${name}:${tag}`;
  const record = await addImageRecord(env.store, { accountId: env.accountId, name, dateCreated: new Date(env.clock.now().getTime() - daysOld * DAY_MS), containerImage: image, imageUris: [uri], tags });
  return { arn: record.arn, image, uri };
}

async function createPolicy(env: Env, input: Record<string, unknown>): Promise<string> {
  const out = await env.handlers.CreateLifecyclePolicy!({ executionRole: 'EC2ImageBuilderLifecycleExecutionPolicy', ...input }, env.ctx('CreateLifecyclePolicy'));
  return out.lifecyclePolicyArn as string;
}

/** The manifest status code of `repository:reference` through Kiln's registry over HTTP. */
async function registryStatus(env: Env, repository: string, reference: string): Promise<number> {
  const auth = Buffer.from(`${env.f.credentials.accessKeyId}:${env.f.credentials.secretAccessKey}`).toString('base64');
  const res = await fetch(`${env.f.server.endpoint}/v2/${repository}/manifests/${reference}`, { headers: { authorization: `Basic ${auth}`, accept: MEDIA_TYPE_MANIFEST } });
  await res.arrayBuffer();
  return res.status;
}

async function waitFor<T>(what: string, read: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('lifecycle: a COUNT policy keeping 2 images deletes the third oldest, its registry tag and its blobs; a shared blob survives', async (t) => {
  const env = await lifecycleEnv(t);
  const { blobs, store, clock } = env;
  const base = await makeLayer(blobs, 'etc/os-release', 'the base layer every build shares');
  const apps = [];
  for (const n of [1, 2, 3]) apps.push(await makeLayer(blobs, `app/v${n}`, `application version ${n}`));
  const builds = [];
  for (const n of [1, 2, 3]) builds.push(await containerBuild(env, 'web', n, 4 - n, [base, apps[n - 1]!]));
  const [oldest, middle, newest] = builds as [(typeof builds)[0], (typeof builds)[0], (typeof builds)[0]];
  const unpacked = await env.layers.imageLayers(oldest.image.manifestDigest);
  assert.equal(await registryStatus(env, 'web', '1.0.0-1'), 200);

  const policyArn = await createPolicy(env, {
    name: 'keep two',
    resourceType: 'CONTAINER_IMAGE',
    policyDetails: [{ action: { type: 'DELETE', includeResources: { containers: true } }, filter: { type: 'COUNT', value: 2 } }],
    resourceSelection: { recipes: [{ name: 'web', semanticVersion: '1.0.0' }] },
  });
  env.runner.notify();
  // The daily run: a day after the policy was created, the runner's loop wakes on the clock by itself.
  clock.advance(DAY_MS);
  const ib = env.f.client();
  const execution = await waitFor('the daily execution', async () => {
    const list = await ib.send(new ListLifecycleExecutionsCommand({ resourceArn: policyArn }));
    const e = list.lifecycleExecutions?.[0];
    return e && e.state?.status !== 'PENDING' && e.state?.status !== 'IN_PROGRESS' ? e : undefined;
  });
  assert.equal(execution.state?.status, 'SUCCESS');
  assert.equal(execution.lifecyclePolicyArn, policyArn);
  assert.equal(execution.resourcesImpactedSummary?.hasImpactedResources, true);

  assert.equal(await statusOf(store, oldest.arn), 'DELETED');
  assert.equal(await statusOf(store, middle.arn), 'AVAILABLE');
  assert.equal(await statusOf(store, newest.arn), 'AVAILABLE');
  assert.equal(await registryStatus(env, 'web', '1.0.0-1'), 404, 'the deleted image’s tag is gone from Kiln’s registry');
  assert.equal(await registryStatus(env, 'web', '1.0.0-2'), 200);
  for (const gone of [oldest.image.manifestDigest, oldest.image.configDigest, apps[0]!.digest]) assert.equal(await blobs.has(gone), false, `${gone} was collected`);
  assert.equal(await blobs.has(base.digest), true, 'the base layer the kept images share survives');
  for (const kept of [middle.image.manifestDigest, newest.image.manifestDigest, apps[1]!.digest, apps[2]!.digest]) assert.equal(await blobs.has(kept), true);
  assert.equal(existsSync(unpacked[0]!), false, 'the unpacked layer of the deleted image is gone');
  assert.equal(existsSync(unpacked[1]!), true, 'the unpacked base layer stays');

  const id = execution.lifecycleExecutionId!;
  const got = (await ib.send(new GetLifecycleExecutionCommand({ lifecycleExecutionId: id }))).lifecycleExecution;
  assert.deepEqual(got, execution);
  const resources = await ib.send(new ListLifecycleExecutionResourcesCommand({ lifecycleExecutionId: id }));
  assert.deepEqual(resources.resources?.map((r) => [r.resourceId, r.action?.name, r.state?.status, r.region, r.accountId]), [[oldest.arn, 'DELETE', 'SUCCESS', 'local', env.accountId]]);
  assert.match(resources.resources![0]!.action!.reason!, /not among the 2 newest images of web 1\.0\.0/);
  assert.deepEqual(resources.resources![0]!.imageUris, [oldest.uri]);
  assert.ok(resources.resources![0]!.startTime instanceof Date && resources.resources![0]!.endTime instanceof Date);
  const children = await ib.send(new ListLifecycleExecutionResourcesCommand({ lifecycleExecutionId: id, parentResourceId: oldest.arn }));
  assert.deepEqual(children.resources?.map((r) => [r.resourceId, r.action?.name, r.state?.status]), [[oldest.uri, 'DELETE', 'SUCCESS']]);
  const stored = (await store.getResource(`arn:aws:imagebuilder:local:${env.accountId}:lifecycle-execution/${id}`))!.data;
  const garbage = stored.garbage as { blobs: number; blobBytes: number; layers: number };
  assert.deepEqual([garbage.blobs, garbage.layers], [3, 1]);
  assert.equal(garbage.blobBytes, oldest.image.manifestSize + oldest.image.configSize + apps[0]!.size);

  // The next day's run finds nothing more to do.
  clock.advance(DAY_MS);
  const second = await waitFor('the second daily execution', async () => {
    const list = (await ib.send(new ListLifecycleExecutionsCommand({ resourceArn: policyArn }))).lifecycleExecutions ?? [];
    return list.length === 2 && list[0]!.state?.status === 'SUCCESS' ? list[0] : undefined;
  });
  assert.equal(second.resourcesImpactedSummary?.hasImpactedResources, false);
  assert.deepEqual((await ib.send(new ListLifecycleExecutionResourcesCommand({ lifecycleExecutionId: second.lifecycleExecutionId }))).resources, []);
});

test('lifecycle: AGE with retainAtLeast, and an exclusion tag that keeps an image', async (t) => {
  const env = await lifecycleEnv(t);
  const { blobs, store } = env;
  const base = await makeLayer(blobs, 'base', 'base');
  const ages = [100, 60, 40, 10];
  const api = [];
  for (const [i, days] of ages.entries()) api.push(await containerBuild(env, 'api', i + 1, days, [base, await makeLayer(blobs, 'api', `api ${i}`)]));
  const ageArn = await createPolicy(env, {
    name: 'thirty days keep two',
    resourceType: 'CONTAINER_IMAGE',
    policyDetails: [{ action: { type: 'DELETE' }, filter: { type: 'AGE', value: 30, unit: 'DAYS', retainAtLeast: 2 } }],
    resourceSelection: { recipes: [{ name: 'api', semanticVersion: '1.x.x' }] },
  });
  await env.runner.runNow(ageArn);
  await env.runner.settle();
  assert.deepEqual(await Promise.all(api.map((b) => statusOf(store, b.arn))), ['DELETED', 'DELETED', 'AVAILABLE', 'AVAILABLE'], 'the 40-day-old image is among the two kept');
  // Without includeResources.containers the registry keeps the images, so their blobs stay.
  assert.equal(await registryStatus(env, 'api', '1.0.0-1'), 200);
  assert.equal(await blobs.has(api[0]!.image.manifestDigest), true);

  const cache = [];
  for (const [i, days] of [3, 2, 1].entries()) cache.push(await containerBuild(env, 'cache', i + 1, days, [base], i === 0 ? { keep: 'forever' } : {}));
  const tagArn = await createPolicy(env, {
    name: 'newest only',
    resourceType: 'CONTAINER_IMAGE',
    policyDetails: [{ action: { type: 'DELETE', includeResources: { containers: true } }, filter: { type: 'COUNT', value: 1 }, exclusionRules: { tagMap: { keep: 'forever' } } }],
    resourceSelection: { tagMap: { keep: 'forever', team: 'cache' } },
  });
  await store.updateResource(cache[1]!.arn, (r) => ({ ...r.data, tags: { team: 'cache' } }));
  await store.updateResource(cache[2]!.arn, (r) => ({ ...r.data, tags: { team: 'cache' } }));
  const id = await env.runner.runNow(tagArn);
  await env.runner.settle();
  assert.deepEqual(await Promise.all(cache.map((b) => statusOf(store, b.arn))), ['AVAILABLE', 'DELETED', 'AVAILABLE']);
  assert.equal(await registryStatus(env, 'cache', '1.0.0-1'), 200, 'the excluded image keeps its tag');
  assert.equal(await registryStatus(env, 'cache', '1.0.0-2'), 404);
  const ib = env.f.client();
  const resources = (await ib.send(new ListLifecycleExecutionResourcesCommand({ lifecycleExecutionId: id }))).resources ?? [];
  assert.deepEqual(resources.map((r) => [r.resourceId, r.action?.name, r.state?.status]), [
    [cache[1]!.arn, 'DELETE', 'SUCCESS'],
    [cache[0]!.arn, 'DELETE', 'SKIPPED'],
  ]);
  assert.match(resources[1]!.state!.reason!, /keep=forever of exclusionRules\.tagMap/);
});

test('lifecycle: DEPRECATE then DISABLE change the image state; disabled machine images become private', async (t) => {
  const env = await lifecycleEnv(t);
  const { store, clock } = env;
  const disk = { digest: `sha256:${'0'.repeat(64)}` as const, sizeBytes: 1, format: 'raw' as const, rootPartUuid: 'x', kernelVersion: '6.1.0' };
  const images = [];
  for (const days of [90, 45, 5]) {
    const record = await addImageRecord(store, { accountId: env.accountId, name: 'base', type: 'AMI', dateCreated: new Date(clock.now().getTime() - days * DAY_MS) });
    const mi = await registerMachineImage(store, { accountId: env.accountId, region: 'local', name: `base ${days}`, sourceImageArn: record.arn, disk, launchPermission: { userIds: [OTHER] } });
    images.push({ arn: record.arn, mi });
  }
  const policyArn = await createPolicy(env, {
    name: 'age out',
    resourceType: 'AMI_IMAGE',
    policyDetails: [
      { action: { type: 'DISABLE', includeResources: { amis: true } }, filter: { type: 'AGE', value: 60, unit: 'DAYS' } },
      { action: { type: 'DEPRECATE', includeResources: { amis: true } }, filter: { type: 'AGE', value: 30, unit: 'DAYS' } },
    ],
    resourceSelection: { recipes: [{ name: 'base', semanticVersion: 'x.x.x' }] },
  });
  clock.advance(DAY_MS);
  await env.runner.settle();
  assert.deepEqual(await Promise.all(images.map((i) => statusOf(store, i.arn))), ['DEPRECATED', 'DEPRECATED', 'AVAILABLE'], 'deprecation comes first, one action per run');
  assert.equal((machineImageData((await store.getResource(images[0]!.mi.arn))!).tags as Record<string, string>).DeprecatedBy, 'EC2 Image Builder');

  clock.advance(DAY_MS);
  await env.runner.settle();
  assert.deepEqual(await Promise.all(images.map((i) => statusOf(store, i.arn))), ['DISABLED', 'DEPRECATED', 'AVAILABLE']);
  const shared = (await store.listGrantedResources({ grantee: OTHER, region: 'local', type: 'machine-image' })).map((r) => r.arn);
  assert.deepEqual(shared.sort(), [images[1]!.mi.arn, images[2]!.mi.arn].sort(), 'only the disabled image’s machine image stopped being shared');

  const ib = env.f.client();
  const runs = (await ib.send(new ListLifecycleExecutionsCommand({ resourceArn: policyArn }))).lifecycleExecutions ?? [];
  assert.deepEqual(runs.map((r) => r.state?.status), ['SUCCESS', 'SUCCESS']);
  const last = await ib.send(new ListLifecycleExecutionResourcesCommand({ lifecycleExecutionId: runs[0]!.lifecycleExecutionId }));
  assert.deepEqual(last.resources?.map((r) => [r.resourceId, r.action?.name, r.state?.status]), [[images[0]!.arn, 'DISABLE', 'SUCCESS']]);
  const amis = await ib.send(new ListLifecycleExecutionResourcesCommand({ lifecycleExecutionId: runs[0]!.lifecycleExecutionId, parentResourceId: images[0]!.arn }));
  assert.deepEqual(amis.resources?.map((r) => [r.resourceId, r.action?.name, r.state?.status]), [[machineImageData(images[0]!.mi).amiId, 'DISABLE', 'SUCCESS']]);

  // StartResourceStateUpdate through the API, at a later time: the runner waits for its clock to get there.
  const updateAt = new Date(clock.now().getTime() + 2 * 60 * 60 * 1000);
  const started = await ib.send(new StartResourceStateUpdateCommand({ resourceArn: images[1]!.arn, state: { status: 'AVAILABLE' }, includeResources: { amis: true }, updateAt }));
  await env.runner.settle();
  assert.equal(await statusOf(store, images[1]!.arn), 'DEPRECATED', 'not before updateAt');
  clock.set(updateAt);
  await env.runner.settle();
  assert.equal(await statusOf(store, images[1]!.arn), 'AVAILABLE');
  assert.equal((await ib.send(new GetLifecycleExecutionCommand({ lifecycleExecutionId: started.lifecycleExecutionId }))).lifecycleExecution?.state?.status, 'SUCCESS');
  assert.equal((machineImageData((await store.getResource(images[1]!.mi.arn))!).tags as Record<string, string>).DeprecatedBy, undefined);
});

/** The tags of a repository in Kiln's registry over HTTP (GET /v2/NAME/tags/list). */
async function registryTags(env: Env, repository: string): Promise<string[]> {
  const auth = Buffer.from(`${env.f.credentials.accessKeyId}:${env.f.credentials.secretAccessKey}`).toString('base64');
  const res = await fetch(`${env.f.server.endpoint}/v2/${repository}/tags/list`, { headers: { authorization: `Basic ${auth}` } });
  const body = (await res.json()) as { tags?: string[] | null };
  return res.status === 200 ? [...(body.tags ?? [])].sort() : [];
}

test('DeleteImage frees what only that image used: its registry tag and machine images at once, its blobs by the collector; a shared layer and the other images stay', async (t) => {
  const env = await lifecycleEnv(t);
  const { blobs, store } = env;
  const shared = await makeLayer(blobs, 'etc/os-release', 'the base layer both builds share');
  const own = [await makeLayer(blobs, 'app/v1', 'only the first build'), await makeLayer(blobs, 'app/v2', 'only the second build')];
  const first = await containerBuild(env, 'solo', 1, 2, [shared, own[0]!]);
  const second = await containerBuild(env, 'solo', 2, 1, [shared, own[1]!]);
  const disk = { digest: `sha256:${'0'.repeat(64)}` as const, sizeBytes: 1, format: 'raw' as const, rootPartUuid: 'x', kernelVersion: '6.1.0' };
  const amis = [];
  for (const name of ['vm-a', 'vm-b']) {
    const record = await addImageRecord(store, { accountId: env.accountId, name, type: 'AMI', dateCreated: new Date() });
    amis.push({ arn: record.arn, mi: await registerMachineImage(store, { accountId: env.accountId, region: 'local', name, sourceImageArn: record.arn, disk }) });
  }
  assert.deepEqual(await registryTags(env, 'solo'), ['1.0.0-1', '1.0.0-2']);
  const client = env.f.client();

  await client.send(new DeleteImageCommand({ imageBuildVersionArn: first.arn }));
  assert.equal(await store.getResource(first.arn), undefined);
  assert.deepEqual(await registryTags(env, 'solo'), ['1.0.0-2'], 'the deleted image’s tag is gone from the registry');
  assert.equal(await registryStatus(env, 'solo', '1.0.0-1'), 404);
  assert.equal(await registryStatus(env, 'solo', first.image.manifestDigest), 404, 'and its manifest, which no tag names any more');
  const gc = await env.runner.collectGarbage();
  for (const gone of [first.image.manifestDigest, first.image.configDigest, own[0]!.digest]) assert.equal(await blobs.has(gone), false, `${gone} was collected`);
  assert.equal(gc.blobs, 3);
  for (const kept of [shared.digest, own[1]!.digest, second.image.manifestDigest, second.image.configDigest]) assert.equal(await blobs.has(kept), true, `${kept} stays`);
  assert.equal(await registryStatus(env, 'solo', '1.0.0-2'), 200, 'the other image is intact');
  assert.equal(await statusOf(store, second.arn), 'AVAILABLE');

  await client.send(new DeleteImageCommand({ imageBuildVersionArn: amis[0]!.arn }));
  assert.equal(await store.getResource(amis[0]!.mi.arn), undefined, 'the machine image it produced is deregistered');
  assert.ok(await store.getResource(amis[1]!.mi.arn), 'another image’s machine image stays');
});

test('lifecycle: a Kiln server with builds on runs the lifecycle runner itself', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root: the build engine starts with the runner');
  const { dataDir, client } = await startBuildServer(t);
  const store = openStore(dataDir);
  t.after(() => store.close());
  const accountId = (await store.listAccounts()).find((a) => a.admin)!.accountId;
  const image = await addImageRecord(store, { accountId, name: 'web', type: 'AMI', dateCreated: new Date() });
  const { lifecycleExecutionId } = await client.send(new StartResourceStateUpdateCommand({ resourceArn: image.arn, state: { status: 'DISABLED' } }));
  const done = await waitFor('the server to perform the execution', async () => {
    const e = (await client.send(new GetLifecycleExecutionCommand({ lifecycleExecutionId }))).lifecycleExecution;
    return e?.state?.status === 'SUCCESS' ? e : undefined;
  });
  assert.equal(done.resourcesImpactedSummary?.hasImpactedResources, true);
  assert.equal(await statusOf(store, image.arn), 'DISABLED');
});
