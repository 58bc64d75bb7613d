import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SecretBox } from '../secret-box.js';
import { runStoreSuite } from '../testsuite/store-suite.js';
import { SqliteStore } from './sqlite-store.js';
import { MIGRATIONS } from './migrations.js';
import { accountSigningKey } from '../account-signing-key.js';

function tempStore(): { store: SqliteStore; dir: string; dbPath: string; close: () => Promise<void> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-store-'));
  const dbPath = path.join(dir, 'kiln.db');
  const store = new SqliteStore({ path: dbPath, secrets: SecretBox.openKeyFile(path.join(dir, 'secret.key')) });
  return {
    store,
    dir,
    dbPath,
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

runStoreSuite('sqlite', () => Promise.resolve(tempStore()));

test('sqlite: WAL mode, migrations recorded, data survives a reopen', async (t) => {
  const { store, dir, dbPath, close } = tempStore();
  t.after(close);
  assert.equal(store.schemaVersion(), MIGRATIONS.length);
  await store.createAccount({ name: 'a', accountId: '000000000001', accessKeyId: 'AK1', secretAccessKey: 'sec' });
  const job = await store.enqueueJob('build-image', 'arn:aws:imagebuilder:local:000000000001:image/x/1.0.0/1');
  await store.close();
  const reopened = new SqliteStore({ path: dbPath, secrets: SecretBox.openKeyFile(path.join(dir, 'secret.key')) });
  t.after(() => reopened.close());
  assert.equal(reopened.schemaVersion(), MIGRATIONS.length);
  assert.equal((await reopened.getAccessKeySecret('AK1'))?.secretAccessKey, 'sec');
  // The build queue is durable: a job queued before a restart is still there to be leased.
  assert.equal((await reopened.leaseJob(['build-image'], 'after-restart', 1000))?.id, job.id);
  const raw = new Database(dbPath, { readonly: true });
  t.after(() => raw.close());
  assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
});

test('sqlite: secrets are encrypted at rest and the key file is 0600', async (t) => {
  const { store, dir, dbPath, close } = tempStore();
  t.after(close);
  const secret = 'Plain-Text-Secret-That-Must-Not-Appear';
  await store.createAccount({ name: 'a', accountId: '000000000001', accessKeyId: 'AK1', secretAccessKey: secret });
  await store.close();
  for (const file of ['kiln.db', 'kiln.db-wal']) {
    const p = path.join(dir, file);
    try {
      assert.equal(readFileSync(p).includes(secret), false, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  assert.equal(statSync(path.join(dir, 'secret.key')).mode & 0o777, 0o600);
  const wrongKey = new SqliteStore({ path: dbPath, secrets: SecretBox.fromKey(Buffer.alloc(32, 7)) });
  t.after(() => wrongKey.close());
  await assert.rejects(wrongKey.getAccessKeySecret('AK1'));
});

test('sqlite: keys written before statuses existed come back Active and never used', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dbPath = path.join(dir, 'kiln.db');
  const secrets = SecretBox.openKeyFile(path.join(dir, 'secret.key'));
  // A data directory from the Kiln before key statuses: the four migrations before them, and one key.
  const old = new Database(dbPath);
  old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  MIGRATIONS.slice(0, 4).forEach((sql, i) => {
    old.exec(sql);
    old.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(i + 1, '2026-01-01T00:00:00.000Z');
  });
  old.prepare('INSERT INTO accounts VALUES (?, ?, 1, ?)').run('000000000001', 'admin', '2026-01-01T00:00:00.000Z');
  old.prepare('INSERT INTO access_keys VALUES (?, ?, ?, ?)').run('AK1', '000000000001', secrets.seal('sec'), '2026-01-01T00:00:00.000Z');
  old.close();
  const store = new SqliteStore({ path: dbPath, secrets });
  t.after(() => store.close());
  assert.equal(store.schemaVersion(), MIGRATIONS.length);
  assert.deepEqual(await store.listAccessKeys('000000000001'), [{ accessKeyId: 'AK1', accountId: '000000000001', status: 'Active', createdAt: '2026-01-01T00:00:00.000Z', lastUsedAt: undefined }]);
  assert.equal((await store.getAccessKeySecret('AK1'))?.secretAccessKey, 'sec');
});

test('sqlite: two processes making an account signing key at once end with one key, sealed at rest', async (t) => {
  const { store, dir, dbPath, close } = tempStore();
  t.after(close);
  const other = new SqliteStore({ path: dbPath, secrets: SecretBox.openKeyFile(path.join(dir, 'secret.key')) });
  t.after(() => other.close());
  const [a, b] = await Promise.all([accountSigningKey(store, '000000000001'), accountSigningKey(other, '000000000001')]);
  assert.equal(a.publicKeyPem, b.publicKeyPem);
  assert.equal(a.privateKeyPem, b.privateKeyPem);
  assert.match(a.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
  assert.equal((await accountSigningKey(other, '000000000001')).publicKeyPem, a.publicKeyPem, 'made once, then read back');
  await store.close();
  await other.close();
  const body = a.privateKeyPem.split('\n')[1]!;
  for (const file of ['kiln.db', 'kiln.db-wal']) {
    try {
      assert.equal(readFileSync(path.join(dir, file)).includes(body), false, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
});
