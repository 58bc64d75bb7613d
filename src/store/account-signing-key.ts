/**
 * An account's signing key, made on first need: an ECDSA P-256 key (what cosign and containers/image's sigstore
 * verification expect), generated here and stored through the SigningKeys role, whose first-writer-wins insert
 * means that processes racing to make one all use the winner's.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { SigningKeyRecord, SigningKeys } from './roles/signing-keys.js';

/** The account's signing key pair, created and stored when it has none yet. */
export async function accountSigningKey(store: SigningKeys, accountId: string): Promise<SigningKeyRecord> {
  const existing = await store.getSigningKey(accountId);
  if (existing) return existing;
  const pair = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return store.addSigningKey({ accountId, privateKeyPem: pair.privateKey, publicKeyPem: pair.publicKey });
}
