import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './registry.js';

const run = promisify(execFile);

/** Debian's postgresql-15 server binaries. */
const PG_BIN = '/usr/lib/postgresql/15/bin';

/** A throwaway PostgreSQL 15 cluster on 127.0.0.1, owned by the `postgres` user, trusting local connections. */
export interface LocalPostgres {
  /** URL of the cluster's `postgres` database as the superuser `kiln`. */
  url: string;
  /**
   * Creates an empty schema and answers a URL whose connections use it (`options=-c search_path=…`): one per
   * test keeps tests apart, and costs a millisecond where a database costs most of a second.
   */
  createDatabase(): Promise<string>;
  /** Stops the server at once and deletes the cluster. */
  stop(): Promise<void>;
  /** Stops the server at once and keeps the cluster, as an outage would (`up` starts it again on the same port). */
  down(): Promise<void>;
  up(): Promise<void>;
}

/** Why a PostgreSQL test cannot run here, or undefined when it can. */
export function postgresUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root: the test cluster runs as the postgres user';
  if (!existsSync(path.join(PG_BIN, 'pg_ctl'))) return 'needs Debian postgresql-15 (scripts/install.sh --test installs it)';
  return undefined;
}

const asPostgres = (command: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, command), ...args]);

/**
 * initdb + pg_ctl start on a free port, as Debian's packages would run it, but in a temporary directory with
 * fsync off: nothing here has to survive a power cut, and tests want speed.
 */
export async function startPostgres(): Promise<LocalPostgres> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-pg-'));
  const pgUser = await run('id', ['-u', 'postgres']);
  const pgGroup = await run('id', ['-g', 'postgres']);
  chownSync(dir, Number(pgUser.stdout.trim()), Number(pgGroup.stdout.trim()));
  const data = path.join(dir, 'data');
  const port = await freePort();
  let started = false;
  const stop = async (): Promise<void> => {
    if (started) await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    started = false;
    rmSync(dir, { recursive: true, force: true });
  };
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  const up = async (): Promise<void> => {
    if (started) return;
    await asPostgres('pg_ctl', ['-D', data, '-o', serverOptions, '-l', path.join(dir, 'server.log'), '-w', 'start']);
    started = true;
  };
  try {
    await asPostgres('initdb', ['-D', data, '-U', 'kiln', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
    await up();
  } catch (err) {
    await stop();
    throw err;
  }
  const url = `postgres://kiln@127.0.0.1:${port}/postgres`;
  let databases = 0;
  return {
    url,
    stop,
    up,
    async down() {
      if (started) await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      started = false;
    },
    async createDatabase() {
      const name = `kiln_test_${++databases}`;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE SCHEMA ${name}`);
      } finally {
        await client.end();
      }
      return `${url}?options=${encodeURIComponent(`-c search_path=${name}`)}`;
    },
  };
}
