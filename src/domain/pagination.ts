import { createHash } from 'node:crypto';
import { KilnError } from './errors.js';
import { str, type JsonObject } from './json.js';

/** The model's bounds for `maxResults` on every paginated list. */
export const MIN_PAGE_SIZE = 1;
export const MAX_PAGE_SIZE = 25;

interface TokenBody {
  v: 1;
  /** Position of the next item in the query's ordered result. */
  o: number;
  /** Fingerprint of the query, so a token cannot be replayed against another list. */
  q: string;
}

/** A short stable fingerprint of a list query (operation, filters, caller). */
export function queryFingerprint(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 16);
}

export function encodePageToken(offset: number, fingerprint: string): string {
  const body: TokenBody = { v: 1, o: offset, q: fingerprint };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

/** Decodes a token made by encodePageToken for the same query; anything else is InvalidPaginationToken. */
export function decodePageToken(token: string, fingerprint: string): number {
  const invalid = () => new KilnError('InvalidPaginationToken', 'The nextToken is not valid for this request.');
  let body: Partial<TokenBody>;
  try {
    body = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<TokenBody>;
  } catch {
    throw invalid();
  }
  if (typeof body !== 'object' || body === null || body.v !== 1 || body.q !== fingerprint || !Number.isSafeInteger(body.o) || (body.o ?? -1) < 0) {
    throw invalid();
  }
  return body.o!;
}

/** One page of an ordered list, with the token of the next page when there is one. */
export function paginate<T>(items: readonly T[], request: { maxResults?: number; nextToken?: string }, fingerprint: string): { items: T[]; nextToken?: string } {
  const size = request.maxResults ?? MAX_PAGE_SIZE;
  if (!Number.isInteger(size) || size < MIN_PAGE_SIZE || size > MAX_PAGE_SIZE) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter 'maxResults' is not valid: it must be an integer from ${MIN_PAGE_SIZE} to ${MAX_PAGE_SIZE}.`, [
      { path: 'maxResults', message: `must be ${MIN_PAGE_SIZE}-${MAX_PAGE_SIZE}` },
    ]);
  }
  const start = request.nextToken === undefined ? 0 : decodePageToken(request.nextToken, fingerprint);
  const page = items.slice(start, start + size);
  const next = start + size;
  return next < items.length ? { items: page, nextToken: encodePageToken(next, fingerprint) } : { items: page };
}

/** paginate over a List request's own `maxResults` and `nextToken`, for the query `parts` name. */
export function pageOfRequest<T>(items: readonly T[], input: JsonObject, parts: unknown[]): { items: T[]; nextToken?: string } {
  return paginate(items, { maxResults: input.maxResults as number | undefined, nextToken: str(input.nextToken) }, queryFingerprint(parts));
}
