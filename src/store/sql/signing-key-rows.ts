import type { SecretBox } from '../secret-box.js';
import type { SigningKeyRecord } from '../roles/signing-keys.js';

/** A row of the signing_keys table, as both backends read it. */
export interface SigningKeyRow {
  account_id: string;
  private_sealed: string;
  public_pem: string;
  created_at: string | Date;
}

/** The record a row holds, with its private key unsealed. */
export function toSigningKey(row: SigningKeyRow, secrets: SecretBox): SigningKeyRecord {
  const createdAt = row.created_at instanceof Date ? row.created_at.toISOString() : row.created_at;
  return { accountId: row.account_id, privateKeyPem: secrets.open(row.private_sealed), publicKeyPem: row.public_pem, createdAt };
}
