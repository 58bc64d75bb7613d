/**
 * The rows both SQL backends read, and how each becomes the Store's plain record. The backends store the same
 * columns; they differ only in what a driver hands back for times (SQLite's ISO text, PostgreSQL's Date) and
 * booleans (SQLite's 0/1), which the mappers accept in either form.
 */
import type { AccessKey, AccessKeyStatus, Account, Job, RegistryManifest, RegistryRepository, ResourceRecord } from '../store.js';

/** A time column as a driver returns it. */
export type StoredTime = string | Date;
/** A boolean column as a driver returns it. */
export type StoredFlag = boolean | number;

const iso = (t: StoredTime): string => (typeof t === 'string' ? t : t.toISOString());
const isoOrUndefined = (t: StoredTime | null): string | undefined => (t === null ? undefined : iso(t));
const flag = (v: StoredFlag): boolean => v === true || v === 1;

export interface AccountRow {
  account_id: string;
  name: string;
  admin: StoredFlag;
  created_at: StoredTime;
}
export const toAccount = (r: AccountRow): Account => ({ accountId: r.account_id, name: r.name, admin: flag(r.admin), createdAt: iso(r.created_at) });

/** The columns of an access key that may be listed (never the sealed secret). */
export const ACCESS_KEY_COLUMNS = 'access_key_id, account_id, status, created_at, last_used_at';
export interface AccessKeyRow {
  access_key_id: string;
  account_id: string;
  status: AccessKeyStatus;
  created_at: StoredTime;
  last_used_at: StoredTime | null;
}
export const toAccessKey = (r: AccessKeyRow): AccessKey => ({
  accessKeyId: r.access_key_id,
  accountId: r.account_id,
  status: r.status,
  createdAt: iso(r.created_at),
  lastUsedAt: isoOrUndefined(r.last_used_at),
});

export interface ResourceRow {
  arn: string;
  account_id: string;
  region: string;
  type: string;
  name: string;
  version: string;
  build: number;
  /** The family's JSON as text. */
  data: string;
  created_at: StoredTime;
}
export const toRecord = (r: ResourceRow): ResourceRecord => ({
  arn: r.arn,
  accountId: r.account_id,
  region: r.region,
  type: r.type,
  name: r.name,
  version: r.version,
  build: r.build,
  data: JSON.parse(r.data) as Record<string, unknown>,
  createdAt: iso(r.created_at),
});

export interface JobRow {
  id: number;
  kind: string;
  resource_arn: string;
  state: Job['state'];
  lease_owner: string | null;
  lease_until: StoredTime | null;
  previous_owner: string | null;
  attempts: number;
  created_at: StoredTime;
  updated_at: StoredTime;
}
export const toJob = (r: JobRow): Job => ({
  id: r.id,
  kind: r.kind,
  resourceArn: r.resource_arn,
  state: r.state,
  leaseOwner: r.lease_owner ?? undefined,
  leaseUntil: isoOrUndefined(r.lease_until),
  previousOwner: r.previous_owner ?? undefined,
  attempts: r.attempts,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

export interface RegistryRepositoryRow {
  name: string;
  account_id: string;
  public: StoredFlag;
  created_at: StoredTime;
}
export const toRegistryRepository = (r: RegistryRepositoryRow, readers: string[]): RegistryRepository => ({
  name: r.name,
  accountId: r.account_id,
  public: flag(r.public),
  readers,
  createdAt: iso(r.created_at),
});

export interface RegistryManifestRow {
  repository: string;
  digest: string;
  media_type: string;
  size: number;
  created_at: StoredTime;
  subject: string | null;
}
export const toRegistryManifest = (r: RegistryManifestRow): RegistryManifest => ({
  repository: r.repository,
  digest: r.digest,
  mediaType: r.media_type,
  size: r.size,
  createdAt: iso(r.created_at),
  ...(r.subject ? { subject: r.subject } : {}),
});
