import pg from 'pg';
import { KilnError } from '../../domain/errors.js';
import type { SecretBox } from '../secret-box.js';
import type {
  AccessKey,
  AccessKeyStatus,
  Account,
  CreateResult,
  IdempotencyKey,
  Job,
  NewAccessKey,
  NewResource,
  NodeRecord,
  NodeRole,
  RegistryManifest,
  RegistryRepository,
  ResourceQuery,
  ResourceRecord,
  Store,
} from '../store.js';
import { pageLimit, versionParts } from '../sql/shared.js';
import { ACCESS_KEY_COLUMNS, toAccessKey, toAccount, toJob, toRecord, toRegistryManifest, toRegistryRepository, type AccessKeyRow, type AccountRow, type JobRow, type RegistryManifestRow, type RegistryRepositoryRow, type ResourceRow } from '../sql/rows.js';
import type { ClusterNodes } from '../roles/cluster-nodes.js';
import type { BuildCache, BuildCacheEntry } from '../roles/build-cache.js';
import type { SigningKeyRecord, SigningKeys } from '../roles/signing-keys.js';
import { postgresSigningKeys } from './signing-keys.js';
import { postgresBuildCache } from './build-cache.js';
import { postgresClusterNodes } from './cluster-nodes.js';
import { PG_MIGRATIONS } from './migrations.js';
import { imageEventEntry, type ImageEventEntry } from '../sql/image-journal.js';
import { toLoggedImageEvent, toOutboxDelivery, type DeliveryRow, type ImageEventRow } from '../sql/event-rows.js';
import type { LoggedImageEvent } from '../roles/event-log.js';
import type { DeliveryState, OutboxDelivery } from '../roles/notification-outbox.js';

/** The channel a committed image state change is announced on (LISTEN/NOTIFY), so tailing nodes wake at once. */
export const IMAGE_EVENTS_CHANNEL = 'kiln_image_events';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** pg's own type parsers, except that BIGINT (registry sizes) comes back as a number, not a string. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

const RESOURCE_ORDER = 'ORDER BY name, major, minor, patch, build';

const pgCode = (err: unknown): unknown => (err as { code?: unknown }).code;
const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';
/** Serialization failures and deadlocks: the transaction did nothing and can run again. */
const RETRYABLE = new Set(['40001', '40P01']);

/** Keys of the transaction-scoped advisory locks that serialize what a unique index cannot (see createResource). */
const lockKey = (...parts: string[]): string => parts.join('\u001f');

export interface PostgresStoreOptions {
  /** A `postgres://user:password@host:port/database` URL (libpq's parameters in its query string work too). */
  connectionString: string;
  /** Encrypts access-key secrets at rest: every node of a cluster must use the same key. */
  secrets: SecretBox;
  /** Most connections this node opens (default 10). */
  maxConnections?: number;
}

/**
 * The scale-out Store: PostgreSQL, shared by any number of Kiln nodes. Every multi-row change is one
 * transaction; what the embedded store gets from running one writer at a time, this one gets from row locks
 * (`SELECT … FOR UPDATE`), `FOR UPDATE SKIP LOCKED` for job leases, and transaction-scoped advisory locks where
 * no row exists yet to lock (the next build number of a version, a client token's first use). Lease expiry is
 * judged by the database clock, so nodes with skewed clocks never take each other's live jobs.
 */
export class PostgresStore implements Store {
  private readonly pool: pg.Pool;
  private readonly nodes: ClusterNodes;
  private readonly cache: BuildCache;
  private readonly signingKeys: SigningKeys;

  private constructor(private readonly options: PostgresStoreOptions) {
    this.pool = new pg.Pool({ connectionString: options.connectionString, max: options.maxConnections ?? 10, types });
    // An idle connection that the server drops (restart, failover) must not crash the process: the pool replaces it.
    this.pool.on('error', (err) => process.emitWarning(`PostgreSQL connection lost while idle: ${err.message}`));
    this.nodes = postgresClusterNodes(this.pool);
    this.cache = postgresBuildCache(this.pool);
    this.signingKeys = postgresSigningKeys(this.pool, options.secrets);
  }

