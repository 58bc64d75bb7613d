/**
 * The regions the server is configured with, from `GET /kiln/regions` (unsigned, so the sign-in form can offer
 * them before it has a key): the console offers these instead of asking for a region name to be typed.
 */
import { useEffect, useState } from 'react';

let loading: Promise<string[]> | undefined;

async function load(): Promise<string[]> {
  const res = await fetch(new URL('/kiln/regions', window.location.origin));
  const body = (await res.json().catch(() => ({}))) as { regions?: unknown; message?: unknown };
  if (!res.ok || !Array.isArray(body.regions)) throw new Error(`the server did not list its regions (HTTP ${res.status}${typeof body.message === 'string' ? `: ${body.message}` : ''})`);
  return body.regions.map(String);
}

/** The configured regions, the default first; asked once per page load (the configuration is read at startup), again after a failure. */
export function configuredRegions(): Promise<string[]> {
  loading ??= load().catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

export interface Regions {
  regions?: string[];
  error?: string;
}

/** configuredRegions as state: neither field while it loads. */
export function useConfiguredRegions(): Regions {
  const [state, setState] = useState<Regions>({});
  useEffect(() => {
    let current = true;
    configuredRegions().then(
      (regions) => current && setState({ regions }),
      (err: unknown) => current && setState({ error: err instanceof Error ? err.message : String(err) }),
    );
    return () => {
      current = false;
    };
  }, []);
  return state;
}
