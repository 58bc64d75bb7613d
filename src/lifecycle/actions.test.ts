import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { digestOf, FsBlobStore } from '../artifacts/blob-store.js';
import { MEDIA_TYPE_MANIFEST } from '../artifacts/oci/image.js';
import { registerMachineImage, machineImageData } from '../builder/machine/machine-images.js';
import { createBuiltinRegistry } from '../registry/server/builtin-registry.js';
import type { ResourceRecord } from '../store/store.js';
import { applyImageAction, parseImageUri, type ActionContext, type ImageAction } from './actions.js';
import { ACCOUNT, REGION, addImageRecord, makeImage, makeLayer, statusOf, tempStore } from './testing.js';

const HOST = 'kiln.test:8420';
const OTHER = '222222222222';

function setup(t: Parameters<typeof tempStore>[0]) {
  const { store, dir } = tempStore(t);
  const blobs = new FsBlobStore(path.join(dir, 'blobs'));
  const registry = createBuiltinRegistry({ store, blobs, region: REGION });
  const ctx: ActionContext = { store, blobs, registryHost: () => HOST, now: () => new Date('2026-05-01T00:00:00Z'), executionId: 'lce-00000000-0000-0000-0000-000000000001' };
  return { store, blobs, registry, ctx };
}

const act = (imageArn: string, action: ImageAction['action'], over: Partial<ImageAction> = {}): ImageAction => ({ imageArn, action, include: {}, amiSkips: new Map(), manual: false, ...over });

test('parseImageUri reads host, repository and tag or digest', () => {
  assert.deepEqual(parseImageUri('kiln.test:8420/team/web:1.0.0-1'), { host: 'kiln.test:8420', repository: 'team/web', tag: '1.0.0-1' });
  assert.deepEqual(parseImageUri(`h/web@sha256:${'a'.repeat(64)}`), { host: 'h', repository: 'web', digest: `sha256:${'a'.repeat(64)}` });
  assert.equal(parseImageUri('no-slash:tag'), undefined);
  assert.equal(parseImageUri('host:5000/untagged'), undefined);
});

