import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { postgresUnavailable, startPostgres, type LocalPostgres } from '../../../test/helpers/postgres.js';
import { PostgresStore } from '../postgres/postgres-store.js';
import { SecretBox } from '../secret-box.js';
import { SqliteStore } from '../sqlite/sqlite-store.js';
import type { Store } from '../store.js';
import { copyRows, targetRowCounts } from './sqlite-to-postgres.js';

// Needs root and Debian's postgresql-15: the tests start their own throwaway cluster as the postgres user.
const skip = postgresUnavailable();
let server: LocalPostgres | undefined;
const dir = mkdtempSync(path.join(tmpdir(), 'kiln-rowcopy-'));
const sourceKey = SecretBox.openKeyFile(path.join(dir, 'source.key'));
const targetKey = SecretBox.openKeyFile(path.join(dir, 'target.key'));

before(async () => {
  if (!skip) server = await startPostgres();
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const DIGEST = (c: string) => `sha256:${c.repeat(64)}`;

/** An embedded store with a bit of everything: two accounts, keys in both states, resources, a policy, jobs, a registry. */
async function seed(file: string): Promise<SqliteStore> {
  const store = new SqliteStore({ path: file, secrets: sourceKey });
  await store.createAccount({ name: 'admin', admin: true, accountId: '000000000001', accessKeyId: 'AKIAADMIN0000000001', secretAccessKey: 'admin-secret' });
  await store.createAccount({ name: 'team', accountId: '000000000002', accessKeyId: 'AKIATEAM00000000001', secretAccessKey: 'team-secret' });
  await store.addAccessKey('000000000002', 'AKIATEAM00000000002', 'team-old-secret');
  await store.setAccessKeyStatus('AKIATEAM00000000002', 'Inactive');
  await store.recordAccessKeyUse('AKIATEAM00000000001', '2026-01-02T03:04:05.678Z');
  const base = { accountId: '000000000002', region: 'local', data: { description: 'é ünïcode and "quotes"' } };
  const component = await store.createResource(
    { ...base, type: 'component', name: 'hello', version: '1.0.0', arn: 'arn:aws:imagebuilder:local:000000000002:component/hello/1.0.0', build: 'first' },
    { operation: 'CreateComponent', token: 'tok-1', inputHash: 'h1' },
  );
  await store.putResourcePolicy(component.record.arn, '{"Version":"2012-10-17"}', ['000000000001']);
  for (let i = 0; i < 3; i++) {
    await store.createResource({ ...base, type: 'image', name: 'img', version: '1.0.0', arn: 'arn:aws:imagebuilder:local:000000000002:image/img/1.0.0', build: 'assign' }, undefined, { enqueue: 'build-image' });
  }
  await store.leaseJob(['build-image'], 'host-a/123/abc', 60_000);
  await store.claimRegistryRepository('team/app', '000000000002');
  await store.setRegistryRepositoryAccess('team/app', { readers: ['000000000001'], public: true });
  await store.linkRegistryBlobs('team/app', [DIGEST('a'), DIGEST('b')]);
  await store.putRegistryManifest({ repository: 'team/app', digest: DIGEST('c'), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1234, blobs: [DIGEST('a'), DIGEST('b')], tag: 'v1' });
  // The step cache's index: an entry naming a layer, and one touched since (its lastUsedAt must survive the copy).
  await store.putCacheEntry({ key: 'd'.repeat(64), accountId: '000000000002', kind: 'layer', label: 'component hello', size: 1234, entry: { layer: { digest: DIGEST('a'), size: 1234 } } });
  await store.putCacheEntry({ key: 'e'.repeat(64), accountId: '000000000002', kind: 'disk', label: 'disk', size: 5_000_000_000, entry: { disk: { digest: DIGEST('b') } } });
  await new Promise((resolve) => setTimeout(resolve, 5));
  await store.touchCacheEntries(['d'.repeat(64)]);
  return store;
}

/** Everything a caller of the Store can read, for comparing two stores. */
async function snapshot(store: Store): Promise<unknown> {
  const accounts = await store.listAccounts();
  const resources = await store.listResources({ accountId: '000000000002', region: 'local', type: 'image' });
  return {
    accounts,
    keys: await Promise.all(accounts.map((a) => store.listAccessKeys(a.accountId))),
    secrets: await Promise.all(['AKIAADMIN0000000001', 'AKIATEAM00000000001', 'AKIATEAM00000000002'].map((k) => store.getAccessKeySecret(k))),
    components: await store.listResources({ accountId: '000000000002', region: 'local', type: 'component' }),
    resources,
    policy: await store.getResourcePolicy('arn:aws:imagebuilder:local:000000000002:component/hello/1.0.0/1'),
    granted: await store.listGrantedResources({ grantee: '000000000001', region: 'local', type: 'component' }),
    jobs: await store.listJobs({}),
    repositories: await store.listRegistryRepositories({ reader: '000000000001' }),
    manifest: await store.getRegistryManifest('team/app', 'v1'),
    tags: await store.listRegistryTags('team/app'),
    blob: await store.hasRegistryBlob('team/app', DIGEST('a')),
    cache: await store.listCacheEntries(),
  };
}

/** Runs copyRows as the migration does: one SQLite read transaction, one PostgreSQL transaction. */
async function copy(file: string, url: string, replace = false): Promise<Record<string, number>> {
  const source = new Database(file, { readonly: true, fileMustExist: true });
  const target = new pg.Client({ connectionString: url });
  await target.connect();
  try {
    await target.query('BEGIN');
    source.exec('BEGIN');
    const copied = await copyRows({
      source,
      target,
      replace,
      transforms: { access_keys: (row) => ({ ...row, secret_sealed: targetKey.seal(sourceKey.open(String(row.secret_sealed))) }) },
    });
    source.exec('COMMIT');
    await target.query('COMMIT');
    return copied;
  } finally {
    source.close();
    await target.end();
  }
}

test('every row reaches PostgreSQL: what the Store reads is the same, secrets open with the new key, ids and tokens carry on', { skip }, async () => {
  const file = path.join(dir, 'kiln-1.db');
  const sqlite = await seed(file);
  const before = await snapshot(sqlite);
  await sqlite.close();
  const url = await server!.createDatabase();
  await (await PostgresStore.open({ connectionString: url, secrets: targetKey })).close();

  const copied = await copy(file, url);
  assert.equal(copied.accounts, 2);
  assert.equal(copied.access_keys, 3);
  assert.equal(copied.jobs, 3);
  assert.equal(copied.registry_tags, 1);
  assert.equal(copied.build_cache, 2);

  const pgStore = await PostgresStore.open({ connectionString: url, secrets: targetKey });
  try {
    assert.deepEqual(await snapshot(pgStore), before);
    assert.deepEqual((await pgStore.getAccessKeySecret('AKIATEAM00000000001'))?.secretAccessKey, 'team-secret');
    // The job sequence continues after the copied ids: a new job never takes an old job's id.
    const job = await pgStore.enqueueJob('build-image', 'arn:aws:imagebuilder:local:000000000002:image/img/1.0.0/9');
    assert.equal(job.id, 4);
    // A retried client token answers the first create, as it did on the embedded store.
    const again = await pgStore.createResource(
      { accountId: '000000000002', region: 'local', type: 'component', name: 'hello', version: '1.0.0', arn: 'arn:aws:imagebuilder:local:000000000002:component/hello/1.0.0', build: 'first', data: {} },
      { operation: 'CreateComponent', token: 'tok-1', inputHash: 'h1' },
    );
    assert.equal(again.created, false);
    // The next build number of a version carries on too.
    const next = await pgStore.createResource({ accountId: '000000000002', region: 'local', type: 'image', name: 'img', version: '1.0.0', arn: 'arn:aws:imagebuilder:local:000000000002:image/img/1.0.0', build: 'assign', data: {} });
    assert.equal(next.record.arn.endsWith('/1.0.0/4'), true, next.record.arn);
  } finally {
    await pgStore.close();
  }
});

test('a non-empty target shows in targetRowCounts; replace copies over it without duplicates', { skip }, async () => {
  const file = path.join(dir, 'kiln-2.db');
  await (await seed(file)).close();
  const url = await server!.createDatabase();
  await (await PostgresStore.open({ connectionString: url, secrets: targetKey })).close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    assert.deepEqual(await targetRowCounts(client), []);
    await copy(file, url);
    const counts = await targetRowCounts(client);
    assert.deepEqual(counts.find((c) => c.table === 'accounts'), { table: 'accounts', rows: 2 });
    await assert.rejects(copy(file, url), /duplicate key/);
    await copy(file, url, true);
    assert.deepEqual(await targetRowCounts(client), counts);
    // RESTART IDENTITY then setval: the sequence is past the copied ids again.
    const { rows } = await client.query<{ id: number }>("INSERT INTO jobs (kind, resource_arn, state) VALUES ('x', 'y', 'queued') RETURNING id");
    assert.equal(rows[0]!.id, 4);
  } finally {
    await client.end();
  }
});

test('a SQLite table or column the PostgreSQL schema lacks is named, and nothing is copied', { skip }, async () => {
  const file = path.join(dir, 'kiln-3.db');
  await (await seed(file)).close();
  const url = await server!.createDatabase();
  await (await PostgresStore.open({ connectionString: url, secrets: targetKey })).close();
  const db = new Database(file);
  db.exec('ALTER TABLE accounts ADD COLUMN nickname TEXT');
  db.close();
  await assert.rejects(copy(file, url), /accounts\.nickname: the PostgreSQL schema has no such column/);
  const db2 = new Database(file);
  db2.exec('ALTER TABLE accounts DROP COLUMN nickname; CREATE TABLE extras (x TEXT)');
  db2.close();
  await assert.rejects(copy(file, url), /table extras: the PostgreSQL schema has no such table/);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    assert.deepEqual(await targetRowCounts(client), []);
  } finally {
    await client.end();
  }
});

test('times without a zone are read as UTC, and a value that does not fit its column is named', { skip }, async () => {
  const file = path.join(dir, 'kiln-4.db');
  await (await seed(file)).close();
  const url = await server!.createDatabase();
  await (await PostgresStore.open({ connectionString: url, secrets: targetKey })).close();
  const db = new Database(file);
  db.prepare("UPDATE accounts SET created_at = '2026-05-06 07:08:09' WHERE account_id = '000000000001'").run();
  db.close();
  await copy(file, url);
  const pgStore = await PostgresStore.open({ connectionString: url, secrets: targetKey });
  try {
    assert.equal((await pgStore.getAccount('000000000001'))?.createdAt, '2026-05-06T07:08:09.000Z');
  } finally {
    await pgStore.close();
  }
  const bad = new Database(file);
  bad.prepare("UPDATE accounts SET admin = 'yes' WHERE account_id = '000000000001'").run();
  bad.close();
  await assert.rejects(copy(file, await server!.createDatabase().then(async (u) => ((await (await PostgresStore.open({ connectionString: u, secrets: targetKey })).close()), u))), /accounts\.admin: expected 0 or 1, found "yes"/);
});
