/**
 * The Store: Kiln's durable state behind one interface, so that SQLite (embedded) and PostgreSQL (scale-out)
 * are interchangeable. Every backend must pass the conformance suite in ./testsuite/. Methods that change
 * several rows do it atomically; records are plain data.
 */

/** A Kiln account: AWS's 12-digit account, owner of resources and access keys. */
export interface Account {
  accountId: string;
  name: string;
  admin: boolean;
  createdAt: string;
}

/** Whether a key may sign requests, with IAM's names: an `Inactive` key is refused everywhere, and can be made `Active` again. */
export type AccessKeyStatus = 'Active' | 'Inactive';

/** An access key as listed: the secret is never part of it. */
export interface AccessKey {
  accessKeyId: string;
  accountId: string;
  status: AccessKeyStatus;
  createdAt: string;
  /** When the key last signed an accepted request (recorded at most about once a minute); undefined if never. */
  lastUsedAt: string | undefined;
}

/** A freshly created access key; the only moment the secret leaves the store in a listing-like call. */
export interface NewAccessKey extends AccessKey {
  secretAccessKey: string;
}

/** One stored resource of any family (component, image recipe, ...), keyed by its ARN. */
export interface ResourceRecord {
  arn: string;
  accountId: string;
  region: string;
  /** Resource family, the ARN's resource type: `component`, `image-recipe`, ... */
  type: string;
  /** Name slug as it appears in the ARN. */
  name: string;
  /** `major.minor.patch` for versioned families, `''` otherwise. */
  version: string;
  /** Build number for families with build versions, 0 otherwise. */
  build: number;
  /** The family's own fields, as JSON-compatible data. */
  data: Record<string, unknown>;
  createdAt: string;
}

/** A resource to insert; the store assigns the build number and the creation time. */
export interface NewResource {
  accountId: string;
  region: string;
  type: string;
  name: string;
  version: string;
  /** ARN without the build node; with `build: 'assign'` the store appends `/<build>`. */
  arn: string;
  data: Record<string, unknown>;
  /**
   * `none`: unversioned by build (the ARN is final). `assign`: next build number of (name, version).
   * `first`: build 1, and an existing (name, version) is an AlreadyExists error.
   */
  build: 'none' | 'assign' | 'first';
}

/** Makes a create idempotent: the same token with the same input hash returns the first result. */
export interface IdempotencyKey {
  operation: string;
  token: string;
  /** Hash of the request's parameters (without the token). */
  inputHash: string;
}

export interface CreateResult {
  record: ResourceRecord;
  /** False when an earlier request with the same client token created it. */
  created: boolean;
}

/** Selects resources of one family visible under one account and region. */
export interface ResourceQuery {
  accountId: string;
  region: string;
  type: string;
  name?: string;
  version?: string;
}

/** A unit of background work on one resource (e.g. `build-image` for an image ARN). */
export interface Job {
  id: number;
  kind: string;
  resourceArn: string;
  state: 'queued' | 'leased' | 'done' | 'failed' | 'cancelled';
  leaseOwner: string | undefined;
  /** ISO time after which a leased job may be taken by another worker. */
  leaseUntil: string | undefined;
  attempts: number;
  createdAt: string;
  updatedAt: string;
}

/** A repository of Kiln's built-in OCI registry. Names are unique across the whole registry. */
export interface RegistryRepository {
  name: string;
  /** The owner: the account that first pushed to the name (or that Kiln created it for); the only writer. */
  accountId: string;
  /** Readable by everyone, anonymous callers included. */
  public: boolean;
  /** Other accounts that may read, sorted. */
  readers: string[];
  createdAt: string;
}

/** A manifest held in a registry repository (its bytes are a blob under `digest`). */
export interface RegistryManifest {
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  createdAt: string;
}

export interface Store {
  /** Creates an account with its first access key, atomically. */
  createAccount(input: { name: string; admin?: boolean; accountId: string; accessKeyId: string; secretAccessKey: string }): Promise<{ account: Account; key: NewAccessKey }>;
  listAccounts(): Promise<Account[]>;
  getAccount(accountId: string): Promise<Account | undefined>;
  /** Adds an `Active` key to an account. NotFound for an unknown account, AlreadyExists for a taken key id. */
  addAccessKey(accountId: string, accessKeyId: string, secretAccessKey: string): Promise<NewAccessKey>;
  /** Every key of an account, active or not, oldest first; empty for an unknown account. */
  listAccessKeys(accountId: string): Promise<AccessKey[]>;
  /**
   * The secret of an `Active` access key, for authentication (SigV4, the registry's Basic auth); undefined for
   * an unknown or `Inactive` key, so no caller can accept a disabled key by forgetting to check.
   */
  getAccessKeySecret(accessKeyId: string): Promise<{ accountId: string; secretAccessKey: string } | undefined>;
  /** Makes a key `Active` or `Inactive` (a repeat is a no-op) and returns it. NotFound for an unknown key. */
  setAccessKeyStatus(accessKeyId: string, status: AccessKeyStatus): Promise<AccessKey>;
  /** Deletes a key for good; false when it did not exist. */
  deleteAccessKey(accessKeyId: string): Promise<boolean>;
  /**
   * Records that a key signed an accepted request at `at` (ISO time). An earlier `at` than the one recorded
   * changes nothing, and an unknown (e.g. just deleted) key is ignored. Callers throttle: this writes.
   */
  recordAccessKeyUse(accessKeyId: string, at: string): Promise<void>;

