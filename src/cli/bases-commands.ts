/**
 * `kiln bases ls` shows where each managed base (the Debian images owned by `aws`) is: absent, preparing (phase,
 * percent, time left), ready or failed (why). `kiln bases prefetch` has the server prepare those not stored yet
 * and follows it to the end, a line on stderr at each phase; with --offline it prepares them in this process on
 * the data directory instead (before the first `kiln serve`; the install script's --prefetch-bases).
 */
import type { Command } from 'commander';
import { describeStatus, type BaseStatus } from '../builder/bases/base-progress.js';
import { cliAction, EXIT, kilnRequest, routeError, routeTarget, targetDefaults, withServerOptions, type ServerTargetOptions } from './kiln-client.js';
import { printJson, printTable } from './table.js';

const POLL_MS = 2000;

function printBases(list: BaseStatus[]): void {
  printTable(
    [
      { header: 'NAME', value: (b) => b.name },
      { header: 'KIND', value: (b) => b.kind },
      { header: 'REGION', value: (b) => b.region },
      { header: 'STATE', value: (b) => b.state },
      { header: 'PROGRESS', value: (b) => (b.state === 'preparing' ? `${b.percent ?? 0}% ${b.phase ?? ''}`.trim() : b.state === 'failed' ? (b.reason ?? '').split('\n')[0]! : '') },
      { header: 'LEFT', value: (b) => (b.state === 'preparing' && b.secondsLeft !== undefined ? `~${b.secondsLeft} s` : '') },
    ],
    list,
    'no managed bases',
  );
}

/** Writes a line per base whenever its state or phase changes; remembers what it wrote in `seen`. */
function reportChanges(list: BaseStatus[], seen: Map<string, string>): void {
  for (const b of list) {
    const key = `${b.state} ${b.phase ?? ''}`;
    if (seen.get(b.arn) === key) continue;
    seen.set(b.arn, key);
    process.stderr.write(`${describeStatus(b)}\n`);
  }
}

const settled = (list: BaseStatus[]) => list.every((b) => b.state === 'ready' || b.state === 'failed');

/** Adds `kiln bases` to the CLI. */
export function registerBasesCommands(program: Command): void {
  const bases = program.command('bases').description('managed base images: where they are, and preparing them ahead of the first build');
  withServerOptions(bases.command('ls').description('show each managed base: absent, preparing (phase, percent, time left), ready or failed').option('--json', 'print a JSON array')).action(
    cliAction('kiln bases ls', async (opts: ServerTargetOptions & { json?: boolean }) => {
      const { status, body } = await kilnRequest(routeTarget(opts), { method: 'GET', path: '/kiln/bases' });
      if (status !== 200) throw routeError(status, body, 'listing managed bases');
      const list = (body.bases ?? []) as BaseStatus[];
      if (opts.json) printJson(list);
      else printBases(list);
    }),
  );
  withServerOptions(
    bases
      .command('prefetch')
      .description('prepare the managed bases not stored yet and wait for them (exit 1 if one could not be prepared)')
      .option('--offline', 'prepare them in this process on --data-dir, without a server (not while a server uses that directory)')
      .option('--config <file>', 'with --offline: the server configuration file (for the mirror and regions)')
      .option('--json', 'print the final list as a JSON array'),
  ).action(
    cliAction('kiln bases prefetch', async (opts: ServerTargetOptions & { offline?: boolean; config?: string; json?: boolean }) => {
      const seen = new Map<string, string>();
      let final: BaseStatus[];
      if (opts.offline) {
        const { prefetchBasesOffline } = await import('../app/offline-bases.js');
        const controller = new AbortController();
        const onSignal = () => controller.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          final = await prefetchBasesOffline({ dataDir: targetDefaults(opts).dataDir, ...(opts.config ? { configPath: opts.config } : {}), signal: controller.signal, onStatus: (list) => reportChanges(list, seen) });
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
        if (controller.signal.aborted) return EXIT.INTERRUPTED;
      } else {
        const target = routeTarget(opts);
        const started = await kilnRequest(target, { method: 'POST', path: '/kiln/bases/prefetch' });
        if (started.status !== 200) throw routeError(started.status, started.body, 'starting the preparation');
        final = started.body.bases as BaseStatus[];
        // The server prepares one base after the other; between two, none may show as preparing for a moment.
        let idle = 0;
        while (!settled(final) && idle < 3) {
          reportChanges(final, seen);
          await new Promise((r) => setTimeout(r, POLL_MS));
          const { status, body } = await kilnRequest(target, { method: 'GET', path: '/kiln/bases' });
          if (status !== 200) throw routeError(status, body, 'following the preparation');
          final = body.bases as BaseStatus[];
          idle = final.some((b) => b.state === 'preparing') ? 0 : idle + 1;
        }
      }
      reportChanges(final, seen);
      if (opts.json) printJson(final);
      return final.every((b) => b.state === 'ready') ? EXIT.SUCCESS : EXIT.FAILURE;
    }),
  );
}
