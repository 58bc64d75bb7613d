/**
 * `kiln instances ls|shell|rm`: instances a failed build kept (`terminateInstanceOnFailure: false`). `shell`
 * enters the instance's namespaces with nsenter, so it runs on the Kiln host itself, as root, the way
 * `docker exec` needs the Docker host.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { DEFAULT_LISTEN } from './server-defaults.js';
import { CliError, describeCliError, kilnRequest, resolveCredentials, routeError, targetDefaults, withServerOptions, type ServerTargetOptions } from './kiln-client.js';

interface KeptInstance {
  instanceId: string;
  imageBuildVersionArn: string;
  stage: string;
  keptAt: string;
  hostPid?: number;
}

function target(opts: ServerTargetOptions) {
  const t = targetDefaults(opts);
  return { endpoint: t.endpoint, region: t.region, credentials: resolveCredentials({ dataDir: t.dataDir, ...(t.profile === undefined ? {} : { profile: t.profile }) }) };
}

async function listKept(opts: ServerTargetOptions): Promise<KeptInstance[]> {
  const { status, body } = await kilnRequest(target(opts), { method: 'GET', path: '/kiln/instances' });
  if (status !== 200) throw routeError(status, body, 'listing kept instances');
  return (body.instances ?? []) as KeptInstance[];
}

/** Runs a command in the instance's namespaces and root; resolves with its exit status. */
function enter(hostPid: number, argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', ['-t', String(hostPid), '-m', '-u', '-i', '-n', '-p', '-r', '-w', ...argv], { stdio: 'inherit' });
    child.once('error', (err) => reject(new CliError(`nsenter could not start: ${err.message} (run this on the Kiln host, as root)`)));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

function action<A extends unknown[]>(name: string, fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      process.stderr.write(`kiln instances ${name}: ${describeCliError(err)}\n`);
      process.exitCode = 1;
    }
  };
}

/** Adds `kiln instances` to the CLI. */
export function registerInstanceCommands(program: Command): void {
  const instances = program.command('instances').description('instances kept after a failed build (terminateInstanceOnFailure: false)');
  const endpoint = `http://${DEFAULT_LISTEN}`;
  withServerOptions(instances.command('ls').description('list kept instances').option('--json', 'print JSON'), endpoint).action(
    action('ls', async (opts: ServerTargetOptions & { json?: boolean }) => {
      const list = await listKept(opts);
      if (opts.json) process.stdout.write(`${JSON.stringify(list)}\n`);
      else for (const i of list) process.stdout.write(`${i.instanceId}  ${i.stage}  ${i.keptAt}  ${i.imageBuildVersionArn}\n`);
    }),
  );
  withServerOptions(instances.command('shell <instanceId>').description('open a shell (or run a command after --) inside a kept instance').argument('[command...]'), endpoint).action(
    action('shell', async (instanceId: string, command: string[], opts: ServerTargetOptions) => {
      const found = (await listKept(opts)).find((i) => i.instanceId === instanceId);
      if (!found) throw new CliError(`no kept instance ${instanceId}; 'kiln instances ls' lists them`);
      if (found.hostPid === undefined) throw new CliError(`instance ${instanceId} cannot be entered from this host`);
      return enter(found.hostPid, command.length > 0 ? command : ['/bin/sh', '-c', 'exec "$(command -v bash || echo /bin/sh)" -l']);
    }),
  );
  withServerOptions(instances.command('rm <instanceId>').description('release a kept instance'), endpoint).action(
    action('rm', async (instanceId: string, opts: ServerTargetOptions) => {
      const { status, body } = await kilnRequest(target(opts), { method: 'DELETE', path: `/kiln/instances/${encodeURIComponent(instanceId)}` });
      if (status !== 200) throw routeError(status, body, `releasing ${instanceId}`);
      process.stdout.write(`released ${instanceId}\n`);
    }),
  );
}
