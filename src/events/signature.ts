/**
 * The signature on Kiln's webhook deliveries. SNS signs with Amazon's certificates, which Kiln cannot have; Kiln
 * signs instead with a secret shared with each endpoint (set in the server configuration):
 *
 *   x-kiln-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *
 * To verify a delivery, a receiver takes the raw request body (the exact bytes, before any JSON parsing), reads
 * `t` and every `v1` from the header, computes HMAC-SHA256 with its secret over `t`, a dot and the body, compares
 * it with a `v1` in constant time, and refuses a `t` further than a few minutes from its clock (a replayed
 * delivery). `verifySignature` below does exactly that.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header carrying the signature. */
export const SIGNATURE_HEADER = 'x-kiln-signature';

function hmac(secret: string, timestamp: number, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** The header value for `body` signed at `nowMs` (default: now). */
export function signBody(secret: string, body: string | Buffer, nowMs = Date.now()): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${hmac(secret, t, body)}`;
}

/**
 * True when `header` (a `x-kiln-signature` value) signs `body` with `secret` and its time is within
 * `toleranceSeconds` of `nowMs`. Any malformed header is simply not valid; it never throws.
 */
export function verifySignature(secret: string, header: string | undefined, body: string | Buffer, toleranceSeconds: number, nowMs = Date.now()): boolean {
  if (typeof header !== 'string') return false;
  let t: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) t = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) candidates.push(value);
  }
  if (t === undefined || candidates.length === 0) return false;
  if (Math.abs(nowMs / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(hmac(secret, t, body), 'hex');
  return candidates.some((c) => timingSafeEqual(Buffer.from(c, 'hex'), expected));
}
