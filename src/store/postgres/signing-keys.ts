/** The SigningKeys role on PostgreSQL. */
import type pg from 'pg';
import type { SecretBox } from '../secret-box.js';
import type { SigningKeyRecord, SigningKeys } from '../roles/signing-keys.js';
import { toSigningKey, type SigningKeyRow } from '../sql/signing-key-rows.js';

/** The SigningKeys methods over a pool; the store class delegates to them. */
export function postgresSigningKeys(pool: Pick<pg.Pool, 'query'>, secrets: SecretBox): SigningKeys {
  const read = async (accountId: string): Promise<SigningKeyRecord | undefined> => {
    const { rows } = await pool.query<SigningKeyRow>('SELECT * FROM signing_keys WHERE account_id = $1', [accountId]);
    return rows[0] && toSigningKey(rows[0], secrets);
  };
  return {
    getSigningKey: read,
    async addSigningKey(key: { accountId: string; privateKeyPem: string; publicKeyPem: string }): Promise<SigningKeyRecord> {
      // DO NOTHING keeps the first key: a node that lost the race reads the winner's back (committed, so visible).
      await pool.query('INSERT INTO signing_keys (account_id, private_sealed, public_pem) VALUES ($1, $2, $3) ON CONFLICT (account_id) DO NOTHING', [
        key.accountId,
        secrets.seal(key.privateKeyPem),
        key.publicKeyPem,
      ]);
      return (await read(key.accountId))!;
    },
  };
}
