import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findRootFilesystem, resolveInImage, rootCandidates, type ExtEntry } from './ext-reader.js';
import { ROOT_TYPE } from './assemble.js';
import { hasTool } from '../oci/testing.js';
import { writeDebianLikeRoot, writeExt4Disk } from '../../../test/helpers/ext4-disk.js';

/** An lstat over a map of paths, counting its calls. */
function fakeFs(entries: Record<string, ExtEntry>) {
  const calls: string[] = [];
  const lstat = async (p: string) => {
    calls.push(p);
    return entries[p];
  };
  return { lstat, calls };
}

const dir: ExtEntry = { type: 'dir', size: 0 };
const file: ExtEntry = { type: 'file', size: 7 };
const link = (target: string): ExtEntry => ({ type: 'symlink', size: target.length, target });

test('resolveInImage follows relative and absolute links inside the image, and stops at its root', async () => {
  const { lstat } = fakeFs({
    '/etc': dir,
    '/etc/os-release': link('../usr/lib/os-release'),
    '/usr': dir,
    '/usr/lib': dir,
    '/usr/lib/os-release': file,
    '/bin': link('usr/bin'),
    '/usr/bin': dir,
    '/usr/bin/qemu-ga': file,
    '/etc/escape': link('../../../../usr/lib/os-release'),
    '/etc/abs': link('/usr/lib/os-release'),
    '/etc/host': link('/etc/shadow-of-host'),
  });
  assert.deepEqual(await resolveInImage('/etc/os-release', lstat), { path: '/usr/lib/os-release', entry: file });
  assert.deepEqual(await resolveInImage('/bin/qemu-ga', lstat), { path: '/usr/bin/qemu-ga', entry: file });
  // `..` above the root is the root, as for a chrooted process: the link cannot leave the image.
  assert.equal((await resolveInImage('/etc/escape', lstat))?.path, '/usr/lib/os-release');
  assert.equal((await resolveInImage('/etc/abs', lstat))?.path, '/usr/lib/os-release');
  assert.equal(await resolveInImage('/etc/host', lstat), undefined);
  assert.equal(await resolveInImage('/usr/lib/os-release/x', lstat), undefined, 'a file is not a directory');
  assert.equal(await resolveInImage('/nothing', lstat), undefined);
});

test('resolveInImage gives up on link loops after a bounded number of hops', async () => {
  const { lstat, calls } = fakeFs({ '/a': link('/b'), '/b': link('a'), '/c': link('c/x') });
  assert.equal(await resolveInImage('/a', lstat, 10), undefined);
  assert.ok(calls.length <= 12, `${calls.length} lookups`);
  assert.equal(await resolveInImage('/c', lstat), undefined);
});

test('rootCandidates: typed roots, then Linux data partitions, larger first; never ESP, BIOS boot, swap or LVM', () => {
  const gpt = [
    { offset: 1, size: 100, type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B' },
    { offset: 2, size: 10, type: '21686148-6449-6E6F-744E-656564454649' },
    { offset: 3, size: 500, type: '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F' },
    { offset: 4, size: 200, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' },
    { offset: 5, size: 300, type: '0fc63daf-8483-4772-8e79-3d69d8477de4' },
    { offset: 6, size: 50, type: ROOT_TYPE },
    { offset: 7, size: 900, type: 'E6D6D379-F507-44C2-A23C-238F2A3DF928' },
    { offset: 8, size: 40, type: 'BC13C2FF-59E6-4262-A352-B275FD55BD72' },
  ];
  assert.deepEqual(rootCandidates(gpt, 0).map((p) => p.offset), [6, 5, 4, 8]);
  const mbr = [
    { offset: 1, size: 100, type: 'ef' },
    { offset: 2, size: 400, type: '82' },
    { offset: 3, size: 300, type: '83' },
    { offset: 4, size: 10, type: '5' },
  ];
  assert.deepEqual(rootCandidates(mbr, 0).map((p) => p.offset), [3]);
  assert.deepEqual(rootCandidates(undefined, 4096), [{ offset: 0, size: 4096, type: '' }]);
});

const tools = ['debugfs', 'mkfs.ext4', 'sfdisk'];
test('findRootFilesystem reads os-release through its symlink from the partition that holds it, GPT and MBR', { skip: tools.every(hasTool) ? false : `needs ${tools.join(', ')}` }, async (t) => {
  const work = mkdtempSync(path.join(tmpdir(), 'kiln-ext-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const root = path.join(work, 'root');
  writeDebianLikeRoot(root, { packages: [['bash', '5.2.15-2+b2']], cloudInit: false, agent: true });
  // A link longer than an inode holds (60 bytes) keeps its target in a data block.
  const long = `../usr/lib/${'x'.repeat(80)}`;
  mkdirSync(path.join(root, `usr/lib/${'x'.repeat(80)}`));
  writeFileSync(path.join(root, `usr/lib/${'x'.repeat(80)}/marker`), 'found\n');
  symlinkSync(long, path.join(root, 'etc/long'));
  // An empty ext4 "data" partition before the root: it has no os-release, so the root is the one chosen.
  const empty = path.join(work, 'empty');
  mkdirSync(empty);

  const gpt = path.join(work, 'gpt.raw');
  writeExt4Disk(gpt, root, { label: 'gpt', before: [{ type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', mib: 2 }], type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4', mib: 8 });
  const fs = await findRootFilesystem(gpt);
  assert.ok(fs, 'root found');
  assert.equal(fs.offset, 3 * 1024 * 1024);
  assert.match((await fs.readText('/etc/os-release', 1024)) ?? '', /^ID=debian$/m);
  // Looked up in one run first: the long link is left to its own lookup, which reads its data block.
  await fs.prefetch(['/etc/long/marker', '/sbin/qemu-ga']);
  assert.equal(await fs.readText('/etc/long/marker', 1024), 'found\n');
  assert.equal((await fs.resolve('/sbin/qemu-ga'))?.path, '/usr/sbin/qemu-ga');
  assert.equal(await fs.resolve('/usr/bin/cloud-init'), undefined);
  assert.equal(await fs.readText('/usr/lib/os-release', 10), undefined, 'over the size limit');

  const mbr = path.join(work, 'mbr.raw');
  writeExt4Disk(mbr, root, { label: 'dos', type: '83', mib: 8 });
  assert.equal((await findRootFilesystem(mbr))?.offset, 1024 * 1024);

  const noOs = path.join(work, 'noos.raw');
  writeExt4Disk(noOs, empty, { label: 'gpt', type: ROOT_TYPE, mib: 8 });
  assert.equal(await findRootFilesystem(noOs), undefined, 'an ext4 root without os-release is not a root');
  const blank = path.join(work, 'blank.raw');
  writeFileSync(blank, '');
  truncateSync(blank, 4 * 1024 * 1024);
  assert.equal(await findRootFilesystem(blank), undefined, 'no partition table and no filesystem');
});
