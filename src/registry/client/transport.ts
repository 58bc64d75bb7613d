/**
 * HTTP to one registry host: the scheme (plain HTTP for insecure hosts), authentication (anonymous, Basic,
 * or the Bearer token flow with tokens cached per scope), redirects for downloads (credentials are not sent
 * to another origin), and registry errors as KilnErrors naming what was asked.
 *
 * Requests go through fetch, except streamed uploads: Node 20's fetch (undici 6) holds a streamed request
 * body in memory (a 256 MiB layer grew the process by 255 MiB), so those go through node:http(s).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { KilnError, errorMessage, type ErrorKind } from '../../domain/errors.js';
import { parseChallenges, type Challenge } from './challenge.js';

/** How to reach a host; unknown hosts are HTTPS and anonymous. */
export interface HostSettings {
  host: string;
  insecure: boolean;
  username?: string;
  password?: string;
}

export interface TransportRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** A path on the registry (`/v2/…`), or an absolute URL (an upload Location). */
  url: string;
  headers?: Record<string, string>;
  /**
   * Makes the body: bytes, or a stream (sent through node:http without buffering). Called again when the
   * request is retried after an auth challenge.
   */
  body?: () => Promise<Uint8Array | AsyncIterable<Uint8Array>>;
  /** Token scopes the request needs (`repository:<name>:pull[,push]`). */
  scopes: readonly string[];
  signal?: AbortSignal;
  /** Follow redirects (downloads); other requests return the 3xx response. */
  follow?: boolean;
}

const MAX_REDIRECTS = 5;
/** Tokens are renewed this long before they expire, so a request never carries one that lapses in flight. */
const TOKEN_MARGIN_MS = 10_000;
/** docker distribution's default when a token response names no lifetime. */
const DEFAULT_TOKEN_SECONDS = 60;
const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);

function kindOfStatus(status: number): ErrorKind {
  if (status === 401 || status === 403) return 'Forbidden';
  if (status === 404) return 'NotFound';
  if (status === 429 || status >= 500) return 'Unavailable';
  if (status >= 400) return 'InvalidArgument';
  return 'Internal';
}

/** A registry's error response as a KilnError: `what` says what was asked, the body's errors say why. */
export async function responseError(res: Response, what: string): Promise<KilnError> {
  let detail = '';
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[]; details?: string };
    detail = body.errors?.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ') ?? body.details ?? '';
  } catch {
    detail = text.slice(0, 200);
  }
  return new KilnError(kindOfStatus(res.status), `${what}: HTTP ${res.status}${detail ? ` (${detail})` : ''}`);
}

/** `repository:a/b:pull,push` → its parts; other shapes are kept whole. */
function scopeParts(scope: string): { resource: string; actions: string[] } {
  const last = scope.lastIndexOf(':');
  return last < 0 ? { resource: scope, actions: [] } : { resource: scope.slice(0, last), actions: scope.slice(last + 1).split(',') };
}

/** Whether `held` already grants what `wanted` asks (same resource, a superset of its actions). */
function covers(held: readonly string[], wanted: string): boolean {
  const w = scopeParts(wanted);
  return held.some((h) => {
    const p = scopeParts(h);
    return p.resource === w.resource && w.actions.every((a) => p.actions.includes(a));
  });
}

function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(' ');
}

function isStream(body: Uint8Array | AsyncIterable<Uint8Array>): body is AsyncIterable<Uint8Array> {
  return !(body instanceof Uint8Array);
}

/** One registry host as the client sees it: its auth state and token cache live here. */
export class RegistryTransport {
  readonly baseUrl: string;
  /** The host's challenge, learnt from `GET /v2/` on first use (undefined: no auth asked for). */
  private challenge: Challenge | undefined;
  private pinged: Promise<void> | undefined;
  private readonly tokens = new Map<string, Promise<{ token: string; expiresAt: number }>>();

  constructor(private readonly settings: HostSettings) {
    this.baseUrl = `${settings.insecure ? 'http' : 'https'}://${settings.host}`;
  }

