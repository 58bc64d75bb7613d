import { randomBytes, randomInt } from 'node:crypto';
import { isKilnError } from '../domain/errors.js';
import type { Account, NewAccessKey, Store } from '../store/store.js';

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A random 12-digit account id, as AWS's. */
export function generateAccountId(): string {
  return Array.from({ length: 12 }, () => String(randomInt(10))).join('');
}

/** An access key id in AWS's shape (`AKIA` + 16 base-32 characters) and a 40-character secret. */
export function generateKeyPair(): { accessKeyId: string; secretAccessKey: string } {
  const id = Array.from({ length: 16 }, () => KEY_ALPHABET[randomInt(KEY_ALPHABET.length)]).join('');
  return { accessKeyId: `AKIA${id}`, secretAccessKey: randomBytes(30).toString('base64') };
}

/** Creates an account with a fresh key pair, retrying on the (unlikely) collision of random ids. */
export async function createAccount(store: Store, name: string, options: { admin?: boolean } = {}): Promise<{ account: Account; key: NewAccessKey }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9 _.@-]{0,127}$/.test(name)) {
    throw new Error(`invalid account name '${name}': use 1-128 letters, digits, spaces, '_', '.', '@' or '-'`);
  }
  for (let attempt = 0; ; attempt++) {
    try {
      return await store.createAccount({ name, admin: options.admin === true, accountId: generateAccountId(), ...generateKeyPair() });
    } catch (err) {
      if (!isKilnError(err, 'AlreadyExists') || attempt >= 5) throw err;
    }
  }
}

/** The admin account, created on first start; `created` tells whether this call made it. */
export async function ensureAdmin(store: Store): Promise<{ account: Account; created: boolean }> {
  const existing = (await store.listAccounts()).find((a) => a.admin);
  if (existing) return { account: existing, created: false };
  const { account } = await createAccount(store, 'admin', { admin: true });
  return { account, created: true };
}
