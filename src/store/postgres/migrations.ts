/**
 * PostgreSQL schema migrations, applied in order (each in its own transaction, under an advisory lock so nodes
 * starting together migrate once) and recorded in `schema_migrations`. Never edit a released migration: append
 * a new one. The first migration is the SQLite schema as it stands after its five migrations, in PostgreSQL's
 * dialect: a PostgreSQL store starts where the embedded one is today.
 *
 * Names, tags and digests are compared and ordered bytewise (`COLLATE "C"`), as SQLite does, so listings and
 * their `after` cursors page the same on a cluster made with any locale. Times are `timestamptz` so that lease
 * expiry is judged by the database's clock, not by each node's.
 */
export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE accounts (
    account_id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE access_keys (
    access_key_id TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
    secret_sealed TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'Active' CHECK (status IN ('Active', 'Inactive')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ
  );
  CREATE INDEX access_keys_account ON access_keys(account_id);

  CREATE TABLE resources (
    arn TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL,
    region TEXT COLLATE "C" NOT NULL,
    type TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    version TEXT COLLATE "C" NOT NULL,
    major INTEGER NOT NULL,
    minor INTEGER NOT NULL,
    patch INTEGER NOT NULL,
    build INTEGER NOT NULL,
    -- the family's JSON as written (text, not jsonb: jsonb would reorder keys of what the API returns)
    data TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE INDEX resources_scope ON resources(account_id, region, type, name, major, minor, patch, build);
  CREATE INDEX resources_type ON resources(type, account_id, region, name);
  CREATE TABLE idempotency (
    account_id TEXT COLLATE "C" NOT NULL,
    region TEXT COLLATE "C" NOT NULL,
    operation TEXT COLLATE "C" NOT NULL,
    token TEXT COLLATE "C" NOT NULL,
    input_hash TEXT NOT NULL,
    -- the created record as JSON, so a retry answers the same even after the resource changed or went away
    result TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, region, operation, token)
  );
  CREATE TABLE resource_policies (
    arn TEXT COLLATE "C" PRIMARY KEY REFERENCES resources(arn) ON DELETE CASCADE,
    policy TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE resource_grants (
    arn TEXT COLLATE "C" NOT NULL REFERENCES resources(arn) ON DELETE CASCADE,
    grantee TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (arn, grantee)
  );
  CREATE INDEX resource_grants_grantee ON resource_grants(grantee);

  CREATE TABLE jobs (
    id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT COLLATE "C" NOT NULL,
    resource_arn TEXT COLLATE "C" NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'done', 'failed', 'cancelled')),
    lease_owner TEXT,
    lease_until TIMESTAMPTZ,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE INDEX jobs_ready ON jobs(state, kind, id);
  CREATE INDEX jobs_resource ON jobs(resource_arn);

  CREATE TABLE registry_repositories (
    name TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL,
    public BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE INDEX registry_repositories_account ON registry_repositories(account_id);
  CREATE TABLE registry_readers (
    repository TEXT COLLATE "C" NOT NULL REFERENCES registry_repositories(name) ON DELETE CASCADE,
    account_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repository, account_id)
  );
  CREATE INDEX registry_readers_account ON registry_readers(account_id);
  CREATE TABLE registry_blobs (
    repository TEXT COLLATE "C" NOT NULL REFERENCES registry_repositories(name) ON DELETE CASCADE,
    digest TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repository, digest)
  );
  CREATE INDEX registry_blobs_digest ON registry_blobs(digest);
  CREATE TABLE registry_manifests (
    repository TEXT COLLATE "C" NOT NULL REFERENCES registry_repositories(name) ON DELETE CASCADE,
    digest TEXT COLLATE "C" NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, digest)
  );
  CREATE INDEX registry_manifests_digest ON registry_manifests(digest);
  CREATE TABLE registry_tags (
    repository TEXT COLLATE "C" NOT NULL,
    tag TEXT COLLATE "C" NOT NULL,
    digest TEXT COLLATE "C" NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, tag),
    FOREIGN KEY (repository, digest) REFERENCES registry_manifests(repository, digest) ON DELETE CASCADE
  );
  `,
  `
  -- A job leased again remembers who held it before, so a build a lost worker left mid-way can name that worker.
  ALTER TABLE jobs ADD COLUMN previous_owner TEXT;
  `,
  `
  -- The nodes of a cluster (every kiln serve / kiln worker process, by its heartbeat) and the named leaderships that
  -- let one of them act per tick (the pipeline scheduler, the lifecycle runner). Times are the database's now().
  CREATE TABLE nodes (
    id TEXT COLLATE "C" PRIMARY KEY,
    host TEXT NOT NULL,
    roles TEXT NOT NULL,
    endpoint TEXT,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE leaderships (
    name TEXT COLLATE "C" PRIMARY KEY,
    owner TEXT NOT NULL,
    until TIMESTAMPTZ NOT NULL
  );
  `,
  `
  -- Issue 15, events across nodes. The log of image state changes, appended in the transaction of the change
  -- (under an advisory lock, so numbers commit in order); identity numbers are never reused after pruning.
  CREATE TABLE image_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    arn TEXT COLLATE "C" NOT NULL,
    account_id TEXT COLLATE "C" NOT NULL,
    region TEXT COLLATE "C" NOT NULL,
    status TEXT NOT NULL,
    previous_status TEXT,
    reason TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE INDEX image_events_created ON image_events(created_at);
  -- The durable notification outbox: one row per event and endpoint, leased with FOR UPDATE SKIP LOCKED.
  CREATE TABLE notification_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_seq BIGINT NOT NULL,
    endpoint TEXT COLLATE "C" NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'leased', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until TIMESTAMPTZ,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (event_seq, endpoint)
  );
  CREATE INDEX notification_deliveries_ready ON notification_deliveries(state, id);
  -- How far the event log has been considered for enqueueing: shared, so a restarted node resumes there. No row
  -- until the first move (a missing one reads as 0), so a freshly migrated store holds no rows at all.
  CREATE TABLE outbox_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL);
  `,
  `
  -- Issue 16, the step cache's index: what a build unit produced, under the sha256 of its inputs. The bytes live
  -- in the blob and disk stores; the garbage collector keeps what a row names and prunes rows least recently used.
  CREATE TABLE build_cache (
    key TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('layer', 'disk')),
    label TEXT NOT NULL,
    size BIGINT NOT NULL,
    entry TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL
  );
  CREATE INDEX build_cache_last_used ON build_cache(last_used_at);
  `,
  `
  -- Issue 18, each account's signing key (container signatures, machine-image disk digests): the private key sealed
  -- with the store's secret key, as access-key secrets are. One per account; the first one stored is kept.
  CREATE TABLE signing_keys (
    account_id TEXT COLLATE "C" PRIMARY KEY,
    private_sealed TEXT NOT NULL,
    public_pem TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  `,
  `
  -- Issue 18, the registry's referrers API: the manifest a manifest refers to (its OCI subject), when it has one.
  ALTER TABLE registry_manifests ADD COLUMN subject TEXT COLLATE "C";
  CREATE INDEX registry_manifests_subject ON registry_manifests(repository, subject);
  `,
];