  private get basic(): string | undefined {
    const { username, password } = this.settings;
    return username === undefined ? undefined : `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
  }

  /** Sends a request, answering one auth challenge; the caller checks the status. */
  async request(req: TransportRequest): Promise<Response> {
    await this.ping(req.signal);
    const first = await this.authorization(req.scopes, req.signal);
    const res = await this.send(req, first);
    if (res.status !== 401) return res;
    const challenges = parseChallenges(res.headers.get('www-authenticate') ?? '');
    const challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    if (!challenge) return res;
    this.challenge = challenge;
    // The challenge may ask for more than we knew to ask for (a mount's source repository, a catalog).
    const scopes = [...req.scopes];
    for (const s of (challenge.params.scope ?? '').split(' ')) if (s && !covers(scopes, s)) scopes.push(s);
    const retry = await this.authorization(scopes, req.signal, first);
    // Nothing new to offer (no credentials, or the same ones refused): the 401 is the answer.
    if (retry === undefined || retry === first) return res;
    await res.body?.cancel().catch(() => undefined);
    return this.send(req, retry);
  }

  /** `GET /v2/` once per host, as Docker clients do, so that concurrent requests start with the right auth. */
  private ping(signal: AbortSignal | undefined): Promise<void> {
    this.pinged ??= (async () => {
      const res = await this.send({ method: 'GET', url: '/v2/', scopes: [], ...(signal ? { signal } : {}) }, undefined);
      await res.body?.cancel().catch(() => undefined);
      if (res.status !== 401) return;
      const challenges = parseChallenges(res.headers.get('www-authenticate') ?? '');
      this.challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    })().catch((err: unknown) => {
      this.pinged = undefined;
      throw err;
    });
    return this.pinged;
  }

  private async send(req: TransportRequest, authorization: string | undefined): Promise<Response> {
    let url = new URL(req.url, this.baseUrl);
    const origin = url.origin;
    const body = req.body ? await req.body() : undefined;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { ...req.headers };
      // Credentials go only to the registry itself, never to the storage a download is redirected to.
      if (authorization !== undefined && url.origin === origin) headers.authorization = authorization;
      let res: Response;
      try {
        res =
          body !== undefined && isStream(body)
            ? await this.sendStream(url, req, headers, body)
            : await fetch(url, { method: req.method, headers, ...(body !== undefined ? { body: body as Uint8Array<ArrayBuffer> } : {}), redirect: 'manual', ...(req.signal ? { signal: req.signal } : {}) });
      } catch (err) {
        if (req.signal?.aborted) throw new KilnError('Cancelled', `${req.method} ${url.href} was cancelled`, [], { cause: err });
        const cause = (err as { cause?: unknown }).cause;
        throw new KilnError('Unavailable', `cannot reach registry ${this.settings.host} (${req.method} ${url.pathname}): ${errorMessage(cause ?? err)}`, [], { cause: err });
      }
      const location = res.headers.get('location');
      if (!req.follow || ![301, 302, 303, 307, 308].includes(res.status) || location === null) return res;
      if (hop >= MAX_REDIRECTS) throw new KilnError('Unavailable', `${req.method} ${req.url} on ${this.settings.host}: more than ${MAX_REDIRECTS} redirects`);
      await res.body?.cancel().catch(() => undefined);
      url = new URL(location, url);
    }
  }

  /** A streamed request through node:http(s), answered as a fetch Response. */
  private sendStream(url: URL, req: TransportRequest, headers: Record<string, string>, body: AsyncIterable<Uint8Array>): Promise<Response> {
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<Response>((resolve, reject) => {
      const outgoing = mod.request(url, { method: req.method, headers, ...(req.signal ? { signal: req.signal } : {}) }, (incoming) => {
        const status = incoming.statusCode ?? 500;
        const h = new Headers();
        for (const [name, value] of Object.entries(incoming.headers)) {
          for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) h.append(name, v);
        }
        const stream = NULL_BODY_STATUS.has(status) ? null : (Readable.toWeb(incoming) as unknown as ReadableStream<Uint8Array>);
        if (stream === null) incoming.resume();
        resolve(new Response(stream, { status, headers: h }));
      });
      // A server may answer (say 401) before reading the whole body; the answer is what counts then.
      pipeline(Readable.from(body), outgoing).catch(reject);
    });
  }

  /**
   * The Authorization header for these scopes under the host's challenge, fetching a token when needed. With
   * `refused`, a cached token equal to it is not offered again.
   */
  private async authorization(scopes: readonly string[], signal: AbortSignal | undefined, refused?: string): Promise<string | undefined> {
    const challenge = this.challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') return this.basic;
    if (challenge.scheme !== 'bearer' || !challenge.params.realm) return undefined;
    const key = scopeKey(scopes);
    const cached = this.tokens.get(key);
    if (cached) {
      const token = await cached.catch(() => undefined);
      if (token && token.expiresAt > Date.now() && `Bearer ${token.token}` !== refused) return `Bearer ${token.token}`;
      if (this.tokens.get(key) === cached) this.tokens.delete(key);
    }
    let pending = this.tokens.get(key);
    if (!pending) {
      // One request per scope at a time: concurrent blob transfers share the token being fetched.
      pending = this.fetchToken(challenge, scopes, signal);
      this.tokens.set(key, pending);
      pending.catch(() => {
        if (this.tokens.get(key) === pending) this.tokens.delete(key);
      });
    }
    return `Bearer ${(await pending).token}`;
  }

  private async fetchToken(challenge: Challenge, scopes: readonly string[], signal: AbortSignal | undefined): Promise<{ token: string; expiresAt: number }> {
    const realm = new URL(challenge.params.realm!);
    if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
    for (const scope of scopes) realm.searchParams.append('scope', scope);
    if (this.settings.username !== undefined) realm.searchParams.set('account', this.settings.username);
    const headers: Record<string, string> = {};
    if (this.basic !== undefined) headers.authorization = this.basic;
    let res: Response;
    try {
      res = await fetch(realm, { headers, ...(signal ? { signal } : {}) });
    } catch (err) {
      if (signal?.aborted) throw new KilnError('Cancelled', `token request to ${realm.origin} was cancelled`, [], { cause: err });
      throw new KilnError('Unavailable', `cannot reach the token server ${realm.origin} of ${this.settings.host}: ${errorMessage((err as { cause?: unknown }).cause ?? err)}`, [], { cause: err });
    }
    if (!res.ok) throw await responseError(res, `token server ${realm.origin} for ${this.settings.host} (scope ${scopes.join(' ') || 'none'})`);
    const body = (await res.json()) as { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new KilnError('Unavailable', `token server ${realm.origin} for ${this.settings.host} returned no token`);
    const issued = body.issued_at ? Date.parse(body.issued_at) : NaN;
    const start = Number.isFinite(issued) ? Math.min(issued, Date.now()) : Date.now();
    const seconds = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_SECONDS;
    return { token, expiresAt: start + seconds * 1000 - TOKEN_MARGIN_MS };
  }
}

/** For callers that hand a web stream to Node code. */
export function nodeStream(body: ReadableStream<Uint8Array>): Readable {
  return Readable.fromWeb(body as unknown as WebReadableStream<Uint8Array>);
}
