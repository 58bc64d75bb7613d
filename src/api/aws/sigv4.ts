import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { awsError } from './errors.js';
import { NodeSha256 } from './node-sha256.js';

/** The signing name of Image Builder: requests signed for another service are refused. */
export const SIGNING_SERVICE = 'imagebuilder';
/** AWS refuses a request whose date is further than this from the server's clock. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

/** What verification needs of a request: the raw path and body, exactly as they arrived. */
export interface SignedRequest {
  method: string;
  /** Path as sent, still percent-encoded, without the query string. */
  rawPath: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A secret looked up by access key id, with the account it belongs to. */
export interface AccessKeySecret {
  accountId: string;
  secretAccessKey: string;
  /** Called once a request signed with this key verified (Kiln records the key's last use). */
  verified?: () => void;
}

export interface VerifyOptions {
  lookup: (accessKeyId: string) => Promise<AccessKeySecret | undefined>;
  regions: ReadonlySet<string>;
  now?: Date;
  /**
   * The body is streamed past verification (an upload): the request must carry a signed
   * `x-amz-content-sha256: UNSIGNED-PAYLOAD`, as S3 takes it, and `body` is not checked.
   */
  unsignedPayload?: boolean;
}

/** The payload hash a streamed upload signs instead of its body's. */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** The authenticated caller of a request. */
export interface Caller {
  accountId: string;
  accessKeyId: string;
  region: string;
}


const AUTH_RE = /^AWS4-HMAC-SHA256\s+(.*)$/s;
const AMZ_DATE_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function parseAmzDate(value: string): Date | undefined {
  const m = AMZ_DATE_RE.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  const date = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function compact(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

function parseAuthorization(value: string): { credential: string[]; signedHeaders: string[]; signature: string } {
  const m = AUTH_RE.exec(value.trim());
  if (!m) throw awsError('IncompleteSignatureException', 'Authorization header must use the AWS4-HMAC-SHA256 algorithm.');
  const fields = new Map<string, string>();
  for (const part of (m[1] ?? '').split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  for (const name of ['Credential', 'SignedHeaders', 'Signature']) {
    if (!fields.get(name)) {
      throw awsError('IncompleteSignatureException', `Authorization header requires '${name}' parameter.`);
    }
  }
  const credential = fields.get('Credential')!.split('/');
  if (credential.length !== 5 || credential[4] !== 'aws4_request' || credential.some((c) => c === '')) {
    throw awsError('IncompleteSignatureException', "Credential must have the form 'key/date/region/service/aws4_request'.");
  }
  const signature = fields.get('Signature')!;
  if (!/^[0-9a-f]{64}$/.test(signature)) throw awsError('IncompleteSignatureException', 'Signature must be 64 hex digits.');
  return { credential, signedHeaders: fields.get('SignedHeaders')!.split(';'), signature };
}

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/**
 * Verifies a SigV4 (header) signature: rebuilds the canonical request from the signed headers, the raw path,
 * the query and the body, signs it with the key's secret and compares in constant time. Throws an AwsError
 * with the names AWS's front door uses; returns the caller on success.
 */
export async function verifySigV4(req: SignedRequest, options: VerifyOptions): Promise<Caller> {
  const authorization = header(req.headers, 'authorization');
  if (!authorization) {
    if (req.query.has('X-Amz-Signature')) {
      throw awsError('IncompleteSignatureException', 'Presigned URLs are not accepted; sign the Authorization header.');
    }
    throw awsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  const { credential, signedHeaders, signature } = parseAuthorization(authorization);
  const [accessKeyId, scopeDate, region, service] = credential as [string, string, string, string];

  const amzDate = header(req.headers, 'x-amz-date');
  if (!amzDate) {
    throw awsError('IncompleteSignatureException', "Authorization header requires existence of a 'X-Amz-Date' header.");
  }
  const signingDate = parseAmzDate(amzDate);
  if (!signingDate) throw awsError('IncompleteSignatureException', `X-Amz-Date '${amzDate}' is not in the form YYYYMMDDTHHMMSSZ.`);
  for (const required of ['host', 'x-amz-date']) {
    if (!signedHeaders.includes(required)) {
      throw awsError('IncompleteSignatureException', `'${required}' must be a 'SignedHeader' in the AWS Authorization.`);
    }
  }
  const now = options.now ?? new Date();
  const skew = signingDate.getTime() - now.getTime();
  if (skew < -MAX_CLOCK_SKEW_MS) {
    const limit = compact(new Date(now.getTime() - MAX_CLOCK_SKEW_MS));
    throw awsError('InvalidSignatureException', `Signature expired: ${amzDate} is now earlier than ${limit} (${compact(now)} - 15 min.)`);
  }
  if (skew > MAX_CLOCK_SKEW_MS) {
    const limit = compact(new Date(now.getTime() + MAX_CLOCK_SKEW_MS));
    throw awsError('InvalidSignatureException', `Signature not yet current: ${amzDate} is still later than ${limit} (${compact(now)} + 15 min.)`);
  }
  if (scopeDate !== amzDate.slice(0, 8)) {
    throw awsError('InvalidSignatureException', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDate.slice(0, 8)}'`);
  }
  if (service !== SIGNING_SERVICE) {
    throw awsError('InvalidSignatureException', `Credential should be scoped to correct service: '${SIGNING_SERVICE}'.`);
  }
  if (!options.regions.has(region)) {
    throw awsError('InvalidSignatureException', `Credential should be scoped to a valid region, not '${region}'. Configured regions: ${[...options.regions].join(', ')}.`);
  }

  // The lookup finds active keys only: a disabled or deleted key gets AWS's answer for an unknown one.
  const key = await options.lookup(accessKeyId);
  if (!key) throw awsError('UnrecognizedClientException', 'The security token included in the request is invalid.');

  // The signer trusts x-amz-content-sha256 as the payload hash, so a body altered under an unchanged header
  // would verify: check the header against the body we actually received.
  const claimed = header(req.headers, 'x-amz-content-sha256');
  if (options.unsignedPayload) {
    if (claimed !== UNSIGNED_PAYLOAD || !signedHeaders.includes('x-amz-content-sha256')) {
      throw awsError('InvalidSignatureException', `This route streams its body: sign it with the header x-amz-content-sha256: ${UNSIGNED_PAYLOAD}.`);
    }
  } else {
    const bodyHash = createHash('sha256').update(req.body).digest('hex');
    if (claimed !== undefined && claimed !== bodyHash) throw awsError('InvalidSignatureException', SIGNATURE_MISMATCH);
  }

  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const v = header(req.headers, name);
    if (v === undefined) throw awsError('InvalidSignatureException', `Signed header '${name}' is missing from the request.`);
    headers[name] = v;
  }
  const query: Record<string, string | string[]> = {};
  for (const name of new Set(req.query.keys())) {
    const values = req.query.getAll(name);
    query[name] = values.length === 1 ? values[0]! : values;
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey: key.secretAccessKey },
    region,
    service: SIGNING_SERVICE,
    sha256: NodeSha256,
    applyChecksum: false,
  });
  const request = new HttpRequest({ method: req.method, hostname: 'unused', path: req.rawPath, query, headers, body: req.body });
  const signed = await signer.sign(request, { signingDate, signableHeaders: new Set(signedHeaders) });
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))?.[1] ?? '';
  if (expected.length !== signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
    throw awsError('InvalidSignatureException', SIGNATURE_MISMATCH);
  }
  key.verified?.();
  return { accountId: key.accountId, accessKeyId, region };
}
