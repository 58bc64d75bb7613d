/**
 * `kiln instances ls|launch|shell|console|rm`: instances a failed build kept (`terminateInstanceOnFailure:
 * false`) and VMs launched from machine images. `shell` enters an ns instance's namespaces with nsenter, so it
 * runs on the Kiln host itself, as root, the way `docker exec` needs the Docker host; in a VM, or in an instance
 * on another host of a cluster, it runs the command through Kiln (the guest agent; the node holding it).
 */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { cliAction, CliError, kilnRequest, UsageError, routeError, routeTarget, withServerOptions, type ServerTargetOptions } from './kiln-client.js';
import { printJson, printTable } from './table.js';

interface KeptInstance {
  instanceId: string;
  imageBuildVersionArn: string;
  stage: string;
  keptAt: string;
  hostPid?: number;
  consoleLog?: string;
  /** In a cluster: the node holding the instance, and its host. */
  node?: string;
  host?: string;
}

/** The kept instances; in a cluster, a warning on stderr names each node that did not answer (its instances are missing). */
async function listKept(opts: ServerTargetOptions): Promise<KeptInstance[]> {
  const { status, body } = await kilnRequest(routeTarget(opts), { method: 'GET', path: '/kiln/instances' });
  if (status !== 200) throw routeError(status, body, 'listing kept instances');
  const unreachable = Array.isArray(body.unreachable) ? (body.unreachable as { node?: string; host?: string; error?: string }[]) : [];
  for (const n of unreachable) process.stderr.write(`warning: node ${n.node ?? '?'} on ${n.host ?? '?'} did not answer (${n.error ?? 'no reason'}); its instances are not listed\n`);
  return (body.instances ?? []) as KeptInstance[];
}

/** Runs a command in a VM through Kiln (the guest agent); prints its output; resolves with its exit status. */
async function execRemote(opts: ServerTargetOptions, instanceId: string, argv: string[]): Promise<number> {
  const { status, body } = await kilnRequest(routeTarget(opts), { method: 'POST', path: `/kiln/instances/${encodeURIComponent(instanceId)}/exec`, body: { argv } });
  if (status !== 200) throw routeError(status, body, `running ${argv[0]} in ${instanceId}`);
  process.stdout.write(String(body.stdout ?? ''));
  process.stderr.write(String(body.stderr ?? ''));
  return typeof body.exitCode === 'number' ? body.exitCode : 128;
}

/** Prints an instance's serial console from `offset`; with follow, keeps printing until the signal aborts. */
async function followConsole(opts: ServerTargetOptions, instanceId: string, follow: boolean, signal: AbortSignal): Promise<void> {
  let offset = 0;
  for (;;) {
    const { status, body } = await kilnRequest(routeTarget(opts), { method: 'GET', path: `/kiln/instances/${encodeURIComponent(instanceId)}/console`, query: { offset: String(offset) }, signal });
    if (status !== 200) throw routeError(status, body, `reading the console of ${instanceId}`);
    process.stdout.write(String(body.text ?? ''));
    const next = Number(body.offset ?? offset);
    if (next === offset) {
      if (!follow) return;
      await sleep(500, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) return;
    }
    offset = next;
  }
}

