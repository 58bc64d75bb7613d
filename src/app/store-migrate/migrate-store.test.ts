import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { postgresUnavailable, startPostgres, type LocalPostgres } from '../../../test/helpers/postgres.js';
import { startLocalS3, type LocalS3 } from '../../../test/helpers/s3rver.js';
import { FsBlobStore } from '../../artifacts/blob-store.js';
import { DEFAULT_CONFIG, type ServerConfig } from '../server-config.js';
import { openStore } from '../store-open.js';
import { MigrationRefused, migrateStore, migrationSteps } from './migrate-store.js';
import type { MigrationStep } from './migration-step.js';
import { accountSigningKey } from '../../store/account-signing-key.js';
import { PostgresStore } from '../../store/postgres/postgres-store.js';
import { SecretBox } from '../../store/secret-box.js';

// Needs root and Debian's postgresql-15 (a throwaway cluster), and starts s3rver for the bucket.
const skip = postgresUnavailable();
const dir = mkdtempSync(path.join(tmpdir(), 'kiln-migrate-unit-'));
let postgres: LocalPostgres | undefined;
let s3: LocalS3 | undefined;
let bucketCount = 0;
before(async () => {
  if (skip) return;
  postgres = await startPostgres();
  s3 = await startLocalS3(path.join(dir, 's3'), ['mig-1', 'mig-2', 'mig-3']);
});
after(async () => {
  await s3?.stop();
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A data directory with one account and one blob. */
async function dataDir(name: string): Promise<string> {
  const d = path.join(dir, name);
  mkdirSync(d);
  const store = openStore(d);
  await store.createAccount({ name: 'admin', admin: true, accountId: '000000000001', accessKeyId: 'AKIAADMIN0000000001', secretAccessKey: 'admin-secret' });
  await store.close();
  await new FsBlobStore(path.join(d, 'blobs')).put(Buffer.from('a layer'));
  return d;
}

async function targetConfig(): Promise<ServerConfig> {
  return {
    ...DEFAULT_CONFIG,
    store: await postgres!.createDatabase(),
    secretKeyFile: path.join(dir, `target-${++bucketCount}.key`),
    objectStore: { bucket: `mig-${bucketCount}`, endpoint: s3!.settings.endpoint!, region: 'us-east-1', forcePathStyle: true, accessKeyId: s3!.settings.accessKeyId!, secretAccessKey: s3!.settings.secretAccessKey! },
  };
}

async function rowCount(url: string, table: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${table}`)).rows[0]!.n);
  } finally {
    await client.end();
  }
}

test('a configuration without store, objectStore or secretKeyFile, or a folder without kiln.db, is refused naming what is missing', async () => {
  const d = path.join(dir, 'plain');
  mkdirSync(d, { recursive: true });
  const full: ServerConfig = { ...DEFAULT_CONFIG, store: 'postgres://kiln@127.0.0.1:1/kiln', secretKeyFile: path.join(dir, 'k'), objectStore: { bucket: 'kiln' } };
  await assert.rejects(migrateStore({ dataDir: d, config: { ...full, store: undefined } }), (e) => e instanceof MigrationRefused && /no PostgreSQL store/.test(e.message));
  await assert.rejects(migrateStore({ dataDir: d, config: { ...full, objectStore: undefined } }), (e) => e instanceof MigrationRefused && /no objectStore/.test(e.message));
  await assert.rejects(migrateStore({ dataDir: d, config: { ...full, secretKeyFile: undefined } }), (e) => e instanceof MigrationRefused && /no secretKeyFile/.test(e.message));
  await assert.rejects(migrateStore({ dataDir: d, config: full }), (e) => e instanceof MigrationRefused && /--data-dir: .*no Kiln store/.test(e.message));
});

test('steps run blobs, disks, logs, the added ones, then rows; a step that finds the target in use refuses before anything is written', { skip }, async () => {
  const d = await dataDir('order');
  const config = await targetConfig();
  const ran: string[] = [];
  const extra: MigrationStep = {
    name: 'extra',
    inspectTarget: async () => (ran.includes('refuse') ? [] : ['disk objects are there']),
    run: async (_context, progress) => {
      ran.push('extra');
      progress({ done: 1, total: 1, bytes: 10 });
      return { items: 1, bytes: 10 };
    },
  };
  await assert.rejects(migrateStore({ dataDir: d, config, steps: migrationSteps([extra]) }), (e) => e instanceof MigrationRefused && /the target is not empty: disk objects are there\. Run again with --force/.test(e.message));
  assert.equal(ran.length, 0, 'no step ran');
  assert.equal(await rowCount(config.store!, 'accounts'), 0);
  assert.equal((await s3!.client.send(new ListObjectsV2Command({ Bucket: config.objectStore!.bucket }))).KeyCount, 0);

  ran.push('refuse');
  const progress: string[] = [];
  const summary = await migrateStore({ dataDir: d, config, steps: migrationSteps([extra]), onProgress: (step, p) => progress.push(`${step} ${p.done}/${p.total}`) });
  assert.deepEqual(summary.steps.map((s) => s.name), ['blobs', 'disks', 'logs', 'extra', 'rows']);
  assert.deepEqual(progress, ['blobs 1/1', 'extra 1/1', 'rows 1/2', 'rows 2/2'], 'no disks or step logs in this data directory');
  assert.equal(summary.steps[4]!.detail?.accounts, 1);
  assert.equal(await rowCount(config.store!, 'access_keys'), 1);
});

test('a write to the data directory during the copy rolls the rows back', { skip }, async () => {
  const d = await dataDir('written');
  const config = await targetConfig();
  let wrote = false;
  await assert.rejects(
    migrateStore({
      dataDir: d,
      config,
      onProgress: (step) => {
        if (step !== 'rows' || wrote) return;
        wrote = true;
        // What a kiln serve or kiln accounts would do meanwhile, from another connection.
        const other = new Database(path.join(d, 'kiln.db'));
        other.prepare("INSERT INTO accounts (account_id, name, admin, created_at) VALUES ('000000000002', 'late', 0, '2026-01-01T00:00:00.000Z')").run();
        other.close();
      },
    }),
    /rows: the data directory was written to during the migration/,
  );
  assert.equal(wrote, true);
  assert.equal(await rowCount(config.store!, 'accounts'), 0);
});

test('signing keys move re-sealed with the target key: the target store opens the same private key', { skip }, async () => {
  const d = await dataDir('signing');
  const source = openStore(d);
  const key = await accountSigningKey(source, '000000000001');
  await source.close();
  const config = await targetConfig();
  const summary = await migrateStore({ dataDir: d, config });
  assert.equal(summary.steps.find((s) => s.name === 'rows')?.detail?.signing_keys, 1);
  const target = await PostgresStore.open({ connectionString: config.store!, secrets: SecretBox.openKeyFile(config.secretKeyFile!) });
  try {
    assert.deepEqual(await target.getSigningKey('000000000001'), key);
  } finally {
    await target.close();
  }
});
