import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import test from 'node:test';
import { gunzipSync } from 'node:zlib';
import { isKilnError } from '../../domain/errors.js';
import { MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_TAR, MEDIA_TYPE_LAYER_ZSTD, writeLayer } from './layer.js';
import { encodeHeader } from './tar.js';
import { hasTool, layerSkipReason, LONG, makeUpper, readTar, run, tempBlobStore, tempDir } from './testing.js';
import { parseGetfattr } from './xattrs.js';

const EPOCH = 1_700_000_000;
const skip = layerSkipReason();

test('getfattr output is parsed with escaped names and binary values', () => {
  const parsed = parseGetfattr('# file: /t/d\ntrusted.overlay.opaque=0x79\nuser.b=0x00ff01\n\n# file: /t/we ird\\012name\\\\x\nuser.k=0x76\nuser.empty\n\n');
  assert.deepEqual([...parsed.keys()], ['/t/d', '/t/we ird\nname\\x']);
  assert.deepEqual(parsed.get('/t/d')?.get('user.b'), Buffer.from([0, 0xff, 1]));
  assert.deepEqual(parsed.get('/t/we ird\nname\\x')?.get('user.empty'), Buffer.alloc(0));
});

test('tar headers: ustar when it fits, PAX for long names and binary xattrs, byte-stable', () => {
  const h = encodeHeader({ name: 'a/b', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 3, mtime: EPOCH });
  assert.equal(h.length, 512);
  const x = encodeHeader({ name: LONG + LONG, type: 'file', mode: 0o644, uid: 3_000_000, gid: 0, size: 0, mtime: EPOCH, xattrs: new Map([['user.b', Buffer.from([0, 0xff])]]) });
  assert.equal(String.fromCharCode(x[156]!), 'x');
  assert.ok(x.includes(Buffer.concat([Buffer.from('SCHILY.xattr.user.b='), Buffer.from([0, 0xff]), Buffer.from('\n')])));
  assert.ok(x.includes(Buffer.from(' uid=3000000\n')));
  assert.deepEqual(x, encodeHeader({ name: LONG + LONG, type: 'file', mode: 0o644, uid: 3_000_000, gid: 0, size: 0, mtime: EPOCH, xattrs: new Map([['user.b', Buffer.from([0, 0xff])]]) }));
});

test('an overlay upper dir becomes an OCI layer with whiteouts, opaque markers and every file type', { skip }, async (t) => {
  const upper = await tempDir(t);
  await makeUpper(upper);
  const store = await tempBlobStore(t);
  const layer = await writeLayer(store, upper, { source: 'overlay-upper', sourceDateEpoch: EPOCH });
  assert.equal(layer.mediaType, MEDIA_TYPE_LAYER_GZIP);
  const blob = await store.get(layer.digest);
  const raw = gunzipSync(blob);
  assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, layer.diffId);
  assert.equal(raw.length, layer.uncompressedSize);
  // gzip header: no file name flag, mtime 0.
  assert.equal(blob[3], 0);
  assert.equal(blob.readUInt32LE(4), 0);

  const entries = await readTar(blob);
  const names = entries.map((e) => e.name);
  const byName = new Map(entries.map((e) => [e.name, e]));
  assert.deepEqual(names.filter((n) => /^(dev|etc)\/[^/]*$/.test(n)), ['dev/', 'dev/blk', 'dev/null2', 'etc/', 'etc/café.txt', 'etc/new.conf']);
  // The opaque marker directly follows its directory.
  assert.equal(names[names.indexOf('etc/apt/apt.conf.d/') + 1], 'etc/apt/apt.conf.d/.wh..wh..opq');
  assert.ok(names.includes('etc/apt/apt.conf.d/99new'));
  assert.ok(!names.includes('usr/bin/rgrep'));
  assert.equal(byName.get('usr/bin/.wh.rgrep')?.type, 'file');
  assert.equal(byName.get('usr/bin/.wh.rgrep')?.size, 0);

  const conf = byName.get('etc/new.conf')!;
  assert.deepEqual([conf.uid, conf.gid, conf.mode, conf.body.toString()], [1000, 1001, 0o640, 'new\n']);
  assert.equal(conf.pax['SCHILY.xattr.user.note'], 'hello');
  assert.ok('SCHILY.xattr.user.bin' in conf.pax);
  assert.ok(!Object.keys(conf.pax).some((k) => k.includes('trusted')), 'trusted.* xattrs stay out');
  assert.equal(byName.get('usr/bin/tool')?.mode, 0o4755);
  assert.deepEqual([byName.get('usr/bin/tool-link')?.type, byName.get('usr/bin/tool-link')?.linkname], ['link', 'usr/bin/tool']);
  assert.deepEqual([byName.get('usr/bin/sym')?.type, byName.get('usr/bin/sym')?.linkname], ['symlink', 'tool']);
  assert.deepEqual([byName.get('dev/null2')?.type, byName.get('dev/null2')?.devmajor, byName.get('dev/null2')?.devminor], ['character-device', 1, 3]);
  assert.deepEqual([byName.get('dev/blk')?.type, byName.get('dev/blk')?.devmajor, byName.get('dev/blk')?.devminor], ['block-device', 7, 200]);
  assert.equal(byName.get('run/fifo')?.type, 'fifo');
  assert.equal(byName.get(LONG)?.body.toString(), 'long\n');
  assert.equal(byName.get('etc/café.txt')?.body.toString(), 'accent\n');
  // mtimes before the epoch are kept as they are.
  assert.equal(byName.get('usr/bin/sym')?.mtime, Math.floor((await fsp.lstat(path.join(upper, 'usr/bin/sym'))).mtimeMs / 1000));
  for (const e of entries) assert.ok(e.mtime <= EPOCH, `${e.name} mtime clamped`);
  const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a.replace(/\/$/, '')), Buffer.from(b.replace(/\/$/, ''))));
  assert.ok(names.indexOf('usr/bin/.wh.rgrep') < names.indexOf('usr/bin/sym'));
  // Sorted by path, except that an opaque marker directly follows its directory.
  assert.deepEqual(names.filter((n) => !n.endsWith('.wh..wh..opq')), sorted.filter((n) => !n.endsWith('.wh..wh..opq')));
});

