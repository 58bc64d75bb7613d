/**
 * Schema migrations, applied in order inside one transaction each and recorded in `schema_migrations`.
 * Never edit a released migration: append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
  );
  CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
    secret_sealed TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX access_keys_account ON access_keys(account_id);
  CREATE TABLE resources (
    arn TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    major INTEGER NOT NULL,
    minor INTEGER NOT NULL,
    patch INTEGER NOT NULL,
    build INTEGER NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX resources_scope ON resources(account_id, region, type, name, major, minor, patch, build);
  CREATE TABLE idempotency (
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    operation TEXT NOT NULL,
    token TEXT NOT NULL,
    input_hash TEXT NOT NULL,
    -- the created record as JSON, so a retry answers the same even after the resource changed or went away
    result TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (account_id, region, operation, token)
  );
  `,
  `
  -- A resource policy as written, and the accounts it grants (or '*' for every account), for Shared listings.
  CREATE TABLE resource_policies (
    arn TEXT PRIMARY KEY REFERENCES resources(arn) ON DELETE CASCADE,
    policy TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE resource_grants (
    arn TEXT NOT NULL REFERENCES resources(arn) ON DELETE CASCADE,
    grantee TEXT NOT NULL,
    PRIMARY KEY (arn, grantee)
  );
  CREATE INDEX resource_grants_grantee ON resource_grants(grantee);
  -- The durable work queue: a job is leased by one worker at a time until done, failed, or its lease expires.
  CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    resource_arn TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'done', 'failed', 'cancelled')),
    lease_owner TEXT,
    lease_until TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX jobs_ready ON jobs(state, kind, id);
  CREATE INDEX jobs_resource ON jobs(resource_arn);
  `,
  `
  -- Kiln's built-in OCI registry: repositories (globally unique names, one owning account), who else may read
  -- them, the blobs and manifests each holds (bytes live in the blob store) and tags.
  CREATE TABLE registry_repositories (
    name TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    public INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
  );
  CREATE INDEX registry_repositories_account ON registry_repositories(account_id);
  CREATE TABLE registry_readers (
    repository TEXT NOT NULL REFERENCES registry_repositories(name) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    PRIMARY KEY (repository, account_id)
  );
  CREATE INDEX registry_readers_account ON registry_readers(account_id);
  CREATE TABLE registry_blobs (
    repository TEXT NOT NULL REFERENCES registry_repositories(name) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    PRIMARY KEY (repository, digest)
  );
  -- Which repositories still reference a blob, for garbage collection of the blob store.
  CREATE INDEX registry_blobs_digest ON registry_blobs(digest);
  CREATE TABLE registry_manifests (
    repository TEXT NOT NULL REFERENCES registry_repositories(name) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (repository, digest)
  );
  CREATE INDEX registry_manifests_digest ON registry_manifests(digest);
  CREATE TABLE registry_tags (
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    digest TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (repository, tag),
    FOREIGN KEY (repository, digest) REFERENCES registry_manifests(repository, digest) ON DELETE CASCADE
  );
  `,
  `
  -- The scheduler and the lifecycle runner read one family across every account and region.
  CREATE INDEX resources_type ON resources(type, account_id, region, name);
  `,
  `
  -- Keys can be disabled (IAM's Inactive) and deleted, and remember when they last signed a request, so a leaked
  -- or forgotten key can be found and revoked.
  ALTER TABLE access_keys ADD COLUMN status TEXT NOT NULL DEFAULT 'Active' CHECK (status IN ('Active', 'Inactive'));
  ALTER TABLE access_keys ADD COLUMN last_used_at TEXT;
  `,
  `
  -- A job leased again remembers who held it before, so a build a lost worker left mid-way can name that worker.
  ALTER TABLE jobs ADD COLUMN previous_owner TEXT;
  `,
  `
  -- The nodes of a cluster (every kiln serve / kiln worker process, by its heartbeat) and the named leaderships that
  -- let one of them act per tick (the pipeline scheduler, the lifecycle runner). Times are SQLite's own clock, as
  -- ISO text, so they compare as text.
  CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    roles TEXT NOT NULL,
    endpoint TEXT,
    started_at TEXT NOT NULL,
    last_seen TEXT NOT NULL
  );
  CREATE TABLE leaderships (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until TEXT NOT NULL
  );
  `,
  `
  -- Issue 15, events across nodes. The log of image state changes, appended in the transaction of the change;
  -- AUTOINCREMENT so a number is never reused after pruning, and a stream's Last-Event-ID never means two events.
  CREATE TABLE image_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    arn TEXT NOT NULL,
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    status TEXT NOT NULL,
    previous_status TEXT,
    reason TEXT,
    created_at TEXT NOT NULL
  );
  CREATE INDEX image_events_created ON image_events(created_at);
  -- The durable notification outbox: one row per event and endpoint, leased to one sender at a time.
  CREATE TABLE notification_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_seq INTEGER NOT NULL,
    endpoint TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'leased', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (event_seq, endpoint)
  );
  CREATE INDEX notification_deliveries_ready ON notification_deliveries(state, id);
  -- How far the event log has been considered for enqueueing: shared, so a restarted node resumes there. No row
  -- until the first move (a missing one reads as 0), so a freshly migrated store holds no rows at all.
  CREATE TABLE outbox_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
  `,
  `
  -- Issue 16, the step cache's index: what a build unit produced, under the sha256 of its inputs. The bytes live
  -- in the blob and disk stores; the garbage collector keeps what a row names and prunes rows least recently used.
  CREATE TABLE build_cache (
    key TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('layer', 'disk')),
    label TEXT NOT NULL,
    size INTEGER NOT NULL,
    entry TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT NOT NULL
  );
  CREATE INDEX build_cache_last_used ON build_cache(last_used_at);
  `,
  `
  -- Issue 18, each account's signing key (container signatures, machine-image disk digests): the private key sealed
  -- with the store's secret key, as access-key secrets are. One per account; the first one stored is kept.
  CREATE TABLE signing_keys (
    account_id TEXT PRIMARY KEY,
    private_sealed TEXT NOT NULL,
    public_pem TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  `,
  `
  -- Issue 18, the registry's referrers API: the manifest a manifest refers to (its OCI subject), when it has one.
  ALTER TABLE registry_manifests ADD COLUMN subject TEXT;
  CREATE INDEX registry_manifests_subject ON registry_manifests(repository, subject);
  `,
];