/** Runs a command in the instance's namespaces and root; resolves with its exit status. */
function enter(hostPid: number, argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', ['-t', String(hostPid), '-m', '-u', '-i', '-n', '-p', '-r', '-w', ...argv], { stdio: 'inherit' });
    child.once('error', (err) => reject(new CliError(`nsenter could not start: ${err.message} (run this on the Kiln host, as root)`)));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** Adds `kiln instances` to the CLI. */
export function registerInstanceCommands(program: Command): void {
  const instances = program.command('instances').description('instances kept after a failed build (terminateInstanceOnFailure: false) and VMs launched from machine images');
  withServerOptions(instances.command('ls').description('list kept instances').option('--json', 'print a JSON array')).action(
    cliAction('kiln instances ls', async (opts: ServerTargetOptions & { json?: boolean }) => {
      const list = await listKept(opts);
      if (opts.json) printJson(list);
      else
        printTable(
          [
            { header: 'INSTANCE ID', value: (i) => i.instanceId },
            { header: 'STAGE', value: (i) => i.stage },
            { header: 'SINCE', value: (i) => i.keptAt },
            { header: 'IMAGE', value: (i) => i.imageBuildVersionArn },
            // Only a cluster says which node holds an instance.
            ...(list.some((i) => i.node !== undefined) ? [{ header: 'NODE', value: (i: KeptInstance) => i.node ?? '' }] : []),
          ],
          list,
          'no instances',
        );
    }),
  );
  withServerOptions(instances.command('shell <instanceId>').description('open a shell (or run a command after --) inside a kept instance').argument('[command...]')).action(
    cliAction('kiln instances shell', async (instanceId: string, command: string[], opts: ServerTargetOptions) => {
      const found = (await listKept(opts)).find((i) => i.instanceId === instanceId);
      if (!found) throw new CliError(`no instance ${instanceId}; 'kiln instances ls' lists them`);
      if (found.hostPid === undefined || (found.host !== undefined && found.host !== hostname())) {
        // A VM (its guest agent), or an instance on another host of the cluster (through Kiln, which forwards to
        // its node): one command at a time, its output at the end, no terminal.
        const where = found.hostPid === undefined ? 'a VM' : `on ${found.host!}, another host`;
        if (command.length === 0) throw new CliError(`${instanceId} is ${where}: give a command after --, e.g. kiln instances shell ${instanceId} -- systemctl status`);
        return execRemote(opts, instanceId, command);
      }
      return enter(found.hostPid, command.length > 0 ? command : ['/bin/sh', '-c', 'exec "$(command -v bash || echo /bin/sh)" -l']);
    }),
  );
  withServerOptions(
    instances
      .command('launch <image>')
      .description('boot a machine image (ami-… or image ARN) as a VM and attach to its serial console (Ctrl-C detaches)')
      .option('--instance-type <type>', 'vm.small, vm.medium or vm.large', 'vm.small')
      .option('--no-network', 'no network interface')
      .option('--detach', 'print the instance id and return once it is up')
      .option('--json', 'with --detach: print the instance as JSON'),
  ).action(
    cliAction('kiln instances launch', async (image: string, opts: ServerTargetOptions & { instanceType: string; network: boolean; detach?: boolean; json?: boolean }) => {
      if (opts.json && !opts.detach) throw new UsageError('--json needs --detach: without it the command attaches to the serial console');
      process.stderr.write(`booting ${image} (${opts.instanceType})…\n`);
      const { status, body } = await kilnRequest(routeTarget(opts), { method: 'POST', path: '/kiln/instances', body: { image, instanceType: opts.instanceType, ...(opts.network ? {} : { network: 'none' }) } });
      if (status !== 200) throw routeError(status, body, `launching ${image}`);
      const instance = body.instance as KeptInstance;
      if (opts.detach) {
        if (opts.json) printJson(instance);
        else process.stdout.write(`${instance.instanceId}\n`);
        return;
      }
      process.stderr.write(`${instance.instanceId} is up; its serial console follows (Ctrl-C detaches; 'kiln instances rm ${instance.instanceId}' stops it)\n`);
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      await followConsole(opts, instance.instanceId, true, controller.signal);
      process.stderr.write(`\ndetached; ${instance.instanceId} keeps running\n`);
    }),
  );
  withServerOptions(instances.command('console <instanceId>').description("print a VM's serial console").option('-f, --follow', 'keep printing until Ctrl-C')).action(
    cliAction('kiln instances console', async (instanceId: string, opts: ServerTargetOptions & { follow?: boolean }) => {
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      await followConsole(opts, instanceId, opts.follow === true, controller.signal);
    }),
  );
  withServerOptions(instances.command('rm <instanceId>').description('stop and release an instance').option('--json', 'print {"instanceId","released":true}')).action(
    cliAction('kiln instances rm', async (instanceId: string, opts: ServerTargetOptions & { json?: boolean }) => {
      const { status, body } = await kilnRequest(routeTarget(opts), { method: 'DELETE', path: `/kiln/instances/${encodeURIComponent(instanceId)}` });
      if (status !== 200) throw routeError(status, body, `releasing ${instanceId}`);
      if (opts.json) printJson({ instanceId, released: true });
      else process.stdout.write(`released ${instanceId}\n`);
    }),
  );
}
