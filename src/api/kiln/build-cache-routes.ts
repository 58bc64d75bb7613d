/**
 * Kiln's step cache routes (issue 16), SigV4-signed like the API:
 *   GET  /kiln/cache                        the caller's account's entries, most recently used first (the admin
 *                                           account sees every account's, each with its accountId)
 *   POST /kiln/cache/prune {all?, keepBytes?}  removes the caller's entries, least recently used first, until
 *                                           they keep at most keepBytes alive, or all of them; answers what went
 * Removing an entry frees no bytes by itself: the layers and disks it named are garbage for the next collection.
 */
import type { FastifyInstance } from 'fastify';
import { pruneBuildCache } from '../../lifecycle/build-cache-prune.js';
import type { AccountStore } from '../../store/roles/account-store.js';
import type { BuildCache, BuildCacheEntry } from '../../store/roles/build-cache.js';
import { awsError, toAwsError } from '../aws/errors.js';
import { jsonBody, sendAwsError } from './kept-instance-actions.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';

export const CACHE_PATH = '/kiln/cache';
export const CACHE_PRUNE_PATH = '/kiln/cache/prune';

/** What the caller is told about freeing, in both answers' `note`. */
export const CACHE_FREED_NOTE = 'the layers and disks of removed entries are freed by the next garbage collection';

/** One entry as the routes answer it (and `kiln cache ls --json` prints it); accountId only for the admin. */
export interface CacheEntryView {
  key: string;
  accountId?: string;
  kind: BuildCacheEntry['kind'];
  label: string;
  size: number;
  createdAt: string;
  lastUsedAt: string;
}

/** `POST /kiln/cache/prune`'s answer. */
export interface CachePruneView {
  removed: CacheEntryView[];
  /** Bytes the removed entries kept alive. */
  bytes: number;
  note: string;
}

export interface BuildCacheRouteDeps extends SignedRouteAuth {
  store: Pick<BuildCache, 'listCacheEntries' | 'deleteCacheEntries'> & Pick<AccountStore, 'getAccount'>;
}

const view = (e: BuildCacheEntry, withAccount: boolean): CacheEntryView => ({
  key: e.key,
  ...(withAccount ? { accountId: e.accountId } : {}),
  kind: e.kind,
  label: e.label,
  size: e.size,
  createdAt: e.createdAt,
  lastUsedAt: e.lastUsedAt,
});

/** The prune request's body: `{all: true}` or `{keepBytes: N}`, one of them; errors name the field. */
function pruneRequest(body: Record<string, unknown>): { keepBytes: number } {
  for (const key of Object.keys(body)) if (key !== 'all' && key !== 'keepBytes') throw awsError('InvalidParameterException', `${key}: unknown field; the body is {all?: boolean, keepBytes?: number}.`);
  const { all, keepBytes } = body;
  if (all !== undefined && typeof all !== 'boolean') throw awsError('InvalidParameterValueException', 'all: must be true or false.');
  if (keepBytes !== undefined && (typeof keepBytes !== 'number' || !Number.isSafeInteger(keepBytes) || keepBytes < 0)) {
    throw awsError('InvalidParameterValueException', 'keepBytes: must be a whole number of bytes, 0 or more.');
  }
  if (all === true && keepBytes !== undefined) throw awsError('InvalidParameterCombinationException', 'all and keepBytes: give one of them, not both.');
  if (all !== true && keepBytes === undefined) throw awsError('InvalidParameterException', 'all or keepBytes: give one of them ({"all": true} removes every entry of the account).');
  return { keepBytes: all === true ? 0 : (keepBytes as number) };
}

export function registerBuildCacheRoutes(app: FastifyInstance, deps: BuildCacheRouteDeps): void {
  app.get(CACHE_PATH, async (req, reply) => {
    try {
      const who = await signedCaller(req, deps);
      const admin = (await deps.store.getAccount(who.accountId))?.admin === true;
      const entries = await deps.store.listCacheEntries(admin ? {} : { accountId: who.accountId });
      return reply
        .code(200)
        .header('x-amzn-RequestId', req.id)
        .type('application/json')
        .send({ entries: entries.map((e) => view(e, admin)), totalBytes: entries.reduce((n, e) => n + e.size, 0) });
    } catch (err) {
      return sendAwsError(reply, toAwsError(err));
    }
  });

  app.post(CACHE_PRUNE_PATH, async (req, reply) => {
    try {
      const who = await signedCaller(req, deps);
      const { keepBytes } = pruneRequest(jsonBody(req));
      const pruned = await pruneBuildCache(deps.store, { keepBytes, accountId: who.accountId });
      const answer: CachePruneView = { removed: pruned.removed.map((e) => view(e, false)), bytes: pruned.bytes, note: CACHE_FREED_NOTE };
      return reply.code(200).header('x-amzn-RequestId', req.id).type('application/json').send(answer);
    } catch (err) {
      return sendAwsError(reply, toAwsError(err));
    }
  });
}
