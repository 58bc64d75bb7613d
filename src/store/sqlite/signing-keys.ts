/** The SigningKeys role on SQLite. */
import type Database from 'better-sqlite3';
import { asPromise } from './as-promise.js';
import type { SecretBox } from '../secret-box.js';
import type { SigningKeyRecord, SigningKeys } from '../roles/signing-keys.js';
import { toSigningKey, type SigningKeyRow } from '../sql/signing-key-rows.js';

/** The SigningKeys methods over one open database; the store class delegates to them. */
export function sqliteSigningKeys(db: Database.Database, secrets: SecretBox): SigningKeys {
  const get = db.prepare('SELECT * FROM signing_keys WHERE account_id = ?');
  // DO NOTHING keeps the first key: a second process that lost the race reads the winner's back.
  const add = db.prepare('INSERT INTO signing_keys (account_id, private_sealed, public_pem, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (account_id) DO NOTHING');
  const read = (accountId: string): SigningKeyRecord | undefined => {
    const row = get.get(accountId) as SigningKeyRow | undefined;
    return row && toSigningKey(row, secrets);
  };
  return {
    getSigningKey: (accountId: string) => asPromise(() => read(accountId)),
    addSigningKey: (key: { accountId: string; privateKeyPem: string; publicKeyPem: string }) =>
      asPromise(() => {
        add.run(key.accountId, secrets.seal(key.privateKeyPem), key.publicKeyPem, new Date().toISOString());
        return read(key.accountId)!;
      }),
  };
}
