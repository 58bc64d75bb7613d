import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { postgresUnavailable, startPostgres, type LocalPostgres } from '../../../test/helpers/postgres.js';
import { SecretBox } from '../secret-box.js';
import { runStoreSuite } from '../testsuite/store-suite.js';
import { PG_MIGRATIONS } from './migrations.js';
import { PostgresStore } from './postgres-store.js';

// Needs root and Debian's postgresql-15: the tests start their own throwaway cluster as the postgres user.
const skip = postgresUnavailable();
let server: LocalPostgres | undefined;
const keyDir = mkdtempSync(path.join(tmpdir(), 'kiln-pg-key-'));
const secrets = SecretBox.openKeyFile(path.join(keyDir, 'secret.key'));

before(async () => {
  if (!skip) server = await startPostgres();
});
after(async () => {
  await server?.stop();
  rmSync(keyDir, { recursive: true, force: true });
});

async function openStore(url?: string): Promise<{ store: PostgresStore; url: string; close: () => Promise<void> }> {
  const databaseUrl = url ?? (await server!.createDatabase());
  const store = await PostgresStore.open({ connectionString: databaseUrl, secrets });
  return { store, url: databaseUrl, close: () => store.close() };
}

/**
 * The conformance suite wants an empty store per test. Migrating a fresh schema costs most of a second on a
 * busy machine, so its tests share one migrated schema, emptied (every table but the migrations) before each.
 */
let shared: string | undefined;
async function emptyStore(): Promise<{ store: PostgresStore; close: () => Promise<void> }> {
  if (!shared) return openStore().then((opened) => ((shared = opened.url), opened));
  const raw = new pg.Client({ connectionString: shared });
  await raw.connect();
  try {
    const { rows } = await raw.query<{ name: string }>(
      "SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'",
    );
    await raw.query(`TRUNCATE ${rows.map((r) => r.name).join(', ')} RESTART IDENTITY CASCADE`);
  } finally {
    await raw.end();
  }
  return openStore(shared);
}

runStoreSuite('postgres', emptyStore, skip ? { skip } : {});

test('postgres: nodes starting together migrate once; data and queued jobs survive a reopen', { skip }, async (t) => {
  const url = await server!.createDatabase();
  const nodes = await Promise.all([openStore(url), openStore(url), openStore(url)]);
  t.after(() => Promise.all(nodes.map((n) => n.close())));
  for (const { store } of nodes) assert.equal(await store.schemaVersion(), PG_MIGRATIONS.length);
  const [a, b] = nodes.map((n) => n.store) as [PostgresStore, PostgresStore];
  await a.createAccount({ name: 'a', accountId: '000000000001', accessKeyId: 'AK1', secretAccessKey: 'sec' });
  const job = await a.enqueueJob('build-image', 'arn:aws:imagebuilder:local:000000000001:image/x/1.0.0/1');
  await a.close();
  assert.equal((await b.getAccessKeySecret('AK1'))?.secretAccessKey, 'sec');
  assert.equal((await b.leaseJob(['build-image'], 'after-restart', 1000))?.id, job.id);
});

test('postgres: workers on two nodes polling at once each lease different jobs', { skip }, async (t) => {
  const url = await server!.createDatabase();
  const nodes = await Promise.all([openStore(url), openStore(url)]);
  t.after(() => Promise.all(nodes.map((n) => n.close())));
  const queued = [];
  for (let i = 0; i < 12; i++) queued.push(await nodes[0]!.store.enqueueJob('build-image', `arn:job/${i}`));
  const leases = await Promise.all(Array.from({ length: 20 }, (_, i) => nodes[i % 2]!.store.leaseJob(['build-image'], `worker-${i}`, 60_000)));
  const taken = leases.filter((l) => l !== undefined).map((l) => l.id);
  assert.equal(taken.length, 12, 'every job is leased, none twice');
  assert.deepEqual([...new Set(taken)].sort((x, y) => x - y), queued.map((j) => j.id));
});

test('postgres: a lease runs by the database clock, and secrets are sealed at rest', { skip }, async (t) => {
  const { store, url, close } = await openStore();
  t.after(close);
  const secret = 'Plain-Text-Secret-That-Must-Not-Appear';
  await store.createAccount({ name: 'a', accountId: '000000000001', accessKeyId: 'AK1', secretAccessKey: secret });
  const raw = new pg.Client({ connectionString: url });
  await raw.connect();
  t.after(() => raw.end());
  const sealed = (await raw.query<{ secret_sealed: string }>('SELECT secret_sealed FROM access_keys')).rows[0]!.secret_sealed;
  assert.equal(sealed.includes(secret), false);
  await store.enqueueJob('build-image', 'arn:x');
  const lease = (await store.leaseJob(['build-image'], 'w1', 90_000))!;
  const { rows } = await raw.query<{ seconds: number }>('SELECT EXTRACT(EPOCH FROM lease_until - now())::float8 AS seconds FROM jobs WHERE id = $1', [lease.id]);
  assert.ok(rows[0]!.seconds > 80 && rows[0]!.seconds <= 90, `lease ends ${rows[0]!.seconds}s after the database's now()`);
});
