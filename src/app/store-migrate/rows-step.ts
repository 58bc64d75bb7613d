/**
 * The `rows` step: every row of the data directory's SQLite store into the target PostgreSQL schema, in one
 * PostgreSQL transaction read from one SQLite snapshot, so the target gets all of it or nothing. Access-key
 * secrets are sealed at rest: each is opened with the data directory's key and sealed again with the target's
 * `secretKeyFile`, so keys keep working on nodes that never saw the old key file.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PostgresStore } from '../../store/postgres/postgres-store.js';
import { SecretBox } from '../../store/secret-box.js';
import { copyRows, targetRowCounts } from '../../store/migrate/sqlite-to-postgres.js';
import { redactStoreUrl } from '../store-open.js';
import type { MigrationContext, MigrationStep, StepProgress, StepSummary } from './migration-step.js';

/** Opens a connection to the target, its schema migrated to this Kiln's (as a first `kiln serve` would). */
async function connectTarget(context: MigrationContext, secrets: SecretBox): Promise<pg.Client> {
  try {
    await (await PostgresStore.open({ connectionString: context.store, secrets, maxConnections: 1 })).close();
    const client = new pg.Client({ connectionString: context.store });
    await client.connect();
    return client;
  } catch (err) {
    throw new Error(`store: cannot open PostgreSQL at ${redactStoreUrl(context.store)}: ${(err as Error).message}`, { cause: err });
  }
}

const describeCounts = (counts: { table: string; rows: number }[]): string[] => counts.map((c) => `PostgreSQL table ${c.table} holds ${c.rows} row(s)`);

export const rowsStep: MigrationStep = {
  name: 'rows',
  async inspectTarget(context: MigrationContext): Promise<string[]> {
    // Opening the store only migrates its schema and seals nothing: a throwaway key spares making the key file
    // for a migration that may yet be refused.
    const client = await connectTarget(context, SecretBox.fromKey(randomBytes(32)));
    try {
      return describeCounts(await targetRowCounts(client));
    } finally {
      await client.end();
    }
  },

  async run(context: MigrationContext, progress: (p: StepProgress) => void): Promise<StepSummary> {
    const targetKey = SecretBox.openKeyFile(context.secretKeyFile);
    const sourceKeyFile = path.join(context.dataDir, 'secret.key');
    const sourceKey = existsSync(sourceKeyFile) ? SecretBox.openKeyFile(sourceKeyFile) : undefined;
    const source = new Database(path.join(context.dataDir, 'kiln.db'), { readonly: true, fileMustExist: true });
    const target = await connectTarget(context, targetKey);
    try {
      // data_version changes when another connection commits: a writer during the copy means a running server.
      const version = source.pragma('data_version', { simple: true });
      await target.query('BEGIN');
      try {
        // Two migrations into one database at once would interleave their TRUNCATEs and INSERTs.
        await target.query("SELECT pg_advisory_xact_lock(hashtext('kiln:store-migrate'))");
        if (!context.force) {
          const held = await targetRowCounts(target);
          if (held.length > 0) throw new Error(`the target is not empty: ${describeCounts(held).join('; ')} (run again with --force to replace it)`);
        }
        source.exec('BEGIN');
        let tables: Record<string, number>;
        try {
          tables = await copyRows({
            source,
            target,
            replace: context.force,
            signal: context.signal,
            onProgress: (p) => progress({ done: p.rows, total: p.totalRows }),
            transforms: {
              access_keys: (row) => {
                if (!sourceKey) throw new Error('access_keys: the data directory has no secret.key to open the sealed secrets with');
                return { ...row, secret_sealed: targetKey.seal(sourceKey.open(String(row.secret_sealed))) };
              },
              signing_keys: (row) => {
                if (!sourceKey) throw new Error('signing_keys: the data directory has no secret.key to open the sealed keys with');
                return { ...row, private_sealed: targetKey.seal(sourceKey.open(String(row.private_sealed))) };
              },
            },
          });
        } finally {
          source.exec('COMMIT');
        }
        if (source.pragma('data_version', { simple: true }) !== version) {
          throw new Error('the data directory was written to during the migration (is a kiln serve or kiln accounts using it?); nothing was committed');
        }
        await target.query('COMMIT');
        const items = Object.values(tables).reduce((n, c) => n + c, 0);
        return { items, detail: tables };
      } catch (err) {
        await target.query('ROLLBACK').catch((rollbackErr: unknown) => process.stderr.write(`kiln store migrate: rollback failed (the transaction ends with the connection): ${String(rollbackErr)}\n`));
        throw err;
      }
    } finally {
      source.close();
      await target.end();
    }
  },
};
