import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import test from 'node:test';
import { gzipSync } from 'node:zlib';
import { isKilnError } from '../../domain/errors.js';
import type { BlobStore } from '../blob-store.js';
import { writeImage } from './image.js';
import { MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_TAR, writeLayer, type Compression } from './layer.js';
import { END_OF_ARCHIVE, encodeHeader, padding, type TarHeader } from './tar.js';
import { TarScanner, type ScannedEntry } from './tar-scan.js';
import { LONG, layerSkipReason, makeUpper, run, tempBlobStore, tempDir } from './testing.js';
import { LayerCache } from './unpack.js';

const EPOCH = 1_700_000_000;
const skip = layerSkipReason(['tar', 'zstd']);

/** A tar made entry by entry, including entries no honest writer makes. */
function craftTar(entries: (Partial<TarHeader> & { name: string; body?: string })[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    parts.push(encodeHeader({ type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: EPOCH, ...e, size: body.length }), body, padding(body.length));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

async function storeTar(store: BlobStore, tar: Buffer, gzip = true): Promise<{ digest: string; mediaType: string }> {
  const info = await store.put(gzip ? gzipSync(tar) : tar);
  return { digest: info.digest, mediaType: gzip ? MEDIA_TYPE_LAYER_GZIP : MEDIA_TYPE_LAYER_TAR };
}

/** `find` facts of a tree (type, mode, owner, size, link target, device numbers, link count), mtimes optional. */
function listing(root: string, withTimes = true): string[] {
  const format = `%P|%y|%m|%U:%G|%s|%l|%n${withTimes ? '|%TY-%Tm-%Td %TH:%TM:%.2TS' : ''}\\n`;
  const out = run('find', [root, '-mindepth', '1', '-printf', format]).split('\n').filter(Boolean);
  // Sizes of directories and devices depend on the filesystem, not on the layer.
  return out.map((l) => l.split('|').map((f, i, all) => (i === 4 && /^[dcb]$/.test(all[1]!) ? '-' : f)).join('|')).sort();
}

function xattr(file: string, name: string): string | undefined {
  const r = spawnSync('getfattr', ['--only-values', '-h', '-n', name, file], { encoding: 'latin1' });
  return r.status === 0 ? r.stdout : undefined;
}

function devNumbers(file: string): string {
  return run('stat', ['-c', '%F %t:%T', file]).trim();
}

test('the tar scanner resolves names as GNU tar does: ustar prefix, PAX, GNU long names', { skip }, async (t) => {
  const dir = await tempDir(t);
  await fsp.mkdir(path.join(dir, 'src', path.dirname(LONG)), { recursive: true });
  await fsp.writeFile(path.join(dir, 'src', LONG), 'x');
  await fsp.symlink(`../${'t'.repeat(120)}`, path.join(dir, 'src', 'long-link'));
  for (const format of ['gnu', 'posix', 'ustar']) {
    const file = path.join(dir, `${format}.tar`);
    const r = spawnSync('tar', ['-c', `--format=${format}`, '-f', file, '-C', path.join(dir, 'src'), '.'], { encoding: 'utf8' });
    if (format === 'ustar' && r.status !== 0) continue; // the link target is too long for plain ustar
    assert.equal(r.status, 0, r.stderr);
    const seen: ScannedEntry[] = [];
    const scanner = new TarScanner((e) => seen.push(e));
    const data = await fsp.readFile(file);
    // Odd chunk sizes: headers and bodies split anywhere.
    for (let i = 0; i < data.length; i += 777) scanner.push(data.subarray(i, i + 777));
    scanner.end();
    assert.ok(seen.some((e) => e.name === `./${LONG}` && e.type === '0'), `${format}: ${seen.map((e) => e.name).join(', ')}`);
    assert.ok(seen.some((e) => e.name === './long-link' && e.type === '2' && e.linkname === `../${'t'.repeat(120)}`), format);
  }
  assert.throws(() => new TarScanner(() => undefined).push(Buffer.alloc(512, 1)), (e) => isKilnError(e, 'InvalidArgument') && /checksum/.test(e.message));
  const truncated = new TarScanner(() => undefined);
  truncated.push(craftTar([{ name: 'f', body: 'x'.repeat(2000) }]).subarray(0, 1024));
  assert.throws(() => truncated.end(), /truncated/);
});

test('a layer round-trips: owners, modes, setuid, xattrs, hard links, symlinks, devices, fifos, long and UTF-8 names', { skip }, async (t) => {
  const src = await tempDir(t);
  await makeUpper(src);
  const store = await tempBlobStore(t);
  const root = path.join(await tempDir(t), 'layers');
  const cache = new LayerCache(root, store);
  const dirs: string[] = [];
  for (const compression of ['gzip', 'zstd', 'none'] as Compression[]) {
    const layer = await writeLayer(store, src, { source: 'rootfs', sourceDateEpoch: EPOCH, compression });
    dirs.push(await cache.layerDir(layer));
    assert.equal(dirs.at(-1), path.join(root, layer.digest.slice('sha256:'.length)));
  }
  const [out, zstd, plain] = dirs as [string, string, string];
  assert.deepEqual(listing(zstd), listing(out), 'zstd gives the same tree as gzip');
  assert.deepEqual(listing(plain), listing(out), 'an uncompressed layer too');
  // Everything but times (clamped to the epoch in the layer) and the 0/0 device, which is now a whiteout.
  assert.deepEqual(listing(out, false), listing(src, false));
  const conf = await fsp.lstat(path.join(out, 'etc/new.conf'));
  assert.deepEqual([conf.uid, conf.gid, conf.mode & 0o7777, conf.mtimeMs / 1000], [1000, 1001, 0o640, EPOCH]);
  assert.equal(xattr(path.join(out, 'etc/new.conf'), 'user.note'), 'hello');
  assert.equal(xattr(path.join(out, 'etc/new.conf'), 'user.bin'), '\x00\xff\x80');
  assert.equal(xattr(path.join(out, 'etc/new.conf'), 'trusted.kiln'), undefined, 'the layer never had it');
  assert.equal((await fsp.stat(path.join(out, 'usr/bin/tool'))).mode & 0o7777, 0o4755);
  assert.equal((await fsp.stat(path.join(out, 'usr/bin/tool'))).ino, (await fsp.stat(path.join(out, 'usr/bin/tool-link'))).ino, 'a hard link');
  assert.equal(await fsp.readlink(path.join(out, 'usr/bin/sym')), 'tool');
  assert.equal(devNumbers(path.join(out, 'dev/null2')), 'character special file 1:3');
  assert.equal(devNumbers(path.join(out, 'dev/blk')), 'block special file 7:c8');
  assert.ok((await fsp.lstat(path.join(out, 'run/fifo'))).isFIFO());
  assert.equal(await fsp.readFile(path.join(out, LONG), 'utf8'), 'long\n');
  assert.equal(await fsp.readFile(path.join(out, 'etc/café.txt'), 'utf8'), 'accent\n');
  assert.equal((await fsp.stat(root)).mode & 0o777, 0o700, 'nobody else reaches the setuid binaries');
  assert.deepEqual((await fsp.readdir(root)).filter((n) => n.startsWith('.')), [], 'no temp dir is left');
});

test('a two-layer image: whiteouts and opaque dirs in overlay form, and a real overlay shows the merged view', { skip }, async (t) => {
  const base = await tempDir(t);
  const lower = path.join(base, 'lower');
  for (const d of ['etc/apt/apt.conf.d', 'usr/share/doc/bash', 'var']) await fsp.mkdir(path.join(lower, d), { recursive: true });
  await fsp.writeFile(path.join(lower, 'etc/apt/apt.conf.d/old'), 'old\n');
  await fsp.writeFile(path.join(lower, 'usr/share/doc/bash/README'), 'doc\n');
  await fsp.writeFile(path.join(lower, 'etc/gone'), 'x\n');
  await fsp.writeFile(path.join(lower, 'etc/kept'), 'kept\n');
  // The upper dir of a real overlay: a deleted file, a deleted directory, a directory replaced, a new file.
  const script = `
    set -e
    mkdir -p "$1/upper" "$1/work" "$1/merged"
    mount -t overlay overlay -o lowerdir="$1/lower",upperdir="$1/upper",workdir="$1/work" "$1/merged"
    rm "$1/merged/etc/gone"
    rm -r "$1/merged/usr/share/doc/bash"
    rm -r "$1/merged/etc/apt/apt.conf.d"
    mkdir "$1/merged/etc/apt/apt.conf.d"
    echo new > "$1/merged/etc/apt/apt.conf.d/new"
    echo added > "$1/merged/var/added"
  `;
  try {
    run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', base]);
  } catch (err) {
    t.skip(`overlayfs unavailable: ${(err as Error).message}`);
    return;
  }
  const store = await tempBlobStore(t);
  const bottom = await writeLayer(store, lower, { source: 'rootfs', sourceDateEpoch: EPOCH });
  const top = await writeLayer(store, path.join(base, 'upper'), { source: 'overlay-upper', sourceDateEpoch: EPOCH, compression: 'zstd' });
  const image = await writeImage(store, { layers: [bottom, top], created: new Date(EPOCH * 1000).toISOString() });
  const cache = new LayerCache(path.join(base, 'cache'), store);
  const layers = await cache.imageLayers(image.manifestDigest);
  assert.deepEqual(layers, [top, bottom].map((l) => path.join(base, 'cache', l.digest.slice(7))), 'top first');
  const [topDir] = layers as [string, string];
  assert.equal(devNumbers(path.join(topDir, 'etc/gone')), 'character special file 0:0');
  assert.equal(devNumbers(path.join(topDir, 'usr/share/doc/bash')), 'character special file 0:0');
  assert.equal(xattr(path.join(topDir, 'etc/apt/apt.conf.d'), 'trusted.overlay.opaque'), 'y');
  assert.deepEqual(run('find', [topDir, '-name', '.wh.*']), '', 'no OCI marker is left');
  const merged = run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `
    set -e
    mkdir -p "$1/m"
    mount -t overlay overlay -o ro,lowerdir="$2:$3" "$1/m"
    cd "$1/m" && find . -mindepth 1 | sort
  `, 'sh', base, ...layers]);
  assert.deepEqual(merged.trim().split('\n'), ['./etc', './etc/apt', './etc/apt/apt.conf.d', './etc/apt/apt.conf.d/new', './etc/kept', './usr', './usr/share', './usr/share/doc', './var', './var/added']);
});

