import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { rpmHeaderBlob } from '../../../test/helpers/rpm-header.js';
import { inventoryOfLayers } from './image-inventory.js';
import { RPMDB_SQLITE, rpmdbPackages } from './rpm-database.js';

test('rpmdb.sqlite: the Packages table of a made-up root filesystem; none without the database', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kiln-rpmdb-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.deepEqual(rpmdbPackages(join(root, RPMDB_SQLITE)), []);
  mkdirSync(dirname(join(root, RPMDB_SQLITE)), { recursive: true });
  const db = new Database(join(root, RPMDB_SQLITE));
  db.exec('CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO Packages (blob) VALUES (?)');
  insert.run(rpmHeaderBlob({ name: 'bash', version: '5.1.8', release: '9.el9', arch: 'x86_64', sourcerpm: 'bash-5.1.8-9.el9.src.rpm' }));
  insert.run(rpmHeaderBlob({ name: 'openssl-libs', version: '3.0.7', release: '25.el9_3', epoch: 1, arch: 'x86_64', sourcerpm: 'openssl-3.0.7-25.el9_3.src.rpm' }));
  db.close();
  assert.deepEqual(
    rpmdbPackages(join(root, RPMDB_SQLITE)).map((p) => `${p.name} ${p.version} ${p.source} ${p.sourceVersion}`),
    ['bash 5.1.8-9.el9 bash 5.1.8-9.el9', 'openssl-libs 1:3.0.7-25.el9_3 openssl 1:3.0.7-25.el9_3'],
  );
});

test('an image inventory of a root filesystem holding only rpm\'s database lists its packages as rpm', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kiln-rpmdb-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(dirname(join(root, RPMDB_SQLITE)), { recursive: true });
  const db = new Database(join(root, RPMDB_SQLITE));
  db.exec('CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)');
  db.prepare('INSERT INTO Packages (blob) VALUES (?)').run(rpmHeaderBlob({ name: 'bash', version: '5.1.8', release: '9.el9', arch: 'x86_64', sourcerpm: 'bash-5.1.8-9.el9.src.rpm' }));
  db.close();
  const inventory = await inventoryOfLayers([root]);
  assert.equal(inventory.os, undefined);
  assert.deepEqual(inventory.packages.map((p) => `${p.manager} ${p.name} ${p.version}`), ['rpm bash 5.1.8-9.el9']);
});
