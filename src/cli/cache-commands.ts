/**
 * `kiln cache ls [--json]` and `kiln cache prune [--all] [--keep-storage SIZE] [--json]`: the step cache (issue
 * 16) through `GET /kiln/cache` and `POST /kiln/cache/prune`, as `docker buildx du` and `docker builder prune`
 * show and free BuildKit's. Prune removes the caller's entries, least recently used first; the layers and disks
 * they named are freed by the server's next garbage collection, which the output says. `--json` prints the
 * routes' field names.
 */
import type { Command } from 'commander';
import { formatBytes } from '../app/store-migrate/progress-lines.js';
import { parseByteSize } from './byte-sizes.js';
import { cliAction, kilnRequest, routeError, routeTarget, UsageError, withServerOptions, type ServerTargetOptions } from './kiln-client.js';
import { printJson, printTable } from './table.js';

interface Entry {
  key: string;
  accountId?: string;
  kind: string;
  label: string;
  size: number;
  createdAt: string;
  lastUsedAt: string;
}

/** The first hex digits of a key, as `docker images` shortens an id. */
const shortKey = (key: string): string => key.slice(0, 12);

/** Adds `kiln cache` to the CLI. */
export function registerCacheCommands(program: Command): void {
  const cache = program.command('cache').description("the step cache of recipes tagged kiln:cache=true: each component's layer, reused by later builds");

  withServerOptions(cache.command('ls').description('list cache entries, most recently used first (the admin account sees every account)').option('--json', 'print a JSON array')).action(
    cliAction('kiln cache ls', async (opts: ServerTargetOptions & { json?: boolean }) => {
      const { status, body } = await kilnRequest(routeTarget(opts), { method: 'GET', path: '/kiln/cache' });
      if (status !== 200) throw routeError(status, body, 'listing the step cache');
      const entries = (body.entries ?? []) as Entry[];
      if (opts.json) {
        printJson(entries);
        return;
      }
      const withAccount = entries.some((e) => e.accountId !== undefined);
      printTable(
        [
          ...(withAccount ? [{ header: 'ACCOUNT', value: (e: Entry) => e.accountId ?? '-' }] : []),
          { header: 'KEY', value: (e) => shortKey(e.key) },
          { header: 'KIND', value: (e) => e.kind },
          { header: 'SIZE', value: (e) => formatBytes(e.size) },
          { header: 'LAST USED', value: (e) => e.lastUsedAt },
          { header: 'CREATED', value: (e) => e.createdAt },
          { header: 'LABEL', value: (e) => e.label },
        ],
        entries,
        'no step cache entries',
      );
      if (entries.length > 0) process.stderr.write(`${entries.length} entries, ${formatBytes(Number(body.totalBytes ?? 0))}\n`);
    }),
  );

  withServerOptions(
    cache
      .command('prune')
      .description("remove this account's cache entries, least recently used first; their layers go at the next garbage collection")
      .option('--all', 'remove every entry')
      .option('--keep-storage <size>', 'remove entries until the rest keep at most SIZE (bytes, or with k, m, g, t: powers of 1024)')
      .option('--json', 'print {"removed","bytes","note"}'),
  ).action(
    cliAction('kiln cache prune', async (opts: ServerTargetOptions & { all?: boolean; keepStorage?: string; json?: boolean }) => {
      if (opts.all && opts.keepStorage !== undefined) throw new UsageError('give --all or --keep-storage, not both');
      let request: { all: true } | { keepBytes: number };
      if (opts.all) request = { all: true };
      else if (opts.keepStorage !== undefined) {
        const keepBytes = parseByteSize(opts.keepStorage);
        if (keepBytes === undefined) throw new UsageError(`--keep-storage: ${JSON.stringify(opts.keepStorage)} is not a size (e.g. 512, 100m, 10g)`);
        request = { keepBytes };
      } else throw new UsageError('give --all to remove every entry, or --keep-storage SIZE to keep the most recently used that fit');
      const { status, body } = await kilnRequest(routeTarget(opts), { method: 'POST', path: '/kiln/cache/prune', body: request });
      if (status !== 200) throw routeError(status, body, 'pruning the step cache');
      if (opts.json) {
        printJson(body);
        return;
      }
      const removed = (body.removed ?? []) as Entry[];
      for (const e of removed) process.stdout.write(`deleted ${shortKey(e.key)}  ${e.label}\n`);
      process.stdout.write(`removed ${removed.length} entries, ${formatBytes(Number(body.bytes ?? 0))}; ${String(body.note ?? 'their layers are freed by the next garbage collection')}\n`);
    }),
  );
}
