/**
 * What a Kiln process does (`kiln serve --roles api,scheduler,worker`): `api` serves the Image Builder API, the
 * console, the registry and Kiln's own routes; `scheduler` runs the pipeline scheduler and the lifecycle runner
 * (each acting once per tick across the cluster, see store/leadership.ts); `worker` leases and runs builds.
 */
import { hostname } from 'node:os';
import { NODE_ROLES, type NodeRole } from '../store/roles/cluster-nodes.js';

/** Every role: a process alone on its store, as `kiln serve` without `--roles` runs. */
export const ALL_ROLES: readonly NodeRole[] = NODE_ROLES;

/** Parses a comma-separated role list; the error names `flag` and what it accepts. Order and repeats do not matter. */
export function parseRoles(text: string, flag = '--roles'): NodeRole[] {
  const names = text.split(',').map((r) => r.trim());
  const unknown = names.filter((r) => !(NODE_ROLES as readonly string[]).includes(r));
  if (names.length === 0 || unknown.length > 0 || text.trim() === '') {
    const what = text.trim() === '' ? 'an empty list' : `'${unknown.join("', '")}'`;
    throw new Error(`${flag} takes a comma-separated list of ${NODE_ROLES.join(', ')}; got ${what}`);
  }
  return NODE_ROLES.filter((r) => names.includes(r));
}

/**
 * The roles a server runs: `roles` when given, else what the older switches say (`builds: false` drops the
 * worker; `scheduler` defaults to whether builds run), so servers started without roles behave as before.
 */
export function resolveRoles(options: { roles?: readonly NodeRole[]; builds?: boolean; scheduler?: boolean }): NodeRole[] {
  if (options.roles) {
    if (options.roles.length === 0) throw new Error('roles: give at least one of api, scheduler, worker');
    return NODE_ROLES.filter((r) => options.roles!.includes(r));
  }
  const builds = options.builds !== false;
  const scheduling = options.scheduler ?? builds;
  return NODE_ROLES.filter((r) => r === 'api' || (r === 'worker' && builds) || (r === 'scheduler' && scheduling));
}

/**
 * The base URL other nodes reach a listener at, from the address it listens on: a wildcard address (0.0.0.0,
 * ::) is not reachable as such, so the host name stands in for it.
 */
export function advertisedUrl(listen: { host: string; port: number }, tls: boolean): string {
  const wildcard = listen.host === '0.0.0.0' || listen.host === '::' || listen.host === '[::]';
  const host = wildcard ? hostname() : listen.host;
  return `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${listen.port}`;
}

/** Checks an `--advertise` URL: http(s), with a host, no path beyond `/`; answers it without a trailing slash. */
export function parseAdvertise(text: string, flag = '--advertise'): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${flag} must be a URL such as http://worker-1.example:8421, got '${text}'`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || (url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.username !== '') {
    throw new Error(`${flag} must be an http(s) base URL with a host and no path, query or credentials, got '${text}'`);
  }
  return `${url.protocol}//${url.host}`;
}
