import Database, { type Statement } from 'better-sqlite3';
import { KilnError } from '../../domain/errors.js';
import { asPromise } from './as-promise.js';
import type { SecretBox } from '../secret-box.js';
import type {
  Job,
  AccessKey,
  AccessKeyStatus,
  Account,
  CreateResult,
  IdempotencyKey,
  NewAccessKey,
  NewResource,
  RegistryManifest,
  RegistryRepository,
  ResourceQuery,
  NodeRecord,
  NodeRole,
  ResourceRecord,
  Store,
} from '../store.js';
import type { ClusterNodes } from '../roles/cluster-nodes.js';
import type { BuildCache, BuildCacheEntry } from '../roles/build-cache.js';
import type { SigningKeyRecord, SigningKeys } from '../roles/signing-keys.js';
import { sqliteSigningKeys } from './signing-keys.js';
import { sqliteBuildCache } from './build-cache.js';
import { sqliteClusterNodes } from './cluster-nodes.js';
import { MIGRATIONS } from './migrations.js';
import { pageLimit, versionParts } from '../sql/shared.js';
import { imageEventEntry } from '../sql/image-journal.js';
import { toLoggedImageEvent, toOutboxDelivery, type DeliveryRow, type ImageEventRow } from '../sql/event-rows.js';
import type { LoggedImageEvent } from '../roles/event-log.js';
import type { DeliveryState, OutboxDelivery } from '../roles/notification-outbox.js';
import { ACCESS_KEY_COLUMNS, toAccessKey, toAccount, toJob, toRecord, toRegistryManifest, toRegistryRepository, type AccessKeyRow, type AccountRow, type JobRow, type RegistryManifestRow, type RegistryRepositoryRow, type ResourceRow } from '../sql/rows.js';

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
  /** The cluster-nodes role's statements, prepared once the schema has its tables. */
  private readonly nodes: ClusterNodes;
  /** The step cache's statements, prepared once the schema has its tables. */
  private readonly cache: BuildCache;
  private readonly signingKeys: SigningKeys;

  constructor(private readonly options: SqliteStoreOptions) {
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = NORMAL');
    this.migrate();
    this.nodes = sqliteClusterNodes(this.db);
    this.cache = sqliteBuildCache(this.db);
    this.signingKeys = sqliteSigningKeys(this.db, options.secrets);
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
        key: { accessKeyId: input.accessKeyId, accountId: input.accountId, secretAccessKey: input.secretAccessKey, status: 'Active', createdAt: now, lastUsedAt: undefined },
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
      return { accessKeyId, accountId, secretAccessKey, status: 'Active' as const, createdAt: now, lastUsedAt: undefined };
    });
  }

  listAccessKeys(accountId: string): Promise<AccessKey[]> {
    return this.run(() =>
      (this.statement(`SELECT ${ACCESS_KEY_COLUMNS} FROM access_keys WHERE account_id = ? ORDER BY created_at, access_key_id`).all(accountId) as AccessKeyRow[]).map(toAccessKey),
    );
  }

  getAccessKeySecret(accessKeyId: string): Promise<{ accountId: string; secretAccessKey: string } | undefined> {
    return this.run(() => {
      const row = this.statement("SELECT account_id, secret_sealed FROM access_keys WHERE access_key_id = ? AND status = 'Active'").get(accessKeyId) as
        | { account_id: string; secret_sealed: string }
        | undefined;
      return row && { accountId: row.account_id, secretAccessKey: this.options.secrets.open(row.secret_sealed) };
    });
  }

  setAccessKeyStatus(accessKeyId: string, status: AccessKeyStatus): Promise<AccessKey> {
    return this.run(() => {
      const row = this.statement(`UPDATE access_keys SET status = ? WHERE access_key_id = ? RETURNING ${ACCESS_KEY_COLUMNS}`).get(status, accessKeyId) as AccessKeyRow | undefined;
      if (!row) throw new KilnError('NotFound', `access key ${accessKeyId} does not exist`);
      return toAccessKey(row);
    });
  }

  deleteAccessKey(accessKeyId: string): Promise<boolean> {
    return this.run(() => this.statement('DELETE FROM access_keys WHERE access_key_id = ?').run(accessKeyId).changes > 0);
  }

  recordAccessKeyUse(accessKeyId: string, at: string): Promise<void> {
    return this.run(() => {
      this.statement('UPDATE access_keys SET last_used_at = ? WHERE access_key_id = ? AND (last_used_at IS NULL OR last_used_at < ?)').run(at, accessKeyId, at);
    });
  }

  createResource(resource: NewResource, idempotency?: IdempotencyKey, options: { enqueue?: string } = {}): Promise<CreateResult> {
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
      if (options.enqueue !== undefined) this.insertJob(options.enqueue, arn, now);
      this.appendEvent(undefined, record, now);
      return { record, created: true };
    });
    return this.run(() => tx.immediate());
  }

  getResource(arn: string): Promise<ResourceRecord | undefined> {
    return this.run(() => {
      const row = this.statement('SELECT * FROM resources WHERE arn = ?').get(arn) as ResourceRow | undefined;
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

  listResourcesOfType(type: string): Promise<ResourceRecord[]> {
    return this.run(() => (this.statement('SELECT * FROM resources WHERE type = ? ORDER BY account_id, region, name').all(type) as ResourceRow[]).map(toRecord));
  }

  updateResources(changes: readonly { arn: string; change: (current: ResourceRecord) => Record<string, unknown> | undefined }[]): Promise<ResourceRecord[]> {
    const select = this.statement('SELECT * FROM resources WHERE arn = ?');
    const update = this.statement('UPDATE resources SET data = ? WHERE arn = ?');
    const tx = this.db.transaction((): ResourceRecord[] => {
      const written: ResourceRecord[] = [];
      for (const { arn, change } of changes) {
        const row = select.get(arn) as ResourceRow | undefined;
        if (!row) continue;
        const current = toRecord(row);
        const data = change(current);
        if (data === undefined) continue;
        update.run(JSON.stringify(data), arn);
        written.push({ ...current, data });
        this.appendEvent(current, { ...current, data }, new Date().toISOString());
      }
      return written;
    });
    return this.run(() => tx.immediate());
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
      this.appendEvent(current, record, new Date().toISOString());
      if (idempotency) {
        this.db
          .prepare('INSERT INTO idempotency (account_id, region, operation, token, input_hash, result, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(current.accountId, current.region, idempotency.operation, idempotency.token, idempotency.inputHash, JSON.stringify(record), new Date().toISOString());
      }
      return record;
    });
    return this.run(() => tx.immediate());
  }

  /** Logs an image state change; called inside the write's transaction, so both commit or neither. */
  private appendEvent(before: ResourceRecord | undefined, after: ResourceRecord, now: string): void {
    const entry = imageEventEntry(before, after);
    if (!entry) return;
    this.statement('INSERT INTO image_events (arn, account_id, region, status, previous_status, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      entry.arn,
      entry.accountId,
      entry.region,
      entry.status,
      entry.previousStatus ?? null,
      entry.reason ?? null,
      now,
    );
  }

  eventsAfter(seq: number, limit: number): Promise<LoggedImageEvent[]> {
    return this.run(() => (this.statement('SELECT * FROM image_events WHERE seq > ? ORDER BY seq LIMIT ?').all(seq, pageLimit(limit)) as ImageEventRow[]).map(toLoggedImageEvent));
  }

  lastEventSeq(): Promise<number> {
    // Pruning always keeps the newest event, so MAX is the last number committed.
    return this.run(() => (this.statement('SELECT COALESCE(MAX(seq), 0) AS s FROM image_events').get() as { s: number }).s);
  }

  pruneEvents(olderThanMs: number, keepNewest: number): Promise<number> {
    return this.run(() => {
      const cutoff = new Date(Date.now() - olderThanMs).toISOString();
      return this.statement('DELETE FROM image_events WHERE created_at < ? AND seq <= (SELECT COALESCE(MAX(seq), 0) FROM image_events) - ?').run(cutoff, Math.max(1, keepNewest)).changes;
    });
  }

  enqueueDeliveries(items: readonly { eventSeq: number; endpoint: string; payload: string }[]): Promise<number> {
    const tx = this.db.transaction((): number => {
      const now = new Date().toISOString();
      const insert = this.statement(
        "INSERT INTO notification_deliveries (event_seq, endpoint, payload, state, created_at, updated_at) VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT (event_seq, endpoint) DO NOTHING",
      );
      let added = 0;
      for (const item of items) added += insert.run(item.eventSeq, item.endpoint, item.payload, now, now).changes;
      return added;
    });
    return this.run(() => tx.immediate());
  }

  leaseDeliveries(owner: string, leaseMs: number, limit: number): Promise<OutboxDelivery[]> {
    // One IMMEDIATE transaction: the select and the update see no other writer between them.
    const tx = this.db.transaction((): OutboxDelivery[] => {
      const now = new Date();
      const rows = this.statement("SELECT id FROM notification_deliveries WHERE state = 'pending' OR (state = 'leased' AND lease_until < ?) ORDER BY id LIMIT ?").all(
        now.toISOString(),
        pageLimit(limit),
      ) as { id: number }[];
      const lease = this.statement("UPDATE notification_deliveries SET state = 'leased', lease_owner = ?, lease_until = ?, updated_at = ? WHERE id = ? RETURNING *");
      const until = new Date(now.getTime() + leaseMs).toISOString();
      return rows.map((r) => toOutboxDelivery(lease.get(owner, until, now.toISOString(), r.id) as DeliveryRow));
    });
    return this.run(() => tx.immediate());
  }

  settleDelivery(id: number, owner: string, outcome: { state: 'delivered' | 'failed' | 'pending'; attempts: number; error?: string }): Promise<boolean> {
    return this.run(
      () =>
        this.statement(
          "UPDATE notification_deliveries SET state = ?, attempts = attempts + ?, last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND state = 'leased' AND lease_owner = ?",
        ).run(outcome.state, outcome.attempts, outcome.error ?? null, new Date().toISOString(), id, owner).changes > 0,
    );
  }

  listDeliveries(state?: DeliveryState): Promise<OutboxDelivery[]> {
    return this.run(() =>
      (
        (state === undefined
          ? this.statement('SELECT * FROM notification_deliveries ORDER BY id').all()
          : this.statement('SELECT * FROM notification_deliveries WHERE state = ? ORDER BY id').all(state)) as DeliveryRow[]
      ).map(toOutboxDelivery),
    );
  }

  pruneDeliveries(olderThanMs: number): Promise<number> {
    return this.run(
      () =>
        this.statement("DELETE FROM notification_deliveries WHERE state IN ('delivered', 'failed') AND updated_at < ?").run(new Date(Date.now() - olderThanMs).toISOString()).changes,
    );
  }

  outboxCursor(): Promise<number> {
    return this.run(() => (this.statement('SELECT seq FROM outbox_cursor WHERE id = 1').get() as { seq: number } | undefined)?.seq ?? 0);
  }

  advanceOutboxCursor(seq: number): Promise<void> {
    return this.run(() => {
      this.statement('INSERT INTO outbox_cursor (id, seq) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET seq = MAX(seq, excluded.seq)').run(seq);
    });
  }

  putResourcePolicy(arn: string, policy: string, grantees: readonly string[]): Promise<void> {
    const tx = this.db.transaction(() => {
      if (!this.db.prepare('SELECT 1 FROM resources WHERE arn = ?').get(arn)) throw new KilnError('NotFound', `${arn} does not exist`);
      this.db.prepare('INSERT OR REPLACE INTO resource_policies (arn, policy, updated_at) VALUES (?, ?, ?)').run(arn, policy, new Date().toISOString());
      this.db.prepare('DELETE FROM resource_grants WHERE arn = ?').run(arn);
      const grant = this.db.prepare('INSERT OR IGNORE INTO resource_grants (arn, grantee) VALUES (?, ?)');
      for (const g of grantees) grant.run(arn, g);
    });
    return this.run(() => tx.immediate());
  }

  getResourcePolicy(arn: string): Promise<string | undefined> {
    return this.run(() => (this.db.prepare('SELECT policy FROM resource_policies WHERE arn = ?').get(arn) as { policy: string } | undefined)?.policy);
  }

  listGrantedResources(query: { grantee: string; region: string; type: string }): Promise<ResourceRecord[]> {
    return this.run(() =>
      (
        this.db
          .prepare(
            `SELECT DISTINCT r.* FROM resources r JOIN resource_grants g ON g.arn = r.arn
             WHERE g.grantee IN (?, '*') AND r.region = ? AND r.type = ? AND r.account_id <> ?
             ORDER BY r.name, r.major, r.minor, r.patch, r.build`,
          )
          .all(query.grantee, query.region, query.type, query.grantee) as ResourceRow[]
      ).map(toRecord),
    );
  }

  private insertJob(kind: string, resourceArn: string, now: string): Job {
    const id = this.db
      .prepare("INSERT INTO jobs (kind, resource_arn, state, created_at, updated_at) VALUES (?, ?, 'queued', ?, ?)")
      .run(kind, resourceArn, now, now).lastInsertRowid;
    return toJob(this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow);
  }

  enqueueJob(kind: string, resourceArn: string): Promise<Job> {
    return this.run(() => this.insertJob(kind, resourceArn, new Date().toISOString()));
  }

  leaseJob(kinds: readonly string[], owner: string, leaseMs: number): Promise<Job | undefined> {
    const tx = this.db.transaction((): Job | undefined => {
      const now = new Date();
      const marks = kinds.map(() => '?').join(', ');
      const row = this.db
        .prepare(
          `SELECT * FROM jobs WHERE kind IN (${marks}) AND (state = 'queued' OR (state = 'leased' AND lease_until < ?)) ORDER BY id LIMIT 1`,
        )
        .get(...kinds, now.toISOString()) as JobRow | undefined;
      if (!row) return undefined;
      const until = new Date(now.getTime() + leaseMs).toISOString();
      this.db
        .prepare("UPDATE jobs SET state = 'leased', previous_owner = lease_owner, lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?")
        .run(owner, until, now.toISOString(), row.id);
      return toJob(this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(row.id) as JobRow);
    });
    return this.run(() => (kinds.length === 0 ? undefined : tx.immediate()));
  }

  renewJob(id: number, owner: string, leaseMs: number): Promise<boolean> {
    return this.run(() => {
      const now = new Date();
      return (
        this.db
          .prepare("UPDATE jobs SET lease_until = ?, updated_at = ? WHERE id = ? AND state = 'leased' AND lease_owner = ?")
          .run(new Date(now.getTime() + leaseMs).toISOString(), now.toISOString(), id, owner).changes > 0
      );
    });
  }

  finishJob(id: number, owner: string | undefined, state: 'done' | 'failed' | 'cancelled'): Promise<boolean> {
    return this.run(() => {
      const now = new Date().toISOString();
      const sql =
        owner === undefined
          ? "UPDATE jobs SET state = ?, lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND state = 'queued'"
          : "UPDATE jobs SET state = ?, lease_until = NULL, updated_at = ? WHERE id = ? AND state = 'leased' AND lease_owner = ?";
      const args = owner === undefined ? [state, now, id] : [state, now, id, owner];
      return this.db.prepare(sql).run(...args).changes > 0;
    });
  }

  listJobs(query: { resourceArn?: string; state?: Job['state'] }): Promise<Job[]> {
    return this.run(() => {
      let sql = 'SELECT * FROM jobs WHERE 1 = 1';
      const params: unknown[] = [];
      if (query.resourceArn !== undefined) {
        sql += ' AND resource_arn = ?';
        params.push(query.resourceArn);
      }
      if (query.state !== undefined) {
        sql += ' AND state = ?';
        params.push(query.state);
      }
      return (this.db.prepare(`${sql} ORDER BY id`).all(...params) as JobRow[]).map(toJob);
    });
  }

  deleteResource(arn: string): Promise<boolean> {
    return this.run(() => this.db.prepare('DELETE FROM resources WHERE arn = ?').run(arn).changes > 0);
  }

  private registryRepository(name: string): RegistryRepository | undefined {
    const row = this.db.prepare('SELECT * FROM registry_repositories WHERE name = ?').get(name) as RegistryRepositoryRow | undefined;
    return row && this.toRegistryRepository(row);
  }

  private toRegistryRepository(row: RegistryRepositoryRow): RegistryRepository {
    const readers = (this.db.prepare('SELECT account_id FROM registry_readers WHERE repository = ? ORDER BY account_id').all(row.name) as { account_id: string }[]).map((r) => r.account_id);
    return toRegistryRepository(row, readers);
  }

  private requireRegistryRepository(name: string): void {
    if (!this.db.prepare('SELECT 1 FROM registry_repositories WHERE name = ?').get(name)) throw new KilnError('NotFound', `registry repository ${name} does not exist`);
  }

  claimRegistryRepository(name: string, accountId: string): Promise<{ repository: RegistryRepository; created: boolean }> {
    const tx = this.db.transaction(() => {
      const created =
        this.db.prepare('INSERT OR IGNORE INTO registry_repositories (name, account_id, public, created_at) VALUES (?, ?, 0, ?)').run(name, accountId, new Date().toISOString()).changes > 0;
      return { repository: this.registryRepository(name)!, created };
    });
    return this.run(() => tx.immediate());
  }

  getRegistryRepository(name: string): Promise<RegistryRepository | undefined> {
    return this.run(() => this.registryRepository(name));
  }

  listRegistryRepositories(query: { reader: string | undefined; after?: string; limit?: number }): Promise<RegistryRepository[]> {
    return this.run(() => {
      const rows = this.db
        .prepare(
          `SELECT r.* FROM registry_repositories r
           WHERE r.name > ? AND (r.public = 1 OR r.account_id = ?
             OR EXISTS (SELECT 1 FROM registry_readers g WHERE g.repository = r.name AND g.account_id = ?))
           ORDER BY r.name LIMIT ?`,
        )
        .all(query.after ?? '', query.reader ?? null, query.reader ?? null, pageLimit(query.limit)) as RegistryRepositoryRow[];
      return rows.map((r) => this.toRegistryRepository(r));
    });
  }

  setRegistryRepositoryAccess(name: string, access: { readers?: readonly string[]; public?: boolean }): Promise<RegistryRepository> {
    const tx = this.db.transaction(() => {
      this.requireRegistryRepository(name);
      if (access.public !== undefined) this.db.prepare('UPDATE registry_repositories SET public = ? WHERE name = ?').run(access.public ? 1 : 0, name);
      if (access.readers !== undefined) {
        this.db.prepare('DELETE FROM registry_readers WHERE repository = ?').run(name);
        const add = this.db.prepare('INSERT OR IGNORE INTO registry_readers (repository, account_id) VALUES (?, ?)');
        for (const reader of access.readers) add.run(name, reader);
      }
      return this.registryRepository(name)!;
    });
    return this.run(() => tx.immediate());
  }

  private linkBlobs(repository: string, digests: readonly string[]): void {
    const link = this.db.prepare('INSERT OR IGNORE INTO registry_blobs (repository, digest) VALUES (?, ?)');
    for (const digest of digests) link.run(repository, digest);
  }

  linkRegistryBlobs(repository: string, digests: readonly string[]): Promise<void> {
    const tx = this.db.transaction(() => {
      this.requireRegistryRepository(repository);
      this.linkBlobs(repository, digests);
    });
    return this.run(() => tx.immediate());
  }

  hasRegistryBlob(repository: string, digest: string): Promise<boolean> {
    return this.run(() => this.db.prepare('SELECT 1 FROM registry_blobs WHERE repository = ? AND digest = ?').get(repository, digest) !== undefined);
  }

  unlinkRegistryBlob(repository: string, digest: string): Promise<boolean> {
    return this.run(() => this.db.prepare('DELETE FROM registry_blobs WHERE repository = ? AND digest = ?').run(repository, digest).changes > 0);
  }

  putRegistryManifest(input: { repository: string; digest: string; mediaType: string; size: number; blobs: readonly string[]; manifests?: readonly string[]; tag?: string; subject?: string }): Promise<RegistryManifest> {
    const tx = this.db.transaction((): RegistryManifest => {
      this.requireRegistryRepository(input.repository);
      const present = this.db.prepare('SELECT 1 FROM registry_manifests WHERE repository = ? AND digest = ?');
      for (const child of input.manifests ?? []) {
        if (!present.get(input.repository, child)) throw new KilnError('NotFound', `manifest ${child} is not in repository ${input.repository}`);
      }
      const now = new Date().toISOString();
      // A manifest's bytes never change under its digest, so a repeated push keeps the first record.
      this.db
        .prepare('INSERT OR IGNORE INTO registry_manifests (repository, digest, media_type, size, created_at, subject) VALUES (?, ?, ?, ?, ?, ?)')
        .run(input.repository, input.digest, input.mediaType, input.size, now, input.subject ?? null);
      this.linkBlobs(input.repository, input.blobs);
      if (input.tag !== undefined) {
        this.db
          .prepare('INSERT INTO registry_tags (repository, tag, digest, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at')
          .run(input.repository, input.tag, input.digest, now);
      }
      return toRegistryManifest(this.db.prepare('SELECT * FROM registry_manifests WHERE repository = ? AND digest = ?').get(input.repository, input.digest) as RegistryManifestRow);
    });
    return this.run(() => tx.immediate());
  }

  getRegistryManifest(repository: string, reference: string): Promise<RegistryManifest | undefined> {
    return this.run(() => {
      const row = reference.includes(':')
        ? (this.db.prepare('SELECT * FROM registry_manifests WHERE repository = ? AND digest = ?').get(repository, reference) as RegistryManifestRow | undefined)
        : (this.db
            .prepare('SELECT m.* FROM registry_tags t JOIN registry_manifests m ON m.repository = t.repository AND m.digest = t.digest WHERE t.repository = ? AND t.tag = ?')
            .get(repository, reference) as RegistryManifestRow | undefined);
      return row && toRegistryManifest(row);
    });
  }

  listRegistryReferrers(repository: string, subject: string): Promise<RegistryManifest[]> {
    return this.run(() =>
      (this.db.prepare('SELECT * FROM registry_manifests WHERE repository = ? AND subject = ? ORDER BY digest').all(repository, subject) as RegistryManifestRow[]).map(toRegistryManifest),
    );
  }

  listRegistryTags(repository: string, query: { after?: string; limit?: number } = {}): Promise<string[]> {
    return this.run(() =>
      (this.db.prepare('SELECT tag FROM registry_tags WHERE repository = ? AND tag > ? ORDER BY tag LIMIT ?').all(repository, query.after ?? '', pageLimit(query.limit)) as { tag: string }[]).map(
        (r) => r.tag,
      ),
    );
  }

  deleteRegistryManifest(repository: string, digest: string): Promise<boolean> {
    return this.run(() => this.db.prepare('DELETE FROM registry_manifests WHERE repository = ? AND digest = ?').run(repository, digest).changes > 0);
  }

  deleteRegistryTag(repository: string, tag: string): Promise<boolean> {
    return this.run(() => this.db.prepare('DELETE FROM registry_tags WHERE repository = ? AND tag = ?').run(repository, tag).changes > 0);
  }

  listRegistryManifests(): Promise<RegistryManifest[]> {
    return this.run(() => (this.db.prepare('SELECT * FROM registry_manifests ORDER BY repository, digest').all() as RegistryManifestRow[]).map(toRegistryManifest));
  }

  listLinkedRegistryBlobs(): Promise<string[]> {
    return this.run(() => (this.db.prepare('SELECT DISTINCT digest FROM registry_blobs ORDER BY digest').all() as { digest: string }[]).map((r) => r.digest));
  }

  ping(): Promise<void> {
    return this.run(() => {
      this.statement('SELECT 1').get();
    });
  }

  heartbeatNode(node: { id: string; host: string; roles: readonly NodeRole[]; endpoint?: string }): Promise<void> {
    return this.nodes.heartbeatNode(node);
  }

  listNodes(lostAfterMs: number): Promise<NodeRecord[]> {
    return this.nodes.listNodes(lostAfterMs);
  }

  removeNode(id: string): Promise<void> {
    return this.nodes.removeNode(id);
  }

  acquireLeadership(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.nodes.acquireLeadership(name, owner, ttlMs);
  }

  releaseLeadership(name: string, owner: string): Promise<void> {
    return this.nodes.releaseLeadership(name, owner);
  }

  getSigningKey(accountId: string): Promise<SigningKeyRecord | undefined> {
    return this.signingKeys.getSigningKey(accountId);
  }

  addSigningKey(key: { accountId: string; privateKeyPem: string; publicKeyPem: string }): Promise<SigningKeyRecord> {
    return this.signingKeys.addSigningKey(key);
  }

  getCacheEntry(key: string): Promise<BuildCacheEntry | undefined> {
    return this.cache.getCacheEntry(key);
  }

  putCacheEntry(entry: Omit<BuildCacheEntry, 'createdAt' | 'lastUsedAt'>): Promise<void> {
    return this.cache.putCacheEntry(entry);
  }

  touchCacheEntries(keys: readonly string[]): Promise<void> {
    return this.cache.touchCacheEntries(keys);
  }

  listCacheEntries(filter?: { accountId?: string }): Promise<BuildCacheEntry[]> {
    return this.cache.listCacheEntries(filter);
  }

  deleteCacheEntries(keys: readonly string[]): Promise<number> {
    return this.cache.deleteCacheEntries(keys);
  }

  close(): Promise<void> {
    return this.run(() => {
      if (this.db.open) this.db.close();
    });
  }

  /** Runs synchronous work and turns its outcome into a promise, so callers see one async contract. */
  private readonly statements = new Map<string, Statement>();

  /** A prepared statement, prepared once: preparing costs more than running a point query. */
  private statement(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private run<T>(fn: () => T): Promise<T> {
    return asPromise(fn);
  }
}