test('OCI corner cases: a name both whited out and present stays; aufs markers go; Docker media type; empty layer', { skip }, async (t) => {
  const store = await tempBlobStore(t);
  const cache = new LayerCache(path.join(await tempDir(t), 'layers'), store);
  const tar = craftTar([
    { name: 'd/', type: 'directory', mode: 0o755 },
    { name: 'd/.wh.same' },
    { name: 'd/same', body: 'mine' },
    { name: 'd/.wh..wh.plnk' },
    { name: '.wh.top' },
  ]);
  const ref = await storeTar(store, tar);
  const dir = await cache.layerDir({ digest: ref.digest, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' });
  assert.equal(await fsp.readFile(path.join(dir, 'd/same'), 'utf8'), 'mine');
  assert.deepEqual((await fsp.readdir(path.join(dir, 'd'))).sort(), ['same']);
  assert.equal(devNumbers(path.join(dir, 'top')), 'character special file 0:0');
  assert.equal((await fsp.stat(path.join(dir, 'd'))).mtimeMs / 1000, EPOCH, 'the conversion keeps directory times');
  const empty = await storeTar(store, Buffer.alloc(1024));
  assert.deepEqual(await fsp.readdir(await cache.layerDir(empty)), []);
});

test('malformed or escaping layers are refused with a clear error and leave nothing behind', { skip }, async (t) => {
  const work = await tempDir(t);
  const store = await tempBlobStore(t);
  const root = path.join(work, 'layers');
  const cache = new LayerCache(root, store);
  const cases: [string, Buffer | { digest: string; mediaType: string }, RegExp][] = [
    ['random bytes', Buffer.from('definitely not gzip'.repeat(50)), /gzip/],
    ['a truncated tar', craftTar([{ name: 'big', body: 'x'.repeat(5000) }]).subarray(0, 2048), /truncated|tar/],
    ['an entry with ..', craftTar([{ name: 'ok' }, { name: 'a/../../escaped', body: 'evil' }]), /leads out of the layer.*a\/\.\.\/\.\.\/escaped|a\/\.\.\/\.\.\/escaped.*leads out/],
    ['an absolute entry', craftTar([{ name: '/etc/escaped', body: 'evil' }]), /absolute/],
    ['a hard link out', craftTar([{ name: 'hl', type: 'link', linkname: '../../etc/passwd' }]), /hard link "hl"/],
    ['an entry under a symlink', craftTar([{ name: 'link', type: 'symlink', linkname: '/' }, { name: 'link/escaped', body: 'evil' }]), /under the symlink "link"/],
    ['a hard link through a symlink', craftTar([{ name: 'link', type: 'symlink', linkname: '/etc' }, { name: 'hl', type: 'link', linkname: 'link/passwd' }]), /under the symlink/],
  ];
  for (const [what, data, message] of cases) {
    const ref = Buffer.isBuffer(data) ? await storeTar(store, data, what !== 'random bytes') : data;
    if (what === 'random bytes') ref.mediaType = MEDIA_TYPE_LAYER_GZIP;
    await assert.rejects(cache.layerDir(ref), (e) => isKilnError(e, 'InvalidArgument') && message.test(e.message) && e.message.includes(ref.digest), what);
    assert.deepEqual(await fsp.readdir(root), [], `${what}: no directory is left`);
  }
  await assert.rejects(fsp.access(path.join(work, 'escaped')));
  await assert.rejects(fsp.access('/etc/escaped'));
  const other = await storeTar(store, craftTar([{ name: 'f' }]));
  await assert.rejects(cache.layerDir({ ...other, mediaType: 'application/vnd.oci.image.layer.v1.tar+bzip2' }), (e) => isKilnError(e, 'InvalidArgument') && /media type/.test(e.message));
  await assert.rejects(cache.layerDir({ digest: `sha256:${'0'.repeat(64)}`, mediaType: MEDIA_TYPE_LAYER_TAR }), (e) => isKilnError(e, 'NotFound'));
  const aborted = new AbortController();
  aborted.abort();
  await assert.rejects(cache.layerDir(other, aborted.signal));
  assert.deepEqual(await fsp.readdir(root), []);
});

test('concurrent callers share one unpack; prune removes what is not kept and temp dirs of dead processes', { skip }, async (t) => {
  const work = await tempDir(t);
  const store = await tempBlobStore(t);
  const root = path.join(work, 'layers');
  const a = await storeTar(store, craftTar([{ name: 'a', body: 'a' }]));
  const b = await storeTar(store, craftTar([{ name: 'b', body: 'b' }]));
  const one = new LayerCache(root, store);
  const two = new LayerCache(root, store);
  const dirs = await Promise.all([one.layerDir(a), one.layerDir(a), two.layerDir(a), two.layerDir(b)]);
  assert.equal(new Set(dirs.slice(0, 3)).size, 1);
  assert.equal(await fsp.readFile(path.join(dirs[0]!, 'a'), 'utf8'), 'a');
  // A crashed unpack: its process is gone (PID 2^22 + 1 is above Linux's pid_max).
  await fsp.mkdir(path.join(root, `.tmp-${'c'.repeat(16)}-4194305-00000000`));
  assert.equal(await one.prune(new Set([a.digest])), 1);
  assert.deepEqual(await fsp.readdir(root), [a.digest.slice(7)]);
  assert.equal(await one.prune(new Set()), 1);
  assert.deepEqual(await fsp.readdir(root), []);
  assert.equal(await new LayerCache(path.join(work, 'none'), store).prune(new Set()), 0);
});