  /** Connects, applies pending migrations, and answers the open store; rejects when the database cannot be reached. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const store = new PostgresStore(options);
    try {
      await store.migrate();
      return store;
    } catch (err) {
      await store.pool.end();
      throw err;
    }
  }

  private async migrate(): Promise<void> {
    await this.transaction(async (c) => {
      // Nodes starting together: the first to take the lock migrates, the others then find nothing to do.
      await c.query("SELECT pg_advisory_xact_lock(hashtext('kiln:schema_migrations'))");
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
      const { rows } = await c.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
      let current = rows[0]?.v ?? 0;
      if (current > PG_MIGRATIONS.length) {
        throw new KilnError('Internal', `database schema version ${current} is newer than this Kiln (${PG_MIGRATIONS.length})`);
      }
      for (; current < PG_MIGRATIONS.length; current++) {
        await c.query(PG_MIGRATIONS[current]!);
        await c.query('INSERT INTO schema_migrations (version) VALUES ($1)', [current + 1]);
      }
    });
  }

  /** The applied schema version (for tests and diagnostics). */
  async schemaVersion(): Promise<number> {
    const { rows } = await this.pool.query<{ v: number }>('SELECT MAX(version) AS v FROM schema_migrations');
    return rows[0]!.v;
  }

  /**
   * Runs `fn` in one transaction on one connection, committed when it resolves and rolled back when it throws.
   * A serialization failure or deadlock is retried a few times: the transaction changed nothing.
   */
  private async transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          // The connection is unusable: release it destroyed rather than hand it to the next caller.
          broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
        }
        if (attempt < 5 && RETRYABLE.has(String(pgCode(err))) && !broken) continue;
        throw err;
      } finally {
        client.release(broken);
      }
    }
  }

  private async one<R extends pg.QueryResultRow>(q: Queryable, sql: string, params: unknown[]): Promise<R | undefined> {
    return (await q.query<R>(sql, params)).rows[0];
  }

  async createAccount(input: { name: string; admin?: boolean; accountId: string; accessKeyId: string; secretAccessKey: string }): Promise<{ account: Account; key: NewAccessKey }> {
    return this.transaction(async (c) => {
      let row: AccountRow;
      try {
        row = (await c.query<AccountRow>('INSERT INTO accounts (account_id, name, admin) VALUES ($1, $2, $3) RETURNING *', [input.accountId, input.name, input.admin === true])).rows[0]!;
      } catch (err) {
        if (pgCode(err) === UNIQUE_VIOLATION) throw new KilnError('AlreadyExists', `account ${input.accountId} already exists`);
        throw err;
      }
      const key = await this.insertKey(c, input.accountId, input.accessKeyId, input.secretAccessKey);
      return { account: toAccount(row), key };
    });
  }

  private async insertKey(c: Queryable, accountId: string, accessKeyId: string, secret: string): Promise<NewAccessKey> {
    try {
      const { rows } = await c.query<AccessKeyRow>(
        `INSERT INTO access_keys (access_key_id, account_id, secret_sealed) VALUES ($1, $2, $3) RETURNING ${ACCESS_KEY_COLUMNS}`,
        [accessKeyId, accountId, this.options.secrets.seal(secret)],
      );
      return { ...toAccessKey(rows[0]!), secretAccessKey: secret };
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) throw new KilnError('AlreadyExists', `access key ${accessKeyId} already exists`);
      if (pgCode(err) === FOREIGN_KEY_VIOLATION) throw new KilnError('NotFound', `account ${accountId} does not exist`);
      throw err;
    }
  }

  async listAccounts(): Promise<Account[]> {
    return (await this.pool.query<AccountRow>('SELECT * FROM accounts ORDER BY created_at, account_id')).rows.map(toAccount);
  }

  async getAccount(accountId: string): Promise<Account | undefined> {
    const row = await this.one<AccountRow>(this.pool, 'SELECT * FROM accounts WHERE account_id = $1', [accountId]);
    return row && toAccount(row);
  }

  addAccessKey(accountId: string, accessKeyId: string, secretAccessKey: string): Promise<NewAccessKey> {
    return this.insertKey(this.pool, accountId, accessKeyId, secretAccessKey);
  }

  async listAccessKeys(accountId: string): Promise<AccessKey[]> {
    const { rows } = await this.pool.query<AccessKeyRow>(`SELECT ${ACCESS_KEY_COLUMNS} FROM access_keys WHERE account_id = $1 ORDER BY created_at, access_key_id`, [accountId]);
    return rows.map(toAccessKey);
  }

  async getAccessKeySecret(accessKeyId: string): Promise<{ accountId: string; secretAccessKey: string } | undefined> {
    const row = await this.one<{ account_id: string; secret_sealed: string }>(
      this.pool,
      "SELECT account_id, secret_sealed FROM access_keys WHERE access_key_id = $1 AND status = 'Active'",
      [accessKeyId],
    );
    return row && { accountId: row.account_id, secretAccessKey: this.options.secrets.open(row.secret_sealed) };
  }

  async setAccessKeyStatus(accessKeyId: string, status: AccessKeyStatus): Promise<AccessKey> {
    const row = await this.one<AccessKeyRow>(this.pool, `UPDATE access_keys SET status = $1 WHERE access_key_id = $2 RETURNING ${ACCESS_KEY_COLUMNS}`, [status, accessKeyId]);
    if (!row) throw new KilnError('NotFound', `access key ${accessKeyId} does not exist`);
    return toAccessKey(row);
  }

  async deleteAccessKey(accessKeyId: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM access_keys WHERE access_key_id = $1', [accessKeyId])).rowCount ?? 0) > 0;
  }

  async recordAccessKeyUse(accessKeyId: string, at: string): Promise<void> {
    await this.pool.query('UPDATE access_keys SET last_used_at = $1 WHERE access_key_id = $2 AND (last_used_at IS NULL OR last_used_at < $1)', [at, accessKeyId]);
  }

  /** A client token's earlier answer: its record, or IdempotencyMismatch when the token came with other input. */
  private async priorAnswer(c: Queryable, scope: { accountId: string; region: string }, key: IdempotencyKey): Promise<ResourceRecord | undefined> {
    const prior = await this.one<{ input_hash: string; result: string }>(
      c,
      'SELECT input_hash, result FROM idempotency WHERE account_id = $1 AND region = $2 AND operation = $3 AND token = $4',
      [scope.accountId, scope.region, key.operation, key.token],
    );
    if (!prior) return undefined;
    if (prior.input_hash !== key.inputHash) throw new KilnError('IdempotencyMismatch', `clientToken ${key.token} was already used with different parameters`);
    return JSON.parse(prior.result) as ResourceRecord;
  }

  private async rememberAnswer(c: Queryable, scope: { accountId: string; region: string }, key: IdempotencyKey, record: ResourceRecord): Promise<void> {
    await c.query('INSERT INTO idempotency (account_id, region, operation, token, input_hash, result) VALUES ($1, $2, $3, $4, $5, $6)', [
      scope.accountId,
      scope.region,
      key.operation,
      key.token,
      key.inputHash,
      JSON.stringify(record),
    ]);
  }

  /** Serializes transactions on one client token (idempotency) or one version's build numbers, until commit. */
  private async lock(c: Queryable, key: string): Promise<void> {
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
  }

  createResource(resource: NewResource, idempotency?: IdempotencyKey, options: { enqueue?: string } = {}): Promise<CreateResult> {
    return this.transaction(async (c): Promise<CreateResult> => {
      // Locks are always taken token first, then version, so two creates never wait on each other in a circle.
      if (idempotency) {
        await this.lock(c, lockKey('token', resource.accountId, resource.region, idempotency.operation, idempotency.token));
        const prior = await this.priorAnswer(c, resource, idempotency);
        if (prior) return { record: prior, created: false };
      }
      const [major, minor, patch] = versionParts(resource.version);
      let build = 0;
      let arn = resource.arn;
      if (resource.build !== 'none') {
        await this.lock(c, lockKey('version', resource.accountId, resource.region, resource.type, resource.name, resource.version));
        const row = await this.one<{ b: number | null }>(
          c,
          'SELECT MAX(build) AS b FROM resources WHERE account_id = $1 AND region = $2 AND type = $3 AND name = $4 AND version = $5',
          [resource.accountId, resource.region, resource.type, resource.name, resource.version],
        );
        if (resource.build === 'first' && row?.b != null) {
          throw new KilnError('AlreadyExists', `${resource.type} ${resource.name} version ${resource.version} already exists`);
        }
        build = (row?.b ?? 0) + 1;
        arn = `${resource.arn}/${build}`;
      }
      let inserted: ResourceRow;
      try {
        inserted = (
          await c.query<ResourceRow>(
            `INSERT INTO resources (arn, account_id, region, type, name, version, major, minor, patch, build, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
            [arn, resource.accountId, resource.region, resource.type, resource.name, resource.version, major, minor, patch, build, JSON.stringify(resource.data)],
          )
        ).rows[0]!;
      } catch (err) {
        if (pgCode(err) === UNIQUE_VIOLATION) throw new KilnError('AlreadyExists', `${arn} already exists`);
        throw err;
      }
      const record = { ...toRecord(inserted), data: resource.data };
      if (idempotency) await this.rememberAnswer(c, resource, idempotency, record);
      if (options.enqueue !== undefined) await this.insertJob(c, options.enqueue, arn);
      await this.appendEvents(c, [imageEventEntry(undefined, record)]);
      return { record, created: true };
    });
  }

  async getResource(arn: string): Promise<ResourceRecord | undefined> {
    const row = await this.one<ResourceRow>(this.pool, 'SELECT * FROM resources WHERE arn = $1', [arn]);
    return row && toRecord(row);
  }

  async listResources(query: ResourceQuery): Promise<ResourceRecord[]> {
    const params: unknown[] = [query.accountId, query.region, query.type];
    let sql = 'SELECT * FROM resources WHERE account_id = $1 AND region = $2 AND type = $3';
    if (query.name !== undefined) sql += ` AND name = $${params.push(query.name)}`;
    if (query.version !== undefined) sql += ` AND version = $${params.push(query.version)}`;
    return (await this.pool.query<ResourceRow>(`${sql} ${RESOURCE_ORDER}`, params)).rows.map(toRecord);
  }

  async listResourcesOfType(type: string): Promise<ResourceRecord[]> {
    return (await this.pool.query<ResourceRow>('SELECT * FROM resources WHERE type = $1 ORDER BY account_id, region, name', [type])).rows.map(toRecord);
  }

  updateResources(changes: readonly { arn: string; change: (current: ResourceRecord) => Record<string, unknown> | undefined }[]): Promise<ResourceRecord[]> {
    return this.transaction(async (c) => {
      const written: ResourceRecord[] = [];
      const entries: (ImageEventEntry | undefined)[] = [];
      for (const { arn, change } of changes) {
        const row = await this.one<ResourceRow>(c, 'SELECT * FROM resources WHERE arn = $1 FOR UPDATE', [arn]);
        if (!row) continue;
        const current = toRecord(row);
        const data = change(current);
        if (data === undefined) continue;
        await c.query('UPDATE resources SET data = $1 WHERE arn = $2', [JSON.stringify(data), arn]);
        written.push({ ...current, data });
        entries.push(imageEventEntry(current, { ...current, data }));
      }
      // Appended after every row lock is held: the log's lock is always taken last (see appendEvents).
      await this.appendEvents(c, entries);
      return written;
    });
  }

  updateResource(arn: string, change: (current: ResourceRecord) => Record<string, unknown>, idempotency?: IdempotencyKey): Promise<ResourceRecord> {
    return this.transaction(async (c) => {
      // The row lock makes concurrent read-modify-writes of one resource take turns, so none is lost.
      const row = await this.one<ResourceRow>(c, 'SELECT * FROM resources WHERE arn = $1 FOR UPDATE', [arn]);
      if (!row) throw new KilnError('NotFound', `${arn} does not exist`);
      const current = toRecord(row);
      if (idempotency) {
        const prior = await this.priorAnswer(c, current, idempotency);
        if (prior) return prior;
      }
      const record: ResourceRecord = { ...current, data: change(current) };
      await c.query('UPDATE resources SET data = $1 WHERE arn = $2', [JSON.stringify(record.data), arn]);
      if (idempotency) await this.rememberAnswer(c, current, idempotency, record);
      await this.appendEvents(c, [imageEventEntry(current, record)]);
      return record;
    });
  }

  /**
   * Logs image state changes inside the write's transaction. The transaction-scoped lock makes appends take
   * turns until commit, so numbers commit in the order they were drawn: a reader that saw `n` never later finds
   * a lower number appear (only holes, from rolled-back appends, which stay holes). It is taken last in every
   * transaction, after any row lock, so it cannot close a circle of waits. The NOTIFY is sent at commit.
   */
  private async appendEvents(c: Queryable, entries: readonly (ImageEventEntry | undefined)[]): Promise<void> {
    const present = entries.filter((e): e is ImageEventEntry => e !== undefined);
    if (present.length === 0) return;
    await c.query("SELECT pg_advisory_xact_lock(hashtext('kiln:image_events'))");
    for (const e of present) {
      await c.query('INSERT INTO image_events (arn, account_id, region, status, previous_status, reason) VALUES ($1, $2, $3, $4, $5, $6)', [
        e.arn,
        e.accountId,
        e.region,
        e.status,
        e.previousStatus ?? null,
        e.reason ?? null,
      ]);
    }
    await c.query(`NOTIFY ${IMAGE_EVENTS_CHANNEL}`);
  }

  async eventsAfter(seq: number, limit: number): Promise<LoggedImageEvent[]> {
    return (await this.pool.query<ImageEventRow>('SELECT * FROM image_events WHERE seq > $1 ORDER BY seq LIMIT $2', [seq, pageLimit(limit)])).rows.map(toLoggedImageEvent);
  }

  async lastEventSeq(): Promise<number> {
    // Not the identity's last value, which counts appends not committed yet: a reader starting there could skip
    // one that commits later. Pruning always keeps the newest event, so MAX is the last committed number.
    return (await this.one<{ s: number }>(this.pool, 'SELECT COALESCE(MAX(seq), 0) AS s FROM image_events', []))!.s;
  }

  async pruneEvents(olderThanMs: number, keepNewest: number): Promise<number> {
    const result = await this.pool.query(
      `DELETE FROM image_events WHERE created_at < now() - make_interval(secs => $1::double precision / 1000)
         AND seq <= (SELECT COALESCE(MAX(seq), 0) FROM image_events) - $2`,
      [olderThanMs, Math.max(1, keepNewest)],
    );
    return result.rowCount ?? 0;
  }

  async enqueueDeliveries(items: readonly { eventSeq: number; endpoint: string; payload: string }[]): Promise<number> {
    if (items.length === 0) return 0;
    const result = await this.pool.query(
      `INSERT INTO notification_deliveries (event_seq, endpoint, payload, state)
       SELECT * , 'pending' FROM unnest($1::bigint[], $2::text[], $3::text[])
       ON CONFLICT (event_seq, endpoint) DO NOTHING`,
      [items.map((i) => i.eventSeq), items.map((i) => i.endpoint), items.map((i) => i.payload)],
    );
    return result.rowCount ?? 0;
  }

  async leaseDeliveries(owner: string, leaseMs: number, limit: number): Promise<OutboxDelivery[]> {
    // SKIP LOCKED: senders on several nodes each take different deliveries; now() judges expiry, not a node's clock.
    const { rows } = await this.pool.query<DeliveryRow>(
      `UPDATE notification_deliveries SET state = 'leased', lease_owner = $1, lease_until = now() + make_interval(secs => $2::double precision / 1000), updated_at = now()
       WHERE id IN (
         SELECT id FROM notification_deliveries WHERE state = 'pending' OR (state = 'leased' AND lease_until < now())
         ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [owner, leaseMs, pageLimit(limit)],
    );
    return rows.map(toOutboxDelivery).sort((a, b) => a.id - b.id);
  }

  async settleDelivery(id: number, owner: string, outcome: { state: 'delivered' | 'failed' | 'pending'; attempts: number; error?: string }): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE notification_deliveries SET state = $1, attempts = attempts + $2, last_error = $3, lease_owner = NULL, lease_until = NULL, updated_at = now()
       WHERE id = $4 AND state = 'leased' AND lease_owner = $5`,
      [outcome.state, outcome.attempts, outcome.error ?? null, id, owner],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async listDeliveries(state?: DeliveryState): Promise<OutboxDelivery[]> {
    const { rows } =
      state === undefined
        ? await this.pool.query<DeliveryRow>('SELECT * FROM notification_deliveries ORDER BY id')
        : await this.pool.query<DeliveryRow>('SELECT * FROM notification_deliveries WHERE state = $1 ORDER BY id', [state]);
    return rows.map(toOutboxDelivery);
  }

  async pruneDeliveries(olderThanMs: number): Promise<number> {
    const result = await this.pool.query(
      "DELETE FROM notification_deliveries WHERE state IN ('delivered', 'failed') AND updated_at < now() - make_interval(secs => $1::double precision / 1000)",
      [olderThanMs],
    );
    return result.rowCount ?? 0;
  }

  async outboxCursor(): Promise<number> {
    return (await this.one<{ seq: number }>(this.pool, 'SELECT seq FROM outbox_cursor WHERE id = 1', []))?.seq ?? 0;
  }

  async advanceOutboxCursor(seq: number): Promise<void> {
    await this.pool.query('INSERT INTO outbox_cursor (id, seq) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET seq = GREATEST(outbox_cursor.seq, excluded.seq)', [seq]);
  }

  /**
   * Calls `onEvent` soon after any node commits an image state change (LISTEN on its own connection), until the
   * answered function is called. A lost connection is reported to `onError` and listened again after a pause;
   * a reader must still poll, since a notification sent while nobody listened is gone.
   */
  async listenForEvents(onEvent: () => void, onError: (err: unknown) => void): Promise<() => Promise<void>> {
    let client: pg.Client | undefined;
    let stopped = false;
    let retry: NodeJS.Timeout | undefined;
    const again = (): void => {
      if (!stopped) retry = setTimeout(() => void connect().catch((err: unknown) => (onError(err), again())), 1000).unref();
    };
    const connect = async (): Promise<void> => {
      const c = new pg.Client({ connectionString: this.options.connectionString });
      c.on('notification', () => onEvent());
      c.on('error', (err) => {
        onError(err);
        void c.end().catch(() => undefined);
        if (client === c) {
          client = undefined;
          again();
        }
      });
      await c.connect();
      await c.query(`LISTEN ${IMAGE_EVENTS_CHANNEL}`);
      if (stopped) await c.end();
      else client = c;
      // Whatever was committed while nobody listened: the reader polls for it now.
      onEvent();
    };
    await connect();
    return async () => {
      stopped = true;
      clearTimeout(retry);
      await client?.end().catch(() => undefined);
      client = undefined;
    };
  }

  async deleteResource(arn: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM resources WHERE arn = $1', [arn])).rowCount ?? 0) > 0;
  }

  putResourcePolicy(arn: string, policy: string, grantees: readonly string[]): Promise<void> {
    return this.transaction(async (c) => {
      if (!(await this.one(c, 'SELECT 1 FROM resources WHERE arn = $1 FOR UPDATE', [arn]))) throw new KilnError('NotFound', `${arn} does not exist`);
      await c.query('INSERT INTO resource_policies (arn, policy) VALUES ($1, $2) ON CONFLICT (arn) DO UPDATE SET policy = excluded.policy, updated_at = now()', [arn, policy]);
      await c.query('DELETE FROM resource_grants WHERE arn = $1', [arn]);
      await c.query('INSERT INTO resource_grants (arn, grantee) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [arn, [...grantees]]);
    });
  }

  async getResourcePolicy(arn: string): Promise<string | undefined> {
    return (await this.one<{ policy: string }>(this.pool, 'SELECT policy FROM resource_policies WHERE arn = $1', [arn]))?.policy;
  }

  async listGrantedResources(query: { grantee: string; region: string; type: string }): Promise<ResourceRecord[]> {
    const { rows } = await this.pool.query<ResourceRow>(
      `SELECT r.* FROM resources r
       WHERE r.region = $2 AND r.type = $3 AND r.account_id <> $1
         AND EXISTS (SELECT 1 FROM resource_grants g WHERE g.arn = r.arn AND g.grantee IN ($1, '*'))
       ${RESOURCE_ORDER}`,
      [query.grantee, query.region, query.type],
    );
    return rows.map(toRecord);
  }

  private async insertJob(c: Queryable, kind: string, resourceArn: string): Promise<Job> {
    const { rows } = await c.query<JobRow>("INSERT INTO jobs (kind, resource_arn, state) VALUES ($1, $2, 'queued') RETURNING *", [kind, resourceArn]);
    return toJob(rows[0]!);
  }

  enqueueJob(kind: string, resourceArn: string): Promise<Job> {
    return this.insertJob(this.pool, kind, resourceArn);
  }

  async leaseJob(kinds: readonly string[], owner: string, leaseMs: number): Promise<Job | undefined> {
    if (kinds.length === 0) return undefined;
    // SKIP LOCKED: workers polling at once each take a different job instead of queueing on the same row. The
    // statement's own now() decides expiry, so a worker's clock never decides whether another's lease ran out.
    const row = await this.one<JobRow>(
      this.pool,
      `UPDATE jobs SET state = 'leased', previous_owner = lease_owner, lease_owner = $2, lease_until = now() + make_interval(secs => $3::double precision / 1000),
         attempts = attempts + 1, updated_at = now()
       WHERE id = (
         SELECT id FROM jobs WHERE kind = ANY($1::text[]) AND (state = 'queued' OR (state = 'leased' AND lease_until < now()))
         ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [[...kinds], owner, leaseMs],
    );
    return row && toJob(row);
  }

  async renewJob(id: number, owner: string, leaseMs: number): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE jobs SET lease_until = now() + make_interval(secs => $3::double precision / 1000), updated_at = now()
       WHERE id = $1 AND state = 'leased' AND lease_owner = $2`,
      [id, owner, leaseMs],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async finishJob(id: number, owner: string | undefined, state: 'done' | 'failed' | 'cancelled'): Promise<boolean> {
    const result =
      owner === undefined
        ? await this.pool.query("UPDATE jobs SET state = $1, lease_owner = NULL, lease_until = NULL, updated_at = now() WHERE id = $2 AND state = 'queued'", [state, id])
        : await this.pool.query("UPDATE jobs SET state = $1, lease_until = NULL, updated_at = now() WHERE id = $2 AND state = 'leased' AND lease_owner = $3", [state, id, owner]);
    return (result.rowCount ?? 0) > 0;
  }

  async listJobs(query: { resourceArn?: string; state?: Job['state'] }): Promise<Job[]> {
    const params: unknown[] = [];
    let sql = 'SELECT * FROM jobs WHERE TRUE';
    if (query.resourceArn !== undefined) sql += ` AND resource_arn = $${params.push(query.resourceArn)}`;
    if (query.state !== undefined) sql += ` AND state = $${params.push(query.state)}`;
    return (await this.pool.query<JobRow>(`${sql} ORDER BY id`, params)).rows.map(toJob);
  }

  private async registryRepository(c: Queryable, name: string): Promise<RegistryRepository | undefined> {
    const row = await this.one<RegistryRepositoryRow & { readers: string[] }>(
      c,
      `SELECT r.*, COALESCE(ARRAY(SELECT g.account_id FROM registry_readers g WHERE g.repository = r.name ORDER BY g.account_id), '{}') AS readers
       FROM registry_repositories r WHERE r.name = $1`,
      [name],
    );
    return row && toRegistryRepository(row, row.readers);
  }

  private async requireRegistryRepository(c: Queryable, name: string): Promise<void> {
    // FOR SHARE: the repository cannot be deleted under a transaction that is adding to it.
    if (!(await this.one(c, 'SELECT 1 FROM registry_repositories WHERE name = $1 FOR SHARE', [name]))) {
      throw new KilnError('NotFound', `registry repository ${name} does not exist`);
    }
  }

  claimRegistryRepository(name: string, accountId: string): Promise<{ repository: RegistryRepository; created: boolean }> {
    return this.transaction(async (c) => {
      const created = ((await c.query('INSERT INTO registry_repositories (name, account_id) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, accountId])).rowCount ?? 0) > 0;
      return { repository: (await this.registryRepository(c, name))!, created };
    });
  }

  getRegistryRepository(name: string): Promise<RegistryRepository | undefined> {
    return this.registryRepository(this.pool, name);
  }

  async listRegistryRepositories(query: { reader: string | undefined; after?: string; limit?: number }): Promise<RegistryRepository[]> {
    const { rows } = await this.pool.query<RegistryRepositoryRow & { readers: string[] }>(
      `SELECT r.*, COALESCE(ARRAY(SELECT g.account_id FROM registry_readers g WHERE g.repository = r.name ORDER BY g.account_id), '{}') AS readers
       FROM registry_repositories r
       WHERE r.name > $1 AND (r.public OR r.account_id = $2
         OR EXISTS (SELECT 1 FROM registry_readers g WHERE g.repository = r.name AND g.account_id = $2))
       ORDER BY r.name LIMIT $3`,
      [query.after ?? '', query.reader ?? null, pageLimit(query.limit)],
    );
    return rows.map((row) => toRegistryRepository(row, row.readers));
  }

  setRegistryRepositoryAccess(name: string, access: { readers?: readonly string[]; public?: boolean }): Promise<RegistryRepository> {
    return this.transaction(async (c) => {
      if (!(await this.one(c, 'SELECT 1 FROM registry_repositories WHERE name = $1 FOR UPDATE', [name]))) throw new KilnError('NotFound', `registry repository ${name} does not exist`);
      if (access.public !== undefined) await c.query('UPDATE registry_repositories SET public = $1 WHERE name = $2', [access.public, name]);
      if (access.readers !== undefined) {
        await c.query('DELETE FROM registry_readers WHERE repository = $1', [name]);
        await c.query('INSERT INTO registry_readers (repository, account_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [name, [...access.readers]]);
      }
      return (await this.registryRepository(c, name))!;
    });
  }

  private async linkBlobs(c: Queryable, repository: string, digests: readonly string[]): Promise<void> {
    if (digests.length === 0) return;
    await c.query('INSERT INTO registry_blobs (repository, digest) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [repository, [...digests]]);
  }

  linkRegistryBlobs(repository: string, digests: readonly string[]): Promise<void> {
    return this.transaction(async (c) => {
      await this.requireRegistryRepository(c, repository);
      await this.linkBlobs(c, repository, digests);
    });
  }

  async hasRegistryBlob(repository: string, digest: string): Promise<boolean> {
    return (await this.one(this.pool, 'SELECT 1 FROM registry_blobs WHERE repository = $1 AND digest = $2', [repository, digest])) !== undefined;
  }

  async unlinkRegistryBlob(repository: string, digest: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM registry_blobs WHERE repository = $1 AND digest = $2', [repository, digest])).rowCount ?? 0) > 0;
  }

  putRegistryManifest(input: { repository: string; digest: string; mediaType: string; size: number; blobs: readonly string[]; manifests?: readonly string[]; tag?: string; subject?: string }): Promise<RegistryManifest> {
    return this.transaction(async (c) => {
      await this.requireRegistryRepository(c, input.repository);
      for (const child of input.manifests ?? []) {
        if (!(await this.one(c, 'SELECT 1 FROM registry_manifests WHERE repository = $1 AND digest = $2 FOR SHARE', [input.repository, child]))) {
          throw new KilnError('NotFound', `manifest ${child} is not in repository ${input.repository}`);
        }
      }
      // A manifest's bytes never change under its digest, so a repeated push keeps the first record.
      await c.query('INSERT INTO registry_manifests (repository, digest, media_type, size, subject) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING', [
        input.repository,
        input.digest,
        input.mediaType,
        input.size,
        input.subject ?? null,
      ]);
      await this.linkBlobs(c, input.repository, input.blobs);
      if (input.tag !== undefined) {
        await c.query(
          'INSERT INTO registry_tags (repository, tag, digest) VALUES ($1, $2, $3) ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, updated_at = now()',
          [input.repository, input.tag, input.digest],
        );
      }
      return toRegistryManifest((await this.one<RegistryManifestRow>(c, 'SELECT * FROM registry_manifests WHERE repository = $1 AND digest = $2', [input.repository, input.digest]))!);
    });
  }

  async getRegistryManifest(repository: string, reference: string): Promise<RegistryManifest | undefined> {
    const row = reference.includes(':')
      ? await this.one<RegistryManifestRow>(this.pool, 'SELECT * FROM registry_manifests WHERE repository = $1 AND digest = $2', [repository, reference])
      : await this.one<RegistryManifestRow>(
          this.pool,
          'SELECT m.* FROM registry_tags t JOIN registry_manifests m ON m.repository = t.repository AND m.digest = t.digest WHERE t.repository = $1 AND t.tag = $2',
          [repository, reference],
        );
    return row && toRegistryManifest(row);
  }

  async listRegistryReferrers(repository: string, subject: string): Promise<RegistryManifest[]> {
    const { rows } = await this.pool.query<RegistryManifestRow>('SELECT * FROM registry_manifests WHERE repository = $1 AND subject = $2 ORDER BY digest', [repository, subject]);
    return rows.map(toRegistryManifest);
  }

  async listRegistryTags(repository: string, query: { after?: string; limit?: number } = {}): Promise<string[]> {
    const { rows } = await this.pool.query<{ tag: string }>('SELECT tag FROM registry_tags WHERE repository = $1 AND tag > $2 ORDER BY tag LIMIT $3', [
      repository,
      query.after ?? '',
      pageLimit(query.limit),
    ]);
    return rows.map((r) => r.tag);
  }

  async deleteRegistryManifest(repository: string, digest: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM registry_manifests WHERE repository = $1 AND digest = $2', [repository, digest])).rowCount ?? 0) > 0;
  }

  async deleteRegistryTag(repository: string, tag: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM registry_tags WHERE repository = $1 AND tag = $2', [repository, tag])).rowCount ?? 0) > 0;
  }

  async listRegistryManifests(): Promise<RegistryManifest[]> {
    return (await this.pool.query<RegistryManifestRow>('SELECT * FROM registry_manifests ORDER BY repository, digest')).rows.map(toRegistryManifest);
  }

  async listLinkedRegistryBlobs(): Promise<string[]> {
    return (await this.pool.query<{ digest: string }>('SELECT DISTINCT digest FROM registry_blobs ORDER BY digest')).rows.map((r) => r.digest);
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
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

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}
