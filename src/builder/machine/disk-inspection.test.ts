import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { inspectDisk } from './disk-inspection.js';
import { RPMDB_SQLITE } from '../stages/rpm-database.js';
import { hasTool } from '../../artifacts/oci/testing.js';
import { writeExt4Disk } from '../../../test/helpers/ext4-disk.js';
import { rpmHeaderBlob } from '../../../test/helpers/rpm-header.js';

const tools = ['debugfs', 'mkfs.ext4', 'sfdisk'];
test('inspectDisk: the agent without cloud-init, apk and rpm packages read off an MBR disk; a disk with no filesystem is unknown', { skip: tools.every(hasTool) ? false : `needs ${tools.join(', ')}` }, async (t) => {
  const work = mkdtempSync(path.join(tmpdir(), 'kiln-inspect-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const root = path.join(work, 'root');
  for (const d of ['etc', 'usr/bin', 'lib/apk/db', path.dirname(RPMDB_SQLITE)]) mkdirSync(path.join(root, d), { recursive: true });
  // An absolute os-release link: it resolves inside the image, whatever the host has at that path.
  writeFileSync(path.join(root, 'etc/alpine-release'), 'ID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME="Alpine Linux v3.20"\n');
  symlinkSync('/etc/alpine-release', path.join(root, 'etc/os-release'));
  writeFileSync(path.join(root, 'usr/bin/qemu-ga'), '\x7fELF');
  writeFileSync(path.join(root, 'lib/apk/db/installed'), 'P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\nP:busybox\nV:1.36.1-r29\nA:x86_64\no:busybox\n\n');
  const db = new Database(path.join(root, RPMDB_SQLITE));
  db.exec('CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)');
  db.prepare('INSERT INTO Packages (blob) VALUES (?)').run(rpmHeaderBlob({ name: 'bash', version: '5.1.8', release: '9.el9', arch: 'x86_64' }));
  db.close();
  const disk = path.join(work, 'disk.raw');
  writeExt4Disk(disk, root, { label: 'dos', before: [{ type: '82', mib: 1 }], type: '83', mib: 8 });

  const scratch = path.join(work, 'scratch');
  const found = await inspectDisk(disk, scratch);
  assert.deepEqual(found.guest, { cloudInit: false, agent: true });
  assert.deepEqual(found.inventory?.os, { id: 'alpine', versionId: '3.20.3', prettyName: 'Alpine Linux v3.20' });
  assert.deepEqual(found.inventory?.packages.map((p) => `${p.manager} ${p.name} ${p.version}`), ['apk busybox 1.36.1-r29', 'apk musl 1.2.5-r0', 'rpm bash 5.1.8-9.el9']);
  assert.deepEqual(found.packages, [
    { packageName: 'bash', packageVersion: '5.1.8-9.el9' },
    { packageName: 'busybox', packageVersion: '1.36.1-r29' },
    { packageName: 'musl', packageVersion: '1.2.5-r0' },
  ]);
  assert.equal(existsSync(scratch), false, 'the copy of the rpm database is removed');

  const blank = path.join(work, 'blank.raw');
  writeFileSync(blank, '');
  truncateSync(blank, 4 * 1024 * 1024);
  const logged: string[] = [];
  assert.deepEqual(await inspectDisk(blank, scratch, undefined, (text) => logged.push(text)), { guest: 'unknown', packages: [] });
  assert.match(logged.join(''), /no ext2\/3\/4 root filesystem/);
});
