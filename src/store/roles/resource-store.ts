/**
 * Resources of every family, keyed by ARN, with their policies and grants; creates and updates are idempotent
 * by client token.
 */

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

/** What createResource answers: the record, and whether this call created it. */
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

/** Resources, their policies and grants, and idempotent creates; what the service layer and the build engine read and write. */
export interface ResourceStore {
  /**
   * Inserts a resource. With an idempotency key, a repeated token with the same input returns the first
   * record (`created: false`) and a different input throws IdempotencyMismatch; concurrent calls with one
   * token create exactly one resource. A duplicate ARN throws AlreadyExists. With `enqueue`, a queued job of
   * that kind for the new resource is created in the same transaction, so a resource never lacks its job.
   */
  createResource(resource: NewResource, idempotency?: IdempotencyKey, options?: { enqueue?: string }): Promise<CreateResult>;
  /** The resource with this exact ARN (build node included), or undefined. */
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
  /** The policy last put on a resource; undefined when none was, or the resource does not exist. */
  getResourcePolicy(arn: string): Promise<string | undefined>;
  /** Resources of one type in a region that other accounts granted to `grantee` (directly or through `*`). */
  listGrantedResources(query: { grantee: string; region: string; type: string }): Promise<ResourceRecord[]>;
}
