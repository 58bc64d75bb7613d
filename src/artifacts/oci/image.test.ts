import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import test from 'node:test';
import { isKilnError } from '../../domain/errors.js';
import { digestOf } from '../blob-store.js';
import { canonicalJson, exportLayout, MEDIA_TYPE_MANIFEST, readManifest, writeImage, type ImageInput } from './image.js';
import { writeLayer, type LayerDescriptor } from './layer.js';
import { layerSkipReason, makeUpper, run, tempBlobStore, tempDir } from './testing.js';

const EPOCH = 1_700_000_000;
const CREATED = new Date(EPOCH * 1000).toISOString();

function fakeLayer(digest: string): LayerDescriptor {
  return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest as LayerDescriptor['digest'], size: 1, diffId: digestOf('diff'), uncompressedSize: 1 };
}

test('canonical JSON sorts keys at every level and drops undefined members', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[{"y":2,"z":1}]},"b":1}');
});

test('config and manifest: fields, media types, and the same input gives the same digests', async (t) => {
  const store = await tempBlobStore(t);
  const layerBlob = await store.put(Buffer.from('pretend layer'));
  const input: ImageInput = {
    layers: [fakeLayer(layerBlob.digest)],
    created: CREATED,
    config: {
      Env: ['PATH=/usr/bin:/bin'],
      Cmd: ['/bin/sh'],
      Entrypoint: ['/entry'],
      User: '1000:1000',
      WorkingDir: '/srv',
      Labels: { b: '2', a: '1' },
      ExposedPorts: ['80/tcp'],
      Volumes: ['/data'],
      StopSignal: 'SIGTERM',
      Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 30e9, Retries: 3 },
    },
    history: [{ created: CREATED, created_by: 'ENV PATH', empty_layer: true }, { created: CREATED, created_by: 'RUN components' }],
  };
  const image = await writeImage(store, input);
  assert.deepEqual(await writeImage(store, input), image);
  const manifest = await readManifest(store, image.manifestDigest);
  assert.equal(manifest.mediaType, MEDIA_TYPE_MANIFEST);
  assert.equal(manifest.config.digest, image.configDigest);
  assert.deepEqual(manifest.layers, [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerBlob.digest, size: 1 }]);
  const config = JSON.parse((await store.get(image.configDigest)).toString()) as Record<string, unknown> & { config: Record<string, unknown>; rootfs: unknown };
  assert.equal(config.architecture, 'amd64');
  assert.equal(config.os, 'linux');
  assert.deepEqual(config.rootfs, { type: 'layers', diff_ids: [digestOf('diff')] });
  assert.deepEqual(config.config.ExposedPorts, { '80/tcp': {} });
  assert.deepEqual(config.config.Volumes, { '/data': {} });
  assert.deepEqual(config.config.Healthcheck, { Interval: 30e9, Retries: 3, Test: ['CMD-SHELL', 'true'] });
  assert.equal((await store.get(image.configDigest)).toString(), canonicalJson(config));
});

test('writeImage refuses history that does not match the layers, and layers that are not stored', async (t) => {
  const store = await tempBlobStore(t);
  const layerBlob = await store.put(Buffer.from('l'));
  await assert.rejects(writeImage(store, { layers: [fakeLayer(layerBlob.digest)], history: [{ empty_layer: true }] }), (e) => isKilnError(e, 'InvalidArgument'));
  await assert.rejects(writeImage(store, { layers: [fakeLayer(digestOf('absent'))] }), (e) => isKilnError(e, 'NotFound'));
});

const skip = layerSkipReason(['umoci', 'skopeo']);

test('base + overlay image exported as an OCI layout: umoci unpacks it, skopeo inspects it', { skip }, async (t) => {
  const work = await tempDir(t);
  const rootfs = path.join(work, 'rootfs');
  const upper = path.join(work, 'upper');
  run('sh', ['-c', `
    set -e
    mkdir -p "$1/usr/bin" "$1/etc/apt/apt.conf.d" "$1/tmp"
    echo old > "$1/usr/bin/rgrep"; echo lower > "$1/etc/apt/apt.conf.d/70debconf"; echo keep > "$1/etc/keep"
    chmod 1777 "$1/tmp"
  `, 'sh', rootfs]);
  await fsp.mkdir(upper);
  await makeUpper(upper);
  const store = await tempBlobStore(t);
  const base = await writeLayer(store, rootfs, { source: 'rootfs', sourceDateEpoch: EPOCH });
  const diff = await writeLayer(store, upper, { source: 'overlay-upper', sourceDateEpoch: EPOCH });
  const image = await writeImage(store, { layers: [base, diff], created: CREATED, config: { Cmd: ['/bin/sh'], Env: ['A=1'] } });
  const layout = path.join(work, 'layout');
  await exportLayout(store, image.manifestDigest, layout, 'v1');
  // A second tag in the same layout keeps the first.
  await exportLayout(store, image.manifestDigest, layout, 'latest');
  const index = JSON.parse(await fsp.readFile(path.join(layout, 'index.json'), 'utf8')) as { manifests: { annotations: Record<string, string> }[] };
  assert.deepEqual(index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']), ['v1', 'latest']);

  const inspect = JSON.parse(run('skopeo', ['inspect', `oci:${layout}:v1`])) as { Layers: string[]; Env: string[]; Architecture: string };
  assert.deepEqual(inspect.Layers, [base.digest, diff.digest]);
  assert.deepEqual(inspect.Env, ['A=1']);
  assert.equal(inspect.Architecture, 'amd64');

  const bundle = path.join(work, 'bundle');
  run('umoci', ['unpack', '--image', `${layout}:v1`, bundle]);
  const r = path.join(bundle, 'rootfs');
  const exists = (p: string) => fsp.lstat(path.join(r, p)).then(() => true, () => false);
  assert.equal(await exists('usr/bin/rgrep'), false, 'whiteout removed the lower file');
  assert.deepEqual(await fsp.readdir(path.join(r, 'etc/apt/apt.conf.d')), ['99new'], 'opaque dir replaced the lower one');
  assert.equal(await fsp.readFile(path.join(r, 'etc/keep'), 'utf8'), 'keep\n');
  const conf = await fsp.stat(path.join(r, 'etc/new.conf'));
  assert.deepEqual([conf.uid, conf.gid, conf.mode & 0o7777], [1000, 1001, 0o640]);
  assert.equal((await fsp.stat(path.join(r, 'usr/bin/tool'))).mode & 0o7777, 0o4755);
  assert.equal((await fsp.stat(path.join(r, 'tmp'))).mode & 0o7777, 0o1777);
  assert.equal((await fsp.stat(path.join(r, 'usr/bin/tool-link'))).ino, (await fsp.stat(path.join(r, 'usr/bin/tool'))).ino);
  assert.equal(await fsp.readlink(path.join(r, 'usr/bin/sym')), 'tool');
  assert.equal(run('getfattr', ['--only-values', '-n', 'user.note', path.join(r, 'etc/new.conf')]), 'hello');
  assert.equal(run('getfattr', ['-e', 'hex', '-n', 'user.bin', path.join(r, 'etc/new.conf')]).includes('user.bin=0x00ff80'), true);
});
