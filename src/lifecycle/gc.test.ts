import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FsBlobStore } from '../artifacts/blob-store.js';
import { LocalDiskStore } from '../artifacts/disk/disk-store.js';
import { MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST, canonicalJson } from '../artifacts/oci/image.js';
import { LayerCache } from '../artifacts/oci/unpack.js';
import { registerMachineImage } from '../builder/machine/machine-images.js';
import { createBuiltinRegistry } from '../registry/server/builtin-registry.js';
import { collectGarbage, collectLocalLayers, reachableBlobs } from './gc.js';
import { ACCOUNT, REGION, addImageRecord, makeImage, makeLayer, tempStore } from './testing.js';

function setup(t: Parameters<typeof tempStore>[0]) {
  const { store, dir } = tempStore(t);
  const blobs = new FsBlobStore(path.join(dir, 'blobs'));
  const layers = new LayerCache(path.join(dir, 'layers'), blobs);
  const disks = new LocalDiskStore(path.join(dir, 'disks'));
  return { store, dir, blobs, layers, disks };
}

/** A small raw "disk" moved into the disk store. */
async function makeDisk(dir: string, disks: LocalDiskStore, content: string) {
  const file = path.join(dir, `disk-${content}.raw`);
  await writeFile(file, Buffer.alloc(64 * 1024, content));
  const stored = await disks.adopt(file);
  return { ...stored, format: 'raw' as const, rootPartUuid: '00000000-0000-0000-0000-000000000000', kernelVersion: '6.1.0' };
}

test('gc: what records, the registry and machine images reference stays; the rest goes, layers and disks with it', async (t) => {
  const { store, dir, blobs, layers, disks } = setup(t);
  const base = await makeLayer(blobs, 'etc/base', 'shared by every image');
  const kept = await makeLayer(blobs, 'kept', 'of the available image');
  const gone = await makeLayer(blobs, 'gone', 'of the deleted image');
  const tagged = await makeLayer(blobs, 'tagged', 'of an image only the registry holds');
  const linked = await makeLayer(blobs, 'linked', 'uploaded to a repository, no manifest yet');
  const parent = await makeLayer(blobs, 'parent', 'of a parent a build plan names');
  const orphan = await blobs.put(Buffer.from('nothing names me'));

  const available = await makeImage(blobs, [base, kept], 'available');
  const deleted = await makeImage(blobs, [base, gone], 'deleted');
  const registryOnly = await makeImage(blobs, [base, tagged], 'registry');
  const parentImage = await makeImage(blobs, [base, parent], 'parent');
  await addImageRecord(store, { name: 'web', dateCreated: new Date(), containerImage: available });
  await addImageRecord(store, { name: 'web', dateCreated: new Date(), containerImage: deleted, status: 'DELETED' });
  await addImageRecord(store, { name: 'api', dateCreated: new Date(), status: 'FAILED', data: { buildPlan: { parent: { requested: 'x', resolved: 'x', manifestDigest: parentImage.manifestDigest, source: 'registry' }, components: [] } } });
  const registry = createBuiltinRegistry({ store, blobs, region: REGION });
  await registry.tag({ accountId: ACCOUNT, repository: 'team/web', tag: 'v1', manifestDigest: registryOnly.manifestDigest, mediaType: MEDIA_TYPE_MANIFEST });
  await store.linkRegistryBlobs('team/web', [linked.digest]);

  const keptDisk = await makeDisk(dir, disks, 'a');
  const goneDisk = await makeDisk(dir, disks, 'b');
  await registerMachineImage(store, { accountId: ACCOUNT, region: REGION, name: 'web 1', sourceImageArn: 'arn:aws:imagebuilder:local:123456789012:image/web/1.0.0/9', disk: keptDisk });

  const keptDir = await layers.layerDir(kept);
  const goneDir = await layers.layerDir(gone);
  const baseDir = await layers.layerDir(base);

  const report = await collectGarbage({ store, blobs, layers, disks, graceMs: 0 });
  assert.equal(report.deferred, undefined);
  const expectGone = [gone.digest, deleted.manifestDigest, deleted.configDigest, orphan.digest];
  assert.equal(report.blobs, expectGone.length);
  assert.equal(report.blobBytes, gone.size + deleted.manifestSize + deleted.configSize + orphan.size);
  for (const d of expectGone) assert.equal(await blobs.has(d), false, `${d} is collected`);
  const expectKept = [base, kept, tagged, linked, parent].map((l) => l.digest).concat([available.manifestDigest, available.configDigest, registryOnly.manifestDigest, parentImage.manifestDigest, parentImage.configDigest]);
  for (const d of expectKept) assert.equal(await blobs.has(d), true, `${d} is still referenced`);

  assert.equal(report.layers, 1);
  assert.equal(existsSync(goneDir), false);
  assert.ok(existsSync(keptDir) && existsSync(baseDir));

  assert.equal(report.disks, 1);
  assert.ok(report.diskBytes > 0);
  assert.equal(await disks.has(goneDisk.digest), false);
  assert.equal(await disks.has(keptDisk.digest), true);

  const again = await collectGarbage({ store, blobs, layers, disks, graceMs: 0 });
  assert.deepEqual([again.blobs, again.layers, again.disks], [0, 0, 0], 'a second pass finds nothing more');
});

test('gc: files younger than the grace period stay, counted as young', async (t) => {
  const { store, blobs, layers, disks } = setup(t);
  const orphan = await blobs.put(Buffer.from('written a moment ago'));
  const report = await collectGarbage({ store, blobs, layers, disks, graceMs: 60 * 60 * 1000 });
  assert.deepEqual([report.blobs, report.young], [0, 1]);
  assert.equal(await blobs.has(orphan.digest), true);
});

