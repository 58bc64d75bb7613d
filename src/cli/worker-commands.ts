/**
 * `kiln workers ls [--json]`: the cluster's build workers as the admin account sees them through
 * `GET /kiln/workers` (id, host, roles, state, last heartbeat, the images each is building); `--json` prints
 * the route's field names.
 */
import type { Command } from 'commander';
import { cliAction, kilnRequest, routeError, routeTarget, withServerOptions, type ServerTargetOptions } from './kiln-client.js';
import { printJson, printTable } from './table.js';

interface Worker {
  id: string;
  host: string;
  roles: string[];
  state: string;
  lastSeen: string;
  runningImages: string[];
}

/** Adds `kiln workers` to the CLI. */
export function registerWorkerCommands(program: Command): void {
  const workers = program.command('workers').description("the cluster's build workers (kiln worker, kiln serve with the worker role); admin account only");
  withServerOptions(workers.command('ls').description('list build workers: active, or lost after three missed heartbeats').option('--json', 'print a JSON array')).action(
    cliAction('kiln workers ls', async (opts: ServerTargetOptions & { json?: boolean }) => {
      const { status, body } = await kilnRequest(routeTarget(opts), { method: 'GET', path: '/kiln/workers' });
      if (status !== 200) throw routeError(status, body, 'listing build workers');
      const list = (body.workers ?? []) as Worker[];
      if (opts.json) {
        printJson(list.map(({ id, host, roles, state, lastSeen, runningImages }) => ({ id, host, roles, state, lastSeen, runningImages })));
        return;
      }
      printTable(
        [
          { header: 'ID', value: (w) => w.id },
          { header: 'HOST', value: (w) => w.host },
          { header: 'ROLES', value: (w) => w.roles.join(',') },
          { header: 'STATE', value: (w) => w.state },
          { header: 'LAST SEEN', value: (w) => w.lastSeen },
          { header: 'RUNNING IMAGES', value: (w) => (w.runningImages.length === 0 ? '-' : w.runningImages.join(',')) },
        ],
        list,
        'no build workers',
      );
    }),
  );
}
