/**
 * The date of a Debian suite as its mirror publishes it (the `Date:` field of `dists/<suite>/Release`): the
 * SOURCE_DATE_EPOCH of a base bootstrapped from that mirror state, so that the same mirror content gives the
 * same image.
 */
import { KilnError } from '../../domain/errors.js';

/** How long the mirror may take to answer. */
const FETCH_TIMEOUT_MS = 30_000;

/** Seconds since the epoch of the Release file's `Date:` field. Unavailable when the mirror cannot be reached. */
export async function releaseEpoch(mirror: string, suite: string, signal?: AbortSignal): Promise<number> {
  const url = `${mirror.replace(/\/+$/, '')}/dists/${suite}/Release`;
  const timeout = AbortSignal.timeout(FETCH_TIMEOUT_MS);
  let text: string;
  try {
    const res = await fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    if (!res.ok) throw new KilnError('Unavailable', `mirror ${url} answered ${res.status} ${res.statusText}`);
    text = await res.text();
  } catch (err) {
    if (signal?.aborted) throw new KilnError('Cancelled', 'reading the mirror Release file was cancelled', [], { cause: err });
    if (err instanceof KilnError) throw err;
    throw new KilnError('Unavailable', `cannot read ${url}: ${(err as Error).message}`, [], { cause: err });
  }
  return parseReleaseDate(text, url);
}

/** The `Date:` field of a Release file in seconds; InvalidArgument naming `source` when it is missing or bad. */
export function parseReleaseDate(release: string, source: string): number {
  const field = /^Date:\s*(.+)$/m.exec(release)?.[1]?.trim();
  const ms = field === undefined ? NaN : Date.parse(field);
  if (!Number.isFinite(ms)) throw new KilnError('InvalidArgument', `${source} has no valid Date field${field ? ` (${JSON.stringify(field)})` : ''}`);
  return Math.floor(ms / 1000);
}
