import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import test from 'node:test';
import { isKilnError } from '../../domain/errors.js';
import { importBaseRootfs } from './base-rootfs.js';
import { layerSkipReason, makeUpper, readTar, run, tempBlobStore, tempDir } from './testing.js';

const EPOCH = 1_700_000_000;
const skip = layerSkipReason(['tar']);

test('a rootfs gives the same base layer as a directory and as a tar, and the scratch dir is removed', { skip }, async (t) => {
  const work = await tempDir(t);
  const rootfs = path.join(work, 'rootfs');
  await fsp.mkdir(rootfs);
  await makeUpper(rootfs);
  const archive = path.join(work, 'rootfs.tar.gz');
  run('tar', ['-c', '-z', '--xattrs', '--xattrs-include=*', '--numeric-owner', '-f', archive, '-C', rootfs, '.']);
  const scratch = await tempDir(t);
  const store = await tempBlobStore(t);
  const fromDir = await importBaseRootfs(store, { dir: rootfs }, { sourceDateEpoch: EPOCH });
  const fromTar = await importBaseRootfs(store, { tar: archive }, { sourceDateEpoch: EPOCH, scratchDir: scratch });
  assert.deepEqual(fromTar, fromDir);
  assert.deepEqual(await fsp.readdir(scratch), []);
  const entries = await readTar(await store.get(fromDir.digest));
  // A base layer has no whiteouts: the 0/0 device is just a device here.
  assert.equal(entries.find((e) => e.name === 'usr/bin/rgrep')?.type, 'character-device');
  assert.equal(entries.find((e) => e.name === 'etc/new.conf')?.pax['SCHILY.xattr.user.note'], 'hello');
});

test('a broken archive is an InvalidArgument and leaves nothing behind', { skip }, async (t) => {
  const work = await tempDir(t);
  const archive = path.join(work, 'bad.tar');
  await fsp.writeFile(archive, 'not a tar at all'.repeat(100));
  const scratch = await tempDir(t);
  const store = await tempBlobStore(t);
  await assert.rejects(importBaseRootfs(store, { tar: archive }, { sourceDateEpoch: EPOCH, scratchDir: scratch }), (e) => isKilnError(e, 'InvalidArgument'));
  assert.deepEqual(await fsp.readdir(scratch), []);
  assert.deepEqual(await store.list(), []);
});
