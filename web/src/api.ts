/**
 * The console's only way to Kiln: the stock Image Builder SDK client for API operations, and SigV4-signed
 * fetches for Kiln's own routes under /kiln/ (logs, events, pipeline history). Both go to the origin that served
 * the page, so the console can do nothing the API would refuse.
 */
import { ImagebuilderClient } from '@aws-sdk/client-imagebuilder';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Session } from './session';

let cached: { session: Session; client: ImagebuilderClient } | undefined;

/** The SDK client for a session (one per session, reused). */
export function imagebuilder(session: Session): ImagebuilderClient {
  if (cached?.session === session) return cached.client;
  cached?.client.destroy();
  const client = new ImagebuilderClient({
    endpoint: window.location.origin,
    region: session.region,
    credentials: { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey },
    maxAttempts: 1,
  });
  cached = { session, client };
  return client;
}

export interface KilnRequest {
  method?: 'GET' | 'POST' | 'DELETE';
  /** A path under the origin, e.g. /kiln/logs. */
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** A SigV4-signed request to one of Kiln's own routes; the raw Response (streams stay streams). */
export async function kilnFetch(session: Session, request: KilnRequest): Promise<Response> {
  const url = new URL(request.path, window.location.origin);
  const body = request.body === undefined ? undefined : JSON.stringify(request.body);
  const signer = new SignatureV4({
    service: 'imagebuilder',
    region: session.region,
    credentials: { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey },
    sha256: Sha256,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: request.method ?? 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: request.query ?? {},
      headers: { host: url.host, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body }),
    }),
  );
  const query = new URLSearchParams(request.query ?? {}).toString();
  const headers: Record<string, string> = { ...request.headers };
  // The browser sets Host itself; every other signed header goes as signed.
  for (const [k, v] of Object.entries(signed.headers)) if (k.toLowerCase() !== 'host') headers[k] = v;
  return fetch(`${url.origin}${url.pathname}${query ? `?${query}` : ''}`, {
    method: request.method ?? 'GET',
    headers,
    ...(body === undefined ? {} : { body }),
    ...(request.signal ? { signal: request.signal } : {}),
  });
}

/** kilnFetch for JSON answers; throws an ApiError with the AWS error name on a non-2xx answer. */
export async function kilnJson<T>(session: Session, request: KilnRequest): Promise<T> {
  const res = await kilnFetch(session, request);
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw apiErrorOf(res, body);
  return body as T;
}

/** kilnFetch for a file (an SBOM, say); throws an ApiError with the AWS error name on a non-2xx answer. */
export async function kilnBlob(session: Session, request: KilnRequest): Promise<Blob> {
  const res = await kilnFetch(session, request);
  if (!res.ok) throw apiErrorOf(res, (await res.json().catch(() => ({}))) as Record<string, unknown>);
  return res.blob();
}

function apiErrorOf(res: Response, body: Record<string, unknown>): ApiError {
  return new ApiError(String(body.__type ?? `HTTP ${res.status}`), String(body.message ?? res.statusText));
}

/** An error answered by Kiln, with its AWS error name. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

/** One problem the API named: a field path (as in the request, e.g. `schedule.scheduleExpression`) and why. */
export interface FieldIssue {
  path: string;
  message: string;
}

/**
 * The field problems in an API error message. Kiln's validation errors read "The X is invalid:" followed by one
 * "  path: message" line per problem; other errors have none (show their whole message).
 */
export function fieldIssues(err: unknown): FieldIssue[] {
  const message = err instanceof Error ? err.message : String(err);
  const out: FieldIssue[] = [];
  for (const line of message.split('\n').slice(1)) {
    const m = /^\s+([^:\s][^:]*?):\s(.*)$/.exec(line);
    if (m) out.push({ path: m[1]!, message: m[2]! });
  }
  return out;
}

/** The message to show for any error: the AWS error name and Kiln's message. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name && err.name !== 'Error' ? `${err.name}: ` : ''}${err.message}`;
  return String(err);
}