test('gc: waits while a build job is leased, and says which', async (t) => {
  const { store, blobs } = setup(t);
  const orphan = await blobs.put(Buffer.from('maybe the layer a build is storing'));
  await store.enqueueJob('build-image', 'arn:aws:imagebuilder:local:123456789012:image/web/1.0.0/1');
  const job = await store.leaseJob(['build-image'], 'worker', 60_000);
  const report = await collectGarbage({ store, blobs, graceMs: 0 });
  assert.match(report.deferred ?? '', /build-image arn:aws:imagebuilder:local:123456789012:image\/web\/1\.0\.0\/1/);
  assert.equal(await blobs.has(orphan.digest), true);
  await store.finishJob(job!.id, 'worker', 'done');
  assert.equal((await collectGarbage({ store, blobs, graceMs: 0 })).blobs, 1);
});

test('reachableBlobs follows an index to its manifests, their configs and layers', async (t) => {
  const { blobs } = setup(t);
  const layer = await makeLayer(blobs, 'a', 'a');
  const image = await makeImage(blobs, [layer], 'child');
  const index = await blobs.put(Buffer.from(canonicalJson({ schemaVersion: 2, mediaType: MEDIA_TYPE_INDEX, manifests: [{ mediaType: MEDIA_TYPE_MANIFEST, digest: image.manifestDigest, size: image.manifestSize }] })));
  const live = await reachableBlobs(blobs, [index.digest]);
  assert.deepEqual([...live].sort(), [index.digest, image.manifestDigest, image.configDigest, layer.digest].sort());
});

test('collectLocalLayers: a node drops the unpacked layers whose blobs the collection removed, once past the grace period', async (t) => {
  const { dir, blobs, layers } = setup(t);
  const stays = await makeLayer(blobs, 'stays', 'its blob is still stored');
  const goes = await makeLayer(blobs, 'goes', 'its blob was collected on another node');
  const staysDir = await layers.layerDir(stays);
  const goesDir = await layers.layerDir(goes);
  await blobs.delete(goes.digest);
  assert.equal(await collectLocalLayers({ blobs, layers, graceMs: 60 * 60 * 1000 }), 0, 'a layer unpacked within the grace period stays');
  assert.equal(await collectLocalLayers({ blobs, layers, graceMs: 0 }), 1);
  assert.deepEqual([existsSync(staysDir), existsSync(goesDir)], [true, false]);
  assert.ok(existsSync(path.join(dir, 'layers')), 'the cache folder itself stays');
});

test('gc: a blob or disk a step cache entry names survives; once its entry is pruned for the limit, it is collected', async (t) => {
  const { store, dir, blobs, layers, disks } = setup(t);
  const cached = await makeLayer(blobs, 'cached', 'a component layer only the step cache names');
  const recent = await makeLayer(blobs, 'recent', 'the layer of a recently used entry');
  const disk = await makeDisk(dir, disks, 'c');
  // Distinct use times, oldest first, so the least recently used order does not hang on a tie.
  const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
  await store.putCacheEntry({ key: 'b'.repeat(64), accountId: ACCOUNT, kind: 'layer', label: 'component none', size: 0, entry: { layer: null } });
  await tick();
  await store.putCacheEntry({ key: 'a'.repeat(64), accountId: ACCOUNT, kind: 'layer', label: 'component old', size: 600, entry: { layer: cached, history: { created_by: 'old' } } });
  await tick();
  await store.putCacheEntry({ key: 'c'.repeat(64), accountId: ACCOUNT, kind: 'disk', label: 'disk', size: 300, entry: { disk: { digest: disk.digest } } });
  await tick();
  await store.putCacheEntry({ key: 'd'.repeat(64), accountId: ACCOUNT, kind: 'layer', label: 'component new', size: 400, entry: { layer: recent } });

  const kept = await collectGarbage({ store, blobs, layers, disks, graceMs: 0, buildCacheBytes: 10_000 });
  assert.deepEqual([kept.blobs, kept.disks, kept.cacheEntries, kept.cacheBytes], [0, 0, 0, 0], 'within the limit, nothing is pruned or collected');
  assert.ok((await blobs.has(cached.digest)) && (await blobs.has(recent.digest)) && (await disks.has(disk.digest)));

  // 1300 bytes against a limit of 800: the least recently used go first, until what is left fits.
  await tick();
  await store.touchCacheEntries(['c'.repeat(64)]);
  const pruned = await collectGarbage({ store, blobs, layers, disks, graceMs: 0, buildCacheBytes: 800 });
  assert.deepEqual([pruned.cacheEntries, pruned.cacheBytes], [2, 600]);
  assert.deepEqual((await store.listCacheEntries()).map((e) => e.label), ['disk', 'component new']);
  assert.equal(await blobs.has(cached.digest), false, 'the pruned entry\'s layer is collected in the same pass');
  assert.equal(pruned.blobs, 1);
  assert.ok((await blobs.has(recent.digest)) && (await disks.has(disk.digest)), 'what live entries name stays');

  await store.deleteCacheEntries(['c'.repeat(64)]);
  const disksGone = await collectGarbage({ store, blobs, layers, disks, graceMs: 0 });
  assert.deepEqual([disksGone.disks, await disks.has(disk.digest)], [1, false], 'a disk is collected once no entry names it');
});
