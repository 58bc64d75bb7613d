/** What a registry handler sees of a request and gives back, independent of the HTTP framework. */
import type { IncomingHttpHeaders } from 'node:http';
import { RegistryError } from './errors.js';

export interface RegistryRequest {
  method: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The request body as it arrives (never buffered by the framework); undefined when there is none. */
  body: AsyncIterable<Uint8Array> | undefined;
  /** The authenticated account, or undefined for an anonymous caller. */
  accountId: string | undefined;
  /** Aborted when the client goes away before the response is sent. */
  signal: AbortSignal;
}

export interface RegistryResponse {
  status: number;
  headers?: Record<string, string>;
  /** A JSON value, bytes, or a byte stream (blob downloads); nothing for HEAD and most writes. */
  body?: unknown;
}

/** `?n=` of a paginated listing: a non-negative integer, or undefined. */
export function pageSize(query: URLSearchParams): number | undefined {
  const n = query.get('n');
  if (n === null || n === '') return undefined;
  if (!/^\d{1,6}$/.test(n)) throw new RegistryError('PAGINATION_NUMBER_INVALID', `n must be a non-negative integer, got ${JSON.stringify(n)}`);
  return Number(n);
}

/** The `Link` header of a listing page that may continue after `last`. */
export function nextLink(path: string, n: number | undefined, items: readonly string[]): Record<string, string> {
  const last = items[items.length - 1];
  if (n === undefined || n === 0 || items.length < n || last === undefined) return {};
  return { link: `<${path}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"` };
}

/** Reads a small body (a manifest) into memory, refusing more than `limit` bytes with 413. */
export async function readSmallBody(body: AsyncIterable<Uint8Array> | undefined, limit: number, signal: AbortSignal): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    signal.throwIfAborted();
    size += chunk.byteLength;
    if (size > limit) throw new RegistryError('SIZE_INVALID', `the body is larger than ${limit} bytes`, undefined, { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