test('DELETE with containers: the image’s tags and manifest leave Kiln’s registry, shared blobs stay linked', async (t) => {
  const { store, blobs, registry, ctx } = setup(t);
  const base = await makeLayer(blobs, 'base', 'base');
  const own = await makeLayer(blobs, 'own', 'own');
  const old = await makeImage(blobs, [base, own], 'old');
  const next = await makeImage(blobs, [base], 'next');
  for (const tag of ['1.0.0-1', 'stable']) await registry.tag({ accountId: ACCOUNT, repository: 'web', tag, manifestDigest: old.manifestDigest, mediaType: MEDIA_TYPE_MANIFEST });
  await registry.tag({ accountId: ACCOUNT, repository: 'web', tag: '1.0.0-2', manifestDigest: next.manifestDigest, mediaType: MEDIA_TYPE_MANIFEST });
  await registry.tag({ accountId: ACCOUNT, repository: 'web', tag: 'latest', manifestDigest: next.manifestDigest, mediaType: MEDIA_TYPE_MANIFEST });
  // The old image's SBOM, and an artifact that refers to the SBOM in turn (a signature of it).
  const sbomPayload = Buffer.from('{"spdxVersion":"SPDX-2.3"}');
  const sbom = await registry.attach({ accountId: ACCOUNT, repository: 'web', subject: old.manifestDigest, artifactType: 'application/spdx+json', payload: sbomPayload });
  const sig = await registry.attach({ accountId: ACCOUNT, repository: 'web', subject: sbom, artifactType: 'application/vnd.example.signature', payload: Buffer.from('sig') });
  const uris = [`${HOST}/web:1.0.0-1`, `${HOST}/web:stable`, `${HOST}/web:latest`, 'registry.example.com/web:1.0.0-1'];
  const image = await addImageRecord(store, { name: 'web', dateCreated: new Date(), containerImage: old, imageUris: uris });

  const out = await applyImageAction(ctx, act(image.arn, 'DELETE', { include: { containers: true } }));
  assert.deepEqual(out.image, { status: 'SUCCESS' });
  assert.deepEqual(out.imageUris, uris);
  assert.deepEqual(
    out.children.map((c) => [c.resourceId, c.state.status, c.parentResourceId, c.action.name]),
    uris.map((u, i) => [u, i === 3 ? 'SKIPPED' : 'SUCCESS', image.arn, 'DELETE']),
  );
  assert.match(out.children[1]!.state.reason!, /deleted sha256:.* from web/);
  assert.match(out.children[2]!.state.reason!, /now names .*another image; it was left in place/);
  assert.match(out.children[3]!.state.reason!, /not in Kiln's registry/);
  assert.equal(await store.getRegistryManifest('web', '1.0.0-1'), undefined);
  assert.equal(await store.getRegistryManifest('web', old.manifestDigest), undefined);
  assert.equal((await store.getRegistryManifest('web', 'latest'))?.digest, next.manifestDigest);
  assert.equal(await store.hasRegistryBlob('web', own.digest), false, 'a blob only the deleted manifest needed is unlinked');
  assert.equal(await store.hasRegistryBlob('web', base.digest), true, 'a blob another manifest needs stays linked');
  for (const gone of [sbom, sig]) assert.equal(await store.getRegistryManifest('web', gone), undefined, 'the artifacts referring to the deleted image go with it');
  assert.equal(await store.hasRegistryBlob('web', digestOf(sbomPayload)), false, 'and their blobs are unlinked');
  const stored = (await store.getResource(image.arn))!;
  assert.deepEqual(stored.data.state, { status: 'DELETED' });
  assert.equal(stored.data.lifecycleExecutionId, ctx.executionId);

  const again = await applyImageAction(ctx, act(image.arn, 'DELETE', { include: { containers: true } }));
  assert.match(again.image.reason!, /already DELETED/);
  assert.ok(again.children.slice(0, 2).every((c) => c.state.status === 'SUCCESS' && /already gone/.test(c.state.reason!)));
  await store.deleteResource(image.arn);
  assert.deepEqual((await applyImageAction(ctx, act(image.arn, 'DELETE'))).image, { status: 'SUCCESS', reason: 'the image record was already deleted' });
  assert.equal((await applyImageAction(ctx, act(image.arn, 'DEPRECATE'))).image.status, 'FAILED');
});

async function amiImage(store: ActionContext['store']): Promise<{ image: ResourceRecord; shared: ResourceRecord; open: ResourceRecord }> {
  const image = await addImageRecord(store, { name: 'base', type: 'AMI', dateCreated: new Date() });
  const disk = { digest: `sha256:${'d'.repeat(64)}` as const, sizeBytes: 1, format: 'raw' as const, rootPartUuid: 'x', kernelVersion: '6.1' };
  const shared = await registerMachineImage(store, { accountId: ACCOUNT, region: REGION, name: 'base 1', sourceImageArn: image.arn, disk, launchPermission: { userIds: [OTHER] } });
  const open = await registerMachineImage(store, { accountId: ACCOUNT, region: REGION, name: 'base 2', sourceImageArn: image.arn, disk, launchPermission: { userGroups: ['all'] } });
  return { image, shared, open };
}

test('DEPRECATE, DISABLE and AVAILABLE with AMIs: deprecation marks, private machine images, exclusions', async (t) => {
  const { store, ctx } = setup(t);
  const { image, shared, open } = await amiImage(store);
  const openId = machineImageData(open).amiId;

  const deprecated = await applyImageAction(ctx, act(image.arn, 'DEPRECATE', { include: { amis: true }, amiSkips: new Map([[openId, 'the machine image is public']]) }));
  assert.equal(deprecated.image.status, 'SUCCESS');
  const byId = (out: typeof deprecated) => Object.fromEntries(out.children.map((c) => [c.resourceId, c.state.status]));
  assert.deepEqual(byId(deprecated), { [machineImageData(shared).amiId]: 'SUCCESS', [openId]: 'SKIPPED' });
  assert.equal((await store.getResource(image.arn))!.data.deprecationTime, '2026-05-01T00:00:00.000Z');
  const sharedData = (await store.getResource(shared.arn))!.data;
  assert.equal((sharedData.tags as Record<string, string>).DeprecatedBy, 'EC2 Image Builder');
  assert.equal((await store.getResource(open.arn))!.data.deprecationTime, undefined, 'the excluded machine image is untouched');

  assert.equal((await store.listGrantedResources({ grantee: OTHER, region: REGION, type: 'machine-image' })).length, 2);
  const disabled = await applyImageAction(ctx, act(image.arn, 'DISABLE', { include: { amis: true } }));
  assert.deepEqual(disabled.children.map((c) => c.state.status), ['SUCCESS', 'SUCCESS']);
  assert.equal(await statusOf(store, image.arn), 'DISABLED');
  assert.equal((await store.listGrantedResources({ grantee: OTHER, region: REGION, type: 'machine-image' })).length, 0, 'disabled machine images are private');
  const after = (await store.getResource(shared.arn))!.data;
  assert.deepEqual(after.launchPermission, { userIds: [], userGroups: [] });
  assert.equal((after.tags as Record<string, string>).DeprecatedBy, undefined, 'the deprecation mark goes');

  const refused = await applyImageAction(ctx, act(image.arn, 'DEPRECATE', { include: { amis: true } }));
  assert.equal(refused.image.status, 'FAILED');
  assert.match(refused.image.reason!, /DISABLED cannot become DEPRECATED/);
  assert.deepEqual(refused.children, [], 'machine images are left alone when the image state change is refused');

  assert.equal((await applyImageAction(ctx, act(image.arn, 'AVAILABLE'))).image.status, 'FAILED', 'a policy never restores an image');
  const restored = await applyImageAction(ctx, act(image.arn, 'AVAILABLE', { include: { amis: true }, manual: true }));
  assert.equal(restored.image.status, 'SUCCESS');
  assert.equal(await statusOf(store, image.arn), 'AVAILABLE');
  assert.equal((await store.getResource(shared.arn))!.data.disabledTime, undefined);
});

test('DELETE with AMIs deregisters the machine images, except excluded ones; failed images may be deleted', async (t) => {
  const { store, ctx } = setup(t);
  const { image, shared, open } = await amiImage(store);
  const out = await applyImageAction(ctx, act(image.arn, 'DELETE', { include: { amis: true }, amiSkips: new Map([[machineImageData(open).amiId, 'kept']]) }));
  assert.deepEqual(out.children.map((c) => [c.resourceId, c.state.status, c.region, c.accountId]).sort(), [
    [machineImageData(shared).amiId, 'SUCCESS', REGION, ACCOUNT],
    [machineImageData(open).amiId, 'SKIPPED', REGION, ACCOUNT],
  ].sort());
  assert.equal(await store.getResource(shared.arn), undefined);
  assert.ok(await store.getResource(open.arn));
  assert.equal(await statusOf(store, image.arn), 'DELETED');

  const failed = await addImageRecord(store, { name: 'base', type: 'AMI', status: 'FAILED', dateCreated: new Date() });
  assert.equal((await applyImageAction(ctx, act(failed.arn, 'DELETE'))).image.status, 'SUCCESS');
  assert.equal(await statusOf(store, failed.arn), 'DELETED');
  const building = await addImageRecord(store, { name: 'base', type: 'AMI', status: 'BUILDING', dateCreated: new Date() });
  const refused = await applyImageAction(ctx, act(building.arn, 'DELETE'));
  assert.equal(refused.image.status, 'FAILED');
  assert.match(refused.image.reason!, /build is still under way/);
});
