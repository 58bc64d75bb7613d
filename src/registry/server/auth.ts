/**
 * Who is calling the built-in registry: HTTP Basic with a Kiln access key id as the user name and its secret as
 * the password (what `docker login`, skopeo `--creds` and podman send), or nobody.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { RegistryError } from './errors.js';

/** The challenge that makes Docker-style clients retry with their credentials. */
export const BASIC_CHALLENGE = 'Basic realm="kiln"';

export function unauthorized(message: string): RegistryError {
  return new RegistryError('UNAUTHORIZED', message, undefined, { headers: { 'www-authenticate': BASIC_CHALLENGE } });
}

function sameSecret(a: string, b: string): boolean {
  // Hashing first gives equal lengths, so the comparison time says nothing about the secret.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** Finds the secret of an active access key (undefined for an unknown or disabled one). */
export type RegistryKeyLookup = (accessKeyId: string) => Promise<{ accountId: string; secretAccessKey: string; verified?: () => void } | undefined>;

/**
 * The account behind an `Authorization` header, or undefined for an anonymous request (no header, or empty
 * Basic credentials).
 * UNAUTHORIZED for another scheme, a malformed header, an unknown or disabled key or a wrong secret.
 */
export async function authenticate(lookupKey: RegistryKeyLookup, authorization: string | undefined): Promise<string | undefined> {
  if (authorization === undefined || authorization.trim() === '') return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  if (!m?.[1]) throw unauthorized('only HTTP Basic authentication with a Kiln access key is supported');
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw unauthorized('malformed Basic credentials');
  const keyId = decoded.slice(0, colon);
  const secret = decoded.slice(colon + 1);
  // Clients told to use no credentials (skopeo --no-creds) still answer a Basic challenge, with empty ones.
  if (keyId === '' && secret === '') return undefined;
  const found = await lookupKey(keyId);
  if (!found || !sameSecret(found.secretAccessKey, secret)) throw unauthorized('invalid access key id or secret');
  found.verified?.();
  return found.accountId;
}