  /**
   * Inserts a resource. With an idempotency key, a repeated token with the same input returns the first
   * record (`created: false`) and a different input throws IdempotencyMismatch; concurrent calls with one
   * token create exactly one resource. A duplicate ARN throws AlreadyExists. With `enqueue`, a queued job of
   * that kind for the new resource is created in the same transaction, so a resource never lacks its job.
   */
  createResource(resource: NewResource, idempotency?: IdempotencyKey, options?: { enqueue?: string }): Promise<CreateResult>;
  getResource(arn: string): Promise<ResourceRecord | undefined>;
  /** Matching resources ordered by name, then version (numerically), then build. */
  listResources(query: ResourceQuery): Promise<ResourceRecord[]>;
  /** Every resource of one family across all accounts and regions (the scheduler's and lifecycle runner's view). */
  listResourcesOfType(type: string): Promise<ResourceRecord[]>;
  /**
   * Replaces a resource's data atomically. `change` gets the stored record and returns the new data; it runs
   * inside the transaction, so it must be synchronous and do no I/O (it may throw to abort). With an idempotency
   * key, a repeated token with the same input returns the first result and changes nothing; a different input
   * throws IdempotencyMismatch. Throws NotFound when the ARN does not exist.
   */
  updateResource(arn: string, change: (current: ResourceRecord) => Record<string, unknown>, idempotency?: IdempotencyKey): Promise<ResourceRecord>;
  /** Deletes by ARN, with its policy and grants; false when it did not exist. */
  deleteResource(arn: string): Promise<boolean>;
  /**
   * Applies several changes in one transaction (each as updateResource without idempotency); a change that
   * returns undefined leaves its record alone, and an ARN that no longer exists is skipped. Returns the records
   * written.
   */
  updateResources(changes: readonly { arn: string; change: (current: ResourceRecord) => Record<string, unknown> | undefined }[]): Promise<ResourceRecord[]>;

  /**
   * Sets a resource's policy and the accounts it grants access to (`*` for all), replacing earlier ones
   * atomically. NotFound when the resource does not exist.
   */
  putResourcePolicy(arn: string, policy: string, grantees: readonly string[]): Promise<void>;
  getResourcePolicy(arn: string): Promise<string | undefined>;
  /** Resources of one type in a region that other accounts granted to `grantee` (directly or through `*`). */
  listGrantedResources(query: { grantee: string; region: string; type: string }): Promise<ResourceRecord[]>;

  /** Queues a job for a resource. */
  enqueueJob(kind: string, resourceArn: string): Promise<Job>;
  /**
   * Leases the oldest job of the given kinds that is queued, or leased with an expired lease, to `owner` for
   * `leaseMs`; undefined when none is ready. Two workers never hold the same job at once.
   */
  leaseJob(kinds: readonly string[], owner: string, leaseMs: number): Promise<Job | undefined>;
  /** Extends a lease still held by `owner`; false when the lease was lost. */
  renewJob(id: number, owner: string, leaseMs: number): Promise<boolean>;
  /** Ends a job held by `owner` (or a queued one, for `cancelled`); false when it was not theirs to end. */
  finishJob(id: number, owner: string | undefined, state: 'done' | 'failed' | 'cancelled'): Promise<boolean>;
  listJobs(query: { resourceArn?: string; state?: Job['state'] }): Promise<Job[]>;

  /**
   * The repository `name`, created owned by `accountId` when it does not exist yet (`created`). Of concurrent
   * first claims exactly one creates it; the others get that record, whoever owns it.
   */
  claimRegistryRepository(name: string, accountId: string): Promise<{ repository: RegistryRepository; created: boolean }>;
  getRegistryRepository(name: string): Promise<RegistryRepository | undefined>;
  /**
   * Repositories `reader` may read (its own, shared with it, public ones; only public ones for undefined, the
   * anonymous reader), in name order, after the name `after`, at most `limit`.
   */
  listRegistryRepositories(query: { reader: string | undefined; after?: string; limit?: number }): Promise<RegistryRepository[]>;
  /** Replaces the readers and/or the public flag (whichever is given), atomically; NotFound for an unknown repository. */
  setRegistryRepositoryAccess(name: string, access: { readers?: readonly string[]; public?: boolean }): Promise<RegistryRepository>;
  /** Records blobs as part of a repository; repeats are no-ops. NotFound for an unknown repository. */
  linkRegistryBlobs(repository: string, digests: readonly string[]): Promise<void>;
  hasRegistryBlob(repository: string, digest: string): Promise<boolean>;
  /** Removes a blob from a repository (not from the blob store); false when it was not linked. */
  unlinkRegistryBlob(repository: string, digest: string): Promise<boolean>;
  /**
   * Records a manifest in one transaction: the blobs it references are linked to the repository, and `tag`,
   * when given, points at it. `manifests` (an index's children) must already be in the repository, else
   * NotFound naming the first missing digest and nothing changes. NotFound for an unknown repository.
   */
  putRegistryManifest(input: { repository: string; digest: string; mediaType: string; size: number; blobs: readonly string[]; manifests?: readonly string[]; tag?: string }): Promise<RegistryManifest>;
  /** The manifest a tag or a digest (`sha256:…`) names in a repository. */
  getRegistryManifest(repository: string, reference: string): Promise<RegistryManifest | undefined>;
  /** Tags of a repository in lexical order, after `after`, at most `limit`. */
  listRegistryTags(repository: string, query?: { after?: string; limit?: number }): Promise<string[]>;
  /** Deletes a manifest from a repository with every tag pointing at it; false when it was not there. */
  deleteRegistryManifest(repository: string, digest: string): Promise<boolean>;
  deleteRegistryTag(repository: string, tag: string): Promise<boolean>;
  /** Every manifest of every repository (garbage collection's roots in the registry), by repository and digest. */
  listRegistryManifests(): Promise<RegistryManifest[]>;
  /** Every blob digest some repository links (uploaded, mounted or named by a manifest there), once each, sorted. */
  listLinkedRegistryBlobs(): Promise<string[]>;

  close(): Promise<void>;
}
