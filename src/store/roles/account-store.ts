/**
 * The accounts and their access keys: who may sign requests, to the API and to the registry (Basic auth).
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

/** Accounts and access keys; what authentication and the account admin commands need. */
export interface AccountStore {
  /** Creates an account with its first access key, atomically. */
  createAccount(input: { name: string; admin?: boolean; accountId: string; accessKeyId: string; secretAccessKey: string }): Promise<{ account: Account; key: NewAccessKey }>;
  /** Every account, oldest first. */
  listAccounts(): Promise<Account[]>;
  /** The account, or undefined for an unknown id. */
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
}
