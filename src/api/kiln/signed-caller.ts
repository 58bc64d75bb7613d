/**
 * SigV4 verification for Kiln's own routes under `/kiln/` (not Image Builder operations, but signed and
 * authorised like them, so one set of credentials works everywhere). A route that streams its body (an upload)
 * passes `unsignedPayload`: the signature then covers method, path, query and headers.
 */
import type { FastifyRequest } from 'fastify';
import { verifySigV4, type AccessKeySecret } from '../aws/sigv4.js';

export interface SignedRouteAuth {
  lookupKey: (accessKeyId: string) => Promise<AccessKeySecret | undefined>;
  regions: ReadonlySet<string>;
}

/** The account and region a request is signed for; throws the AWS authentication error otherwise. */
export async function signedCaller(req: FastifyRequest, auth: SignedRouteAuth, options: { unsignedPayload?: boolean } = {}): Promise<{ accountId: string; region: string }> {
  const url = req.raw.url ?? '/';
  const q = url.indexOf('?');
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  return verifySigV4(
    { method: req.method, rawPath: q < 0 ? url : url.slice(0, q), query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)), headers: req.headers, body },
    { lookup: auth.lookupKey, regions: auth.regions, ...(options.unsignedPayload ? { unsignedPayload: true } : {}) },
  );
}
