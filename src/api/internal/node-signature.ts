/**
 * The signature of requests between the nodes of a Kiln cluster (the internal channel: an API node forwarding a
 * kept instance's routes to the worker that holds it). Every node derives the same HMAC key from the cluster's
 * shared `secretKeyFile`, so a node needs no other credential, and a tenant's access key can never sign one.
 *
 * A signed request carries three headers:
 *   x-kiln-node-time       Unix milliseconds when it was signed
 *   x-kiln-node-nonce      16 random bytes, hex
 *   x-kiln-node-signature  hex HMAC-SHA256 of
 *     KILN-NODE-HMAC-SHA256 \n METHOD \n path-and-query \n time \n nonce \n sender node id \n hex sha256(body)
 * and x-kiln-node-id, the sender (signed too). The receiver refuses a time more than five minutes from its own
 * clock and a nonce it has seen within that window, so a captured request cannot be replayed.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const SCHEME = 'KILN-NODE-HMAC-SHA256';
export const NODE_TIME_HEADER = 'x-kiln-node-time';
export const NODE_NONCE_HEADER = 'x-kiln-node-nonce';
export const NODE_SIGNATURE_HEADER = 'x-kiln-node-signature';
export const NODE_ID_HEADER = 'x-kiln-node-id';

/** How far a signature's time may be from the receiver's clock, either way. */
export const NODE_SIGNATURE_SKEW_MS = 5 * 60_000;

/** What a signature covers. `path` is the request target as sent: path and query string. */
export interface SignedParts {
  method: string;
  path: string;
  body: Buffer;
}

/** Why a request was refused; the message is safe to send back (it names no secret). */
export class NodeSignatureError extends Error {
  override readonly name = 'NodeSignatureError';
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? undefined : value;
}

/** Signs and verifies internal requests with one shared key; remembers the nonces it accepted. */
export class NodeSigner {
  /** Nonces accepted, with the time they carried, for as long as that time is within the window. */
  private readonly seen = new Map<string, number>();

  /**
   * `key`: the cluster's shared HMAC key (at least 32 bytes); `nodeId`: this node, named in what it signs;
   * `now`: the clock (tests move it).
   */
  constructor(
    private readonly key: Buffer,
    readonly nodeId: string,
    private readonly now: () => number = Date.now,
  ) {
    if (key.length < 32) throw new Error('the node signing key must be at least 32 bytes');
  }

  private mac(parts: SignedParts, time: string, nonce: string, sender: string): Buffer {
    const bodyHash = createHash('sha256').update(parts.body).digest('hex');
    const text = [SCHEME, parts.method.toUpperCase(), parts.path, time, nonce, sender, bodyHash].join('\n');
    return createHmac('sha256', this.key).update(text).digest();
  }

  /** The headers that make `parts` a signed internal request from this node. */
  sign(parts: SignedParts): Record<string, string> {
    const time = String(this.now());
    const nonce = randomBytes(16).toString('hex');
    return {
      [NODE_TIME_HEADER]: time,
      [NODE_NONCE_HEADER]: nonce,
      [NODE_ID_HEADER]: this.nodeId,
      [NODE_SIGNATURE_HEADER]: this.mac(parts, time, nonce, this.nodeId).toString('hex'),
    };
  }

  /**
   * The sending node's id when the request is signed with the shared key, within the time window, and its nonce
   * is new; throws NodeSignatureError naming the header at fault otherwise.
   */
  verify(parts: SignedParts, headers: Record<string, string | string[] | undefined>): string {
    const time = header(headers, NODE_TIME_HEADER);
    const nonce = header(headers, NODE_NONCE_HEADER);
    const sender = header(headers, NODE_ID_HEADER);
    const signature = header(headers, NODE_SIGNATURE_HEADER);
    if (time === undefined || nonce === undefined || sender === undefined || signature === undefined) {
      throw new NodeSignatureError(`an internal request must carry ${NODE_TIME_HEADER}, ${NODE_NONCE_HEADER}, ${NODE_ID_HEADER} and ${NODE_SIGNATURE_HEADER}`);
    }
    if (!/^\d{1,15}$/.test(time)) throw new NodeSignatureError(`${NODE_TIME_HEADER}: must be Unix milliseconds`);
    if (!/^[0-9a-f]{32}$/.test(nonce)) throw new NodeSignatureError(`${NODE_NONCE_HEADER}: must be 32 hex digits`);
    const now = this.now();
    const signedAt = Number(time);
    if (Math.abs(now - signedAt) > NODE_SIGNATURE_SKEW_MS) throw new NodeSignatureError(`${NODE_TIME_HEADER}: the signature is stale or from the future (more than 5 minutes from this node's clock)`);
    const given = /^[0-9a-f]{64}$/.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0);
    const expected = this.mac(parts, time, nonce, sender);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new NodeSignatureError(`${NODE_SIGNATURE_HEADER}: does not match the request (another cluster key, or the request was changed)`);
    // Checked after the signature, so that unsigned noise cannot fill the memory of nonces.
    this.forgetExpired(now);
    if (this.seen.has(nonce)) throw new NodeSignatureError(`${NODE_NONCE_HEADER}: this request was seen already (a replay)`);
    this.seen.set(nonce, signedAt);
    return sender;
  }

  private forgetExpired(now: number): void {
    for (const [nonce, signedAt] of this.seen) {
      if (Math.abs(now - signedAt) > NODE_SIGNATURE_SKEW_MS) this.seen.delete(nonce);
    }
  }
}
