import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import test from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { isKilnError } from '../../domain/errors.js';
import { DEFAULT_GZIP_LEVEL, MEDIA_TYPE_LAYER_GZIP, writeLayer, writeTar, type Compression } from './layer.js';
import { END_OF_ARCHIVE, encodeHeader, padding } from './tar.js';
import { hasTool, layerSkipReason, makeUpper, tempBlobStore, tempDir, treeFacts } from './testing.js';
import { LayerCache } from './unpack.js';

const EPOCH = 1_700_000_000;
const skip = layerSkipReason(['tar', 'pigz', 'zstd']);

/** Children of this process running `name` (pigz, tar). */
function children(name: string): string[] {
  const r = spawnSync('pgrep', ['-P', String(process.pid), '-x', name], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean);
}

async function tempEntries(root: string): Promise<string[]> {
  return (await fsp.readdir(root).catch(() => [] as string[])).filter((n) => n.startsWith('.'));
}

async function* chunks(...parts: Buffer[]): AsyncGenerator<Buffer> {
  yield* parts;
}

/** A tar that never ends: one file whose body comes slowly, until the consumer stops reading. */
async function* endlessTar(): AsyncGenerator<Buffer> {
  yield encodeHeader({ name: 'big', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 2 ** 32, mtime: EPOCH });
  for (;;) {
    yield Buffer.alloc(64 << 10, 7);
    await sleep(5);
  }
}

test('gzip layers come from pigz: reproducible, independent of the thread count, the tar inside hashes to diff_id', { skip }, async (t) => {
  const upper = await tempDir(t);
  await makeUpper(upper);
  // Enough bytes for several pigz blocks (128 KiB each), so threads really split the work.
  await fsp.writeFile(path.join(upper, 'blocks'), Buffer.from(Array.from({ length: 40_000 }, (_, i) => `line ${i} ${i * 7919}\n`).join('')));
  const store = await tempBlobStore(t);
  const one = await writeLayer(store, upper, { source: 'overlay-upper', sourceDateEpoch: EPOCH });
  assert.equal(one.mediaType, MEDIA_TYPE_LAYER_GZIP);
  assert.deepEqual(await writeLayer(store, upper, { source: 'overlay-upper', sourceDateEpoch: EPOCH }), one);
  const blob = await store.get(one.digest);
  // No name, mtime 0: the header depends on nothing but the level.
  assert.deepEqual([blob[3], blob.readUInt32LE(4)], [0, 0]);
  const tar = gunzipSync(blob);
  assert.equal(`sha256:${createHash('sha256').update(tar).digest('hex')}`, one.diffId);
  assert.equal(tar.length, one.uncompressedSize);
  // pigz with any other thread count makes the same bytes, at the fast levels too (whose one-thread path differs).
  for (const level of [DEFAULT_GZIP_LEVEL, 1]) {
    const layer = level === DEFAULT_GZIP_LEVEL ? one : await writeLayer(store, upper, { source: 'overlay-upper', sourceDateEpoch: EPOCH, level });
    for (const threads of [2, 7]) {
      const out = spawnSync('pigz', ['-c', '-n', `-${level}`, '-p', String(threads)], { input: tar, maxBuffer: 1 << 30 });
      assert.equal(`sha256:${createHash('sha256').update(out.stdout).digest('hex')}`, layer.digest, `level ${level}, ${threads} threads`);
    }
  }
  const other = await writeLayer(store, upper, { source: 'overlay-upper', sourceDateEpoch: EPOCH, level: (DEFAULT_GZIP_LEVEL as number) === 1 ? 9 : 1 });
  assert.equal(other.diffId, one.diffId);
  assert.notEqual(other.digest, one.digest);
  await assert.rejects(writeLayer(store, upper, { source: 'overlay-upper', sourceDateEpoch: EPOCH, level: 12 }), (e) => isKilnError(e, 'InvalidArgument') && /^level: gzip/.test(e.message));
});

test('a missing compressor is Unavailable, named with its Debian package, and nothing is stored', { skip }, async (t) => {
  const store = await tempBlobStore(t);
  const empty = await tempDir(t);
  const saved = process.env.PATH;
  process.env.PATH = empty;
  try {
    await assert.rejects(writeTar(store, chunks(END_OF_ARCHIVE), { compression: 'gzip' }), (e) => isKilnError(e, 'Unavailable') && /pigz is not installed \(Debian package "pigz"\)/.test(e.message) && !e.message.includes(empty));
  } finally {
    process.env.PATH = saved;
  }
  assert.deepEqual(await store.list(), []);
});

