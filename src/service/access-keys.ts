/**
 * Administration of access keys (`kiln accounts keys`): list, create, disable, enable and delete an account's
 * keys, with IAM's rules (any key may go) except that the admin account's last active key is kept unless forced,
 * so an admin cannot lock themselves out by accident.
 */
import { KilnError, isKilnError } from '../domain/errors.js';
import type { AccessKey, AccessKeyStatus, Account, NewAccessKey, Store } from '../store/store.js';
import { generateKeyPair } from './accounts.js';

const ACCOUNT_ID_RE = /^\d{12}$/;

/**
 * The account `ref` names: a 12-digit account id, else an account name. NotFound naming `ref` when there is
 * none; InvalidArgument when several accounts share the name (then the id must be used).
 */
export async function findAccount(store: Store, ref: string): Promise<Account> {
  if (ACCOUNT_ID_RE.test(ref)) {
    const account = await store.getAccount(ref);
    if (account) return account;
  }
  const named = (await store.listAccounts()).filter((a) => a.name === ref);
  if (named.length === 1) return named[0]!;
  if (named.length > 1) {
    throw new KilnError('InvalidArgument', `account name '${ref}' is shared by accounts ${named.map((a) => a.accountId).join(', ')}: name the account by its id`);
  }
  throw new KilnError('NotFound', `account '${ref}' does not exist (give an account id or name, see kiln accounts list)`);
}

/** An account's key `accessKeyId`; NotFound naming both when the account has no such key. */
async function findKey(store: Store, account: Account, accessKeyId: string): Promise<AccessKey> {
  const key = (await store.listAccessKeys(account.accountId)).find((k) => k.accessKeyId === accessKeyId);
  if (!key) throw new KilnError('NotFound', `access key '${accessKeyId}' is not a key of account ${account.accountId} (${account.name})`);
  return key;
}

/** The outcome of a change to a key, with a warning for the caller to show when the account lost its last active key. */
export interface KeyChange {
  account: Account;
  key: AccessKey;
  warning?: string;
}

/**
 * Throws Conflict when taking `key` out of service would leave the admin account without an active key and
 * `force` is not set; returns a warning when any account is left without one.
 */
async function checkLastActive(store: Store, account: Account, key: AccessKey, action: string, force: boolean): Promise<string | undefined> {
  if (key.status !== 'Active') return undefined;
  const others = (await store.listAccessKeys(account.accountId)).filter((k) => k.status === 'Active' && k.accessKeyId !== key.accessKeyId);
  if (others.length > 0) return undefined;
  if (account.admin && !force) {
    throw new KilnError(
      'Conflict',
      `access key '${key.accessKeyId}' is the last active key of the admin account ${account.accountId}: ${action} it would lock the admin out of the API, the console and the registry. ` +
        `Create another first (kiln accounts keys create ${account.accountId}), or pass --force`,
    );
  }
  return `account ${account.accountId} (${account.name}) has no active access key left`;
}

/** The account and its keys, oldest first. */
export async function listKeys(store: Store, ref: string): Promise<{ account: Account; keys: AccessKey[] }> {
  const account = await findAccount(store, ref);
  return { account, keys: await store.listAccessKeys(account.accountId) };
}

/** Adds a fresh active key pair to the account, retrying on the (unlikely) collision of random ids. */
export async function createKey(store: Store, ref: string): Promise<{ account: Account; key: NewAccessKey }> {
  const account = await findAccount(store, ref);
  for (let attempt = 0; ; attempt++) {
    const pair = generateKeyPair();
    try {
      return { account, key: await store.addAccessKey(account.accountId, pair.accessKeyId, pair.secretAccessKey) };
    } catch (err) {
      if (!isKilnError(err, 'AlreadyExists') || attempt >= 5) throw err;
    }
  }
}

/** Makes one of the account's keys Active or Inactive; disabling the admin's last active key needs `force`. */
export async function setKeyStatus(store: Store, ref: string, accessKeyId: string, status: AccessKeyStatus, options: { force?: boolean } = {}): Promise<KeyChange> {
  const account = await findAccount(store, ref);
  const key = await findKey(store, account, accessKeyId);
  const warning = status === 'Inactive' ? await checkLastActive(store, account, key, 'disabling', options.force === true) : undefined;
  const changed = await store.setAccessKeyStatus(accessKeyId, status);
  return { account, key: changed, ...(warning ? { warning } : {}) };
}

/** Deletes one of the account's keys for good; deleting the admin's last active key needs `force`. */
export async function deleteKey(store: Store, ref: string, accessKeyId: string, options: { force?: boolean } = {}): Promise<KeyChange> {
  const account = await findAccount(store, ref);
  const key = await findKey(store, account, accessKeyId);
  const warning = await checkLastActive(store, account, key, 'deleting', options.force === true);
  if (!(await store.deleteAccessKey(accessKeyId))) throw new KilnError('NotFound', `access key '${accessKeyId}' was deleted meanwhile`);
  return { account, key, ...(warning ? { warning } : {}) };
}
