import Database from 'better-sqlite3';
import { KilnError } from '../../domain/errors.js';
import type { SecretBox } from '../secret-box.js';
import type {
  AccessKey,
  Account,
  CreateResult,
  IdempotencyKey,
  NewAccessKey,
  NewResource,
  ResourceQuery,
  ResourceRecord,
  Store,
} from '../store.js';
import { MIGRATIONS } from './migrations.js';

interface ResourceRow {
  arn: string;
  account_id: string;
  region: string;
  type: string;
  name: string;
  version: string;
  build: number;
  data: string;
  created_at: string;
}

interface AccountRow {
  account_id: string;
  name: string;
  admin: number;
  created_at: string;
}

const toAccount = (r: AccountRow): Account => ({ accountId: r.account_id, name: r.name, admin: r.admin === 1, createdAt: r.created_at });

const toRecord = (r: ResourceRow): ResourceRecord => ({
  arn: r.arn,
  accountId: r.account_id,
  region: r.region,
  type: r.type,
  name: r.name,
  version: r.version,
  build: r.build,
  data: JSON.parse(r.data) as Record<string, unknown>,
  createdAt: r.created_at,
});

function versionParts(version: string): [number, number, number] {
  if (version === '') return [0, 0, 0];
  const parts = version.split('.').map(Number);
  return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || (err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

export interface SqliteStoreOptions {
  /** Database file, or `:memory:`. */
  path: string;
  /** Encrypts access-key secrets at rest. */
  secrets: SecretBox;
}

/**
 * The embedded Store: one SQLite file in WAL mode, so `kiln accounts` can write while `kiln serve` runs.
 * better-sqlite3 is synchronous, so each method's transaction runs without interleaving in this process;
 * `BEGIN IMMEDIATE` (better-sqlite3's `.immediate`) serializes writers across processes.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;

  constructor(private readonly options: SqliteStoreOptions) {
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = NORMAL');
    this.migrate();
  }

  /** Applies pending migrations; returns the schema version. */
  private migrate(): number {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    const apply = this.db.transaction(() => {
      const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
      let current = row.v ?? 0;
      if (current > MIGRATIONS.length) {
        throw new KilnError('Internal', `database schema version ${current} is newer than this Kiln (${MIGRATIONS.length})`);
      }
      for (; current < MIGRATIONS.length; current++) {
        this.db.exec(MIGRATIONS[current]!);
        this.db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(current + 1, new Date().toISOString());
      }
      return current;
    });
    return apply.immediate();
  }

  /** The applied schema version (for tests and diagnostics). */
  schemaVersion(): number {
    return (this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number }).v;
  }

  createAccount(input: { name: string; admin?: boolean; accountId: string; accessKeyId: string; secretAccessKey: string }): Promise<{ account: Account; key: NewAccessKey }> {
    const now = new Date().toISOString();
    const tx = this.db.transaction(() => {
      try {
        this.db
          .prepare('INSERT INTO accounts (account_id, name, admin, created_at) VALUES (?, ?, ?, ?)')
          .run(input.accountId, input.name, input.admin ? 1 : 0, now);
      } catch (err) {
        if (isUniqueViolation(err)) throw new KilnError('AlreadyExists', `account ${input.accountId} already exists`);
        throw err;
      }
      this.insertKey(input.accountId, input.accessKeyId, input.secretAccessKey, now);
    });
    return this.run(() => {
      tx.immediate();
      return {
        account: { accountId: input.accountId, name: input.name, admin: input.admin === true, createdAt: now },
        key: { accessKeyId: input.accessKeyId, accountId: input.accountId, secretAccessKey: input.secretAccessKey, createdAt: now },
      };
    });
  }

  private insertKey(accountId: string, accessKeyId: string, secret: string, now: string): void {
    try {
      this.db
        .prepare('INSERT INTO access_keys (access_key_id, account_id, secret_sealed, created_at) VALUES (?, ?, ?, ?)')
        .run(accessKeyId, accountId, this.options.secrets.seal(secret), now);
    } catch (err) {
      if (isUniqueViolation(err)) throw new KilnError('AlreadyExists', `access key ${accessKeyId} already exists`);
      if ((err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new KilnError('NotFound', `account ${accountId} does not exist`);
      throw err;
    }
  }

  listAccounts(): Promise<Account[]> {
    return this.run(() => (this.db.prepare('SELECT * FROM accounts ORDER BY created_at, account_id').all() as AccountRow[]).map(toAccount));
  }

  getAccount(accountId: string): Promise<Account | undefined> {
    return this.run(() => {
      const row = this.db.prepare('SELECT * FROM accounts WHERE account_id = ?').get(accountId) as AccountRow | undefined;
      return row && toAccount(row);
    });
  }

  addAccessKey(accountId: string, accessKeyId: string, secretAccessKey: string): Promise<NewAccessKey> {
    return this.run(() => {
      const now = new Date().toISOString();
      this.insertKey(accountId, accessKeyId, secretAccessKey, now);
      return { accessKeyId, accountId, secretAccessKey, createdAt: now };
    });
  }

  listAccessKeys(accountId: string): Promise<AccessKey[]> {
    return this.run(() =>
      (this.db.prepare('SELECT access_key_id, account_id, created_at FROM access_keys WHERE account_id = ? ORDER BY created_at, access_key_id').all(accountId) as { access_key_id: string; account_id: string; created_at: string }[]).map(
        (r) => ({ accessKeyId: r.access_key_id, accountId: r.account_id, createdAt: r.created_at }),
      ),
    );
  }

  getAccessKeySecret(accessKeyId: string): Promise<{ accountId: string; secretAccessKey: string } | undefined> {
    return this.run(() => {
      const row = this.db.prepare('SELECT account_id, secret_sealed FROM access_keys WHERE access_key_id = ?').get(accessKeyId) as
        | { account_id: string; secret_sealed: string }
        | undefined;
      return row && { accountId: row.account_id, secretAccessKey: this.options.secrets.open(row.secret_sealed) };
    });
  }

  createResource(resource: NewResource, idempotency?: IdempotencyKey): Promise<CreateResult> {
    const tx = this.db.transaction((): CreateResult => {
      const now = new Date().toISOString();
      if (idempotency) {
        const prior = this.db
          .prepare('SELECT input_hash, result FROM idempotency WHERE account_id = ? AND region = ? AND operation = ? AND token = ?')
          .get(resource.accountId, resource.region, idempotency.operation, idempotency.token) as { input_hash: string; result: string } | undefined;
        if (prior) {
          if (prior.input_hash !== idempotency.inputHash) {
            throw new KilnError('IdempotencyMismatch', `clientToken ${idempotency.token} was already used with different parameters`);
          }
          return { record: JSON.parse(prior.result) as ResourceRecord, created: false };
        }
      }
      const [major, minor, patch] = versionParts(resource.version);
      let build = 0;
      let arn = resource.arn;
      if (resource.build !== 'none') {
        const row = this.db
          .prepare('SELECT MAX(build) AS b FROM resources WHERE account_id = ? AND region = ? AND type = ? AND name = ? AND version = ?')
          .get(resource.accountId, resource.region, resource.type, resource.name, resource.version) as { b: number | null };
        if (resource.build === 'first' && row.b !== null) {
          throw new KilnError('AlreadyExists', `${resource.type} ${resource.name} version ${resource.version} already exists`);
        }
        build = (row.b ?? 0) + 1;
        arn = `${resource.arn}/${build}`;
      }
      const record: ResourceRecord = {
        arn,
        accountId: resource.accountId,
        region: resource.region,
        type: resource.type,
        name: resource.name,
        version: resource.version,
        build,
        data: resource.data,
        createdAt: now,
      };
      try {
        this.db
          .prepare(
            'INSERT INTO resources (arn, account_id, region, type, name, version, major, minor, patch, build, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
          )
          .run(arn, record.accountId, record.region, record.type, record.name, record.version, major, minor, patch, build, JSON.stringify(record.data), now);
      } catch (err) {
        if (isUniqueViolation(err)) throw new KilnError('AlreadyExists', `${arn} already exists`);
        throw err;
      }
      if (idempotency) {
        this.db
          .prepare('INSERT INTO idempotency (account_id, region, operation, token, input_hash, result, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(resource.accountId, resource.region, idempotency.operation, idempotency.token, idempotency.inputHash, JSON.stringify(record), now);
      }
      return { record, created: true };
    });
    return this.run(() => tx.immediate());
  }

  getResource(arn: string): Promise<ResourceRecord | undefined> {
    return this.run(() => {
      const row = this.db.prepare('SELECT * FROM resources WHERE arn = ?').get(arn) as ResourceRow | undefined;
      return row && toRecord(row);
    });
  }

  listResources(query: ResourceQuery): Promise<ResourceRecord[]> {
    return this.run(() => {
      let sql = 'SELECT * FROM resources WHERE account_id = ? AND region = ? AND type = ?';
      const params: unknown[] = [query.accountId, query.region, query.type];
      if (query.name !== undefined) {
        sql += ' AND name = ?';
        params.push(query.name);
      }
      if (query.version !== undefined) {
        sql += ' AND version = ?';
        params.push(query.version);
      }
      sql += ' ORDER BY name, major, minor, patch, build';
      return (this.db.prepare(sql).all(...params) as ResourceRow[]).map(toRecord);
    });
  }

  updateResource(arn: string, change: (current: ResourceRecord) => Record<string, unknown>, idempotency?: IdempotencyKey): Promise<ResourceRecord> {
    const tx = this.db.transaction((): ResourceRecord => {
      const row = this.db.prepare('SELECT * FROM resources WHERE arn = ?').get(arn) as ResourceRow | undefined;
      if (!row) throw new KilnError('NotFound', `${arn} does not exist`);
      const current = toRecord(row);
      if (idempotency) {
        const prior = this.db
          .prepare('SELECT input_hash, result FROM idempotency WHERE account_id = ? AND region = ? AND operation = ? AND token = ?')
          .get(current.accountId, current.region, idempotency.operation, idempotency.token) as { input_hash: string; result: string } | undefined;
        if (prior) {
          if (prior.input_hash !== idempotency.inputHash) {
            throw new KilnError('IdempotencyMismatch', `clientToken ${idempotency.token} was already used with different parameters`);
          }
          return JSON.parse(prior.result) as ResourceRecord;
        }
      }
      const record: ResourceRecord = { ...current, data: change(current) };
      this.db.prepare('UPDATE resources SET data = ? WHERE arn = ?').run(JSON.stringify(record.data), arn);
      if (idempotency) {
        this.db
          .prepare('INSERT INTO idempotency (account_id, region, operation, token, input_hash, result, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(current.accountId, current.region, idempotency.operation, idempotency.token, idempotency.inputHash, JSON.stringify(record), new Date().toISOString());
      }
      return record;
    });
    return this.run(() => tx.immediate());
  }

  deleteResource(arn: string): Promise<boolean> {
    return this.run(() => this.db.prepare('DELETE FROM resources WHERE arn = ?').run(arn).changes > 0);
  }

  close(): Promise<void> {
    return this.run(() => {
      if (this.db.open) this.db.close();
    });
  }

  /** Runs synchronous work and turns its outcome into a promise, so callers see one async contract. */
  private run<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