test('identical input gives identical digests, whatever the inode numbers and later mtimes', { skip }, async (t) => {
  const a = await tempDir(t);
  await makeUpper(a);
  const b = path.join(await tempDir(t), 'copy');
  run('cp', ['-a', a, b]);
  run('touch', ['-d', '2050-06-01', path.join(b, 'usr/bin/tool')]);
  const store = await tempBlobStore(t);
  const one = await writeLayer(store, a, { source: 'overlay-upper', sourceDateEpoch: EPOCH });
  const two = await writeLayer(store, b, { source: 'overlay-upper', sourceDateEpoch: EPOCH });
  assert.deepEqual(two, one);
  const other = await writeLayer(store, b, { source: 'overlay-upper', sourceDateEpoch: EPOCH + 1e9 });
  assert.notEqual(other.diffId, one.diffId);
  const tarOnly = await writeLayer(store, a, { source: 'overlay-upper', sourceDateEpoch: EPOCH, compression: 'none' });
  assert.equal(tarOnly.mediaType, MEDIA_TYPE_LAYER_TAR);
  assert.equal(tarOnly.digest, one.diffId);
});

test('zstd layers (through the zstd program) have the same diff_id and are reproducible', { skip: skip ?? (hasTool('zstd') ? undefined : 'needs zstd (Debian package zstd)') }, async (t) => {
  const upper = await tempDir(t);
  await makeUpper(upper);
  const store = await tempBlobStore(t);
  const gz = await writeLayer(store, upper, { source: 'overlay-upper', sourceDateEpoch: EPOCH });
  const zst = await writeLayer(store, upper, { source: 'overlay-upper', sourceDateEpoch: EPOCH, compression: 'zstd' });
  assert.equal(zst.mediaType, MEDIA_TYPE_LAYER_ZSTD);
  assert.equal(zst.diffId, gz.diffId);
  assert.deepEqual(await writeLayer(store, upper, { source: 'overlay-upper', sourceDateEpoch: EPOCH, compression: 'zstd' }), zst);
  const out = path.join(await tempDir(t), 'layer.tar');
  run('zstd', ['-q', '-d', (store as { pathOf(d: string): string }).pathOf(zst.digest), '-o', out]);
  assert.equal(`sha256:${createHash('sha256').update(await fsp.readFile(out)).digest('hex')}`, zst.diffId);
});

test('rootfs mode keeps 0/0 character devices as devices, and exclude drops subtrees', { skip }, async (t) => {
  const upper = await tempDir(t);
  await makeUpper(upper);
  const store = await tempBlobStore(t);
  const layer = await writeLayer(store, upper, { source: 'rootfs', sourceDateEpoch: EPOCH, exclude: (p) => p === 'run' || p === 'deep' });
  const names = (await readTar(await store.get(layer.digest))).map((e) => e.name);
  assert.ok(names.includes('usr/bin/rgrep'));
  assert.ok(!names.some((n) => n.includes('.wh.')));
  assert.ok(!names.some((n) => n.startsWith('run') || n.startsWith('deep')));
});

test('overlay redirects are refused, since the diff would lose the moved content', { skip }, async (t) => {
  const upper = await tempDir(t);
  await fsp.mkdir(path.join(upper, 'moved'));
  run('setfattr', ['-n', 'trusted.overlay.redirect', '-v', '/orig', path.join(upper, 'moved')]);
  const store = await tempBlobStore(t);
  await assert.rejects(writeLayer(store, upper, { source: 'overlay-upper', sourceDateEpoch: EPOCH }), (e) => isKilnError(e, 'InvalidArgument') && /redirect_dir=off/.test(e.message));
  assert.deepEqual(await store.list(), []);
});

test('a real overlay mount (private mount namespace): deletions and a replaced directory', { skip }, async (t) => {
  const base = await tempDir(t);
  const lower = path.join(base, 'lower');
  const upper = path.join(base, 'upper');
  await fsp.mkdir(path.join(lower, 'd'), { recursive: true });
  await fsp.writeFile(path.join(lower, 'gone'), 'x');
  await fsp.writeFile(path.join(lower, 'd', 'old'), 'x');
  const script = `
    set -e
    mkdir -p "$1/upper" "$1/work" "$1/merged"
    mount -t overlay overlay -o lowerdir="$1/lower",upperdir="$1/upper",workdir="$1/work" "$1/merged"
    rm "$1/merged/gone"
    rm -r "$1/merged/d"
    mkdir "$1/merged/d"
    echo new > "$1/merged/d/new"
  `;
  // The mount lives only in the unshared namespace and disappears with it.
  try {
    run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', base]);
  } catch (err) {
    t.skip(`overlayfs unavailable: ${(err as Error).message}`);
    return;
  }
  const store = await tempBlobStore(t);
  const layer = await writeLayer(store, upper, { source: 'overlay-upper', sourceDateEpoch: EPOCH });
  const names = (await readTar(await store.get(layer.digest))).map((e) => e.name);
  assert.deepEqual(names, ['.wh.gone', 'd/', 'd/.wh..wh..opq', 'd/new']);
});
