/**
 * Each account's signing key: the ECDSA key Kiln signs the account's images with (container signatures in the
 * sigstore format, machine-image disk digests). The private half is sealed with the store's SecretBox, as access-key
 * secrets are; the public half is plain, since anyone verifying needs it.
 */

/** An account's signing key pair, both halves PEM (PKCS#8 private, SPKI public). */
export interface SigningKeyRecord {
  accountId: string;
  privateKeyPem: string;
  publicKeyPem: string;
  createdAt: string;
}

/** Signing keys: at most one per account, never replaced once stored. */
export interface SigningKeys {
  /** The account's key pair, or undefined when it has none yet. */
  getSigningKey(accountId: string): Promise<SigningKeyRecord | undefined>;
  /**
   * Stores `key` as the account's unless it has one already, and returns the one stored: the first writer wins,
   * so two processes creating a key at once both end up with the same one.
   */
  addSigningKey(key: { accountId: string; privateKeyPem: string; publicKeyPem: string }): Promise<SigningKeyRecord>;
}