test('unpackInto: the layer unpacked from the tar as it is written equals the unpack of the stored blob', { skip }, async (t) => {
  const upper = await tempDir(t);
  await makeUpper(upper);
  const store = await tempBlobStore(t);
  const root = path.join(await tempDir(t), 'layers');
  const cache = new LayerCache(root, store);
  for (const compression of ['gzip', 'zstd', 'none'] as Compression[]) {
    const layer = await writeLayer(store, upper, { source: 'overlay-upper', sourceDateEpoch: EPOCH, compression, unpackInto: cache });
    assert.equal(layer.dir, path.join(root, layer.digest.slice('sha256:'.length)), compression);
    assert.equal(await cache.layerDir(layer), layer.dir, `${compression}: layerDir gives the same dir without unpacking again`);
    const fresh = new LayerCache(path.join(await tempDir(t), 'from-blob'), store);
    const fromBlob = await fresh.layerDir(layer);
    const facts = await treeFacts(layer.dir!);
    assert.deepEqual(facts, await treeFacts(fromBlob), compression);
    // The overlay form is there: a whiteout is a 0/0 character device, the opaque dir carries its xattr.
    assert.ok(facts.some((f) => f.startsWith('usr/bin/rgrep|c|0|0:0|') && f.includes('|0:0|')), compression);
    assert.ok(facts.some((f) => f.startsWith('etc/apt/apt.conf.d|d|') && f.includes(`trusted.overlay.opaque=${Buffer.from('y').toString('hex')}`)), compression);
    assert.ok(!facts.some((f) => f.includes('.wh.')), `${compression}: no OCI markers are left`);
  }
  assert.deepEqual(await tempEntries(root), [], 'no temp dir is left');
  // A layer unpacked before (the same content built again) is kept; the new unpack is dropped.
  const again = await writeLayer(store, upper, { source: 'overlay-upper', sourceDateEpoch: EPOCH, unpackInto: cache });
  assert.equal(again.dir, path.join(root, again.digest.slice('sha256:'.length)));
  assert.deepEqual(await tempEntries(root), []);
});

test('a cancelled layer write leaves no pigz or tar process, no temp dir and no blob', { skip }, async (t) => {
  const store = await tempBlobStore(t);
  const root = path.join(await tempDir(t), 'layers');
  const cache = new LayerCache(root, store);
  for (const compression of ['gzip', 'zstd'] as Compression[]) {
    const program = compression === 'gzip' ? 'pigz' : 'zstd';
    const abort = new AbortController();
    const writing = writeTar(store, endlessTar(), { compression, signal: abort.signal, unpackInto: cache });
    writing.catch(() => undefined);
    for (let i = 0; i < 200 && (children(program).length === 0 || children('tar').length === 0); i++) await sleep(10);
    assert.equal(children(program).length, 1, `${program} runs while the layer is written`);
    assert.equal((await tempEntries(root)).length, 1, 'the unpack has its temp dir');
    await sleep(100);
    abort.abort();
    await assert.rejects(writing);
    assert.deepEqual(children(program), [], `no ${program} is left`);
    assert.deepEqual(children('tar'), [], 'no tar is left');
    assert.deepEqual(await tempEntries(root), [], 'no temp dir is left');
  }
  assert.deepEqual(await store.list(), []);
});

test('a failing tar stream or a layer the unpack refuses stores nothing and leaves nothing behind', { skip }, async (t) => {
  const store = await tempBlobStore(t);
  const root = path.join(await tempDir(t), 'layers');
  const cache = new LayerCache(root, store);
  async function* failing(): AsyncGenerator<Buffer> {
    yield encodeHeader({ name: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 1 << 20, mtime: EPOCH });
    yield Buffer.alloc(1 << 19);
    throw new Error('the walk failed');
  }
  await assert.rejects(writeTar(store, failing(), { unpackInto: cache }), /the walk failed/);
  const body = Buffer.from('x');
  const escaping = chunks(encodeHeader({ name: '../evil', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 1, mtime: EPOCH }), body, padding(1), END_OF_ARCHIVE);
  await assert.rejects(writeTar(store, escaping, { unpackInto: cache }), (e) => isKilnError(e, 'InvalidArgument') && /unpacking the new layer: .*leads out of the layer/.test(e.message));
  // Refused half-way, while the compressor has already been fed (and may exit cleanly on the early end).
  async function* brokenHalfWay(): AsyncGenerator<Buffer> {
    yield encodeHeader({ name: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 256, mtime: EPOCH });
    // The body, then bytes that are no tar header.
    for (;;) {
      yield Buffer.alloc(64 << 10, 7);
      await sleep(5);
    }
  }
  for (const compression of ['gzip', 'zstd'] as Compression[]) {
    await assert.rejects(writeTar(store, brokenHalfWay(), { compression, unpackInto: cache }), (e) => isKilnError(e, 'InvalidArgument') && /unpacking the new layer: not a tar archive/.test(e.message), compression);
  }
  assert.deepEqual(children('pigz'), []);
  assert.deepEqual(children('tar'), []);
  assert.deepEqual(await tempEntries(root), []);
  assert.deepEqual(await store.list(), []);
  assert.ok(hasTool('pigz'));
});
