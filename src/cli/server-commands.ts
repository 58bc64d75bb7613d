import type { Command } from 'commander';
import { registerKeyCommands } from './key-commands.js';
import { DEFAULT_LISTEN, DEFAULT_NODE_LISTEN } from '../app/server-defaults.js';
import type { NodeRole } from '../store/roles/cluster-nodes.js';
import { printJson, printTable } from './table.js';
import { cliAction, UsageError } from './kiln-client.js';
import { openLocalStore, withStoreOptions, type LocalStoreOptions } from './local-store.js';

// The server's modules (fastify, SQLite) load only when a server command runs, so `kiln toe` starts fast.
const loadServer = () => import('../app/server-start.js');
const loadAccounts = () => import('../service/accounts.js');

/** Stops the server on SIGTERM/SIGINT: in-flight requests finish, then the process exits 0. */
function drainOnSignal(close: () => Promise<void>): void {
  let closing = false;
  const stop = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    process.stderr.write(`kiln: ${signal} received, draining\n`);
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`kiln: shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

interface NodeCommandOptions {
  dataDir?: string;
  listen?: string;
  config?: string;
  advertise?: string;
  registryHost?: string;
  json?: boolean;
}

/** Runs a flag's parser; its error becomes a usage error (exit status 2). */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** The options every node command takes. */
function nodeOptions(command: Command, listenHelp: string): Command {
  return command
    .option('--data-dir <dir>', 'data directory (default: $KILN_DATA_DIR or ./.kiln)')
    .option('--listen <host:port>', listenHelp)
    .option('--config <file>', 'configuration file (YAML or JSON)')
    .option('--advertise <url>', "base URL other nodes reach this node's listener at (default: from --listen; a wildcard address becomes the host name)")
    .option('--registry-host <host:port>', "host:port that image URIs name for Kiln's registry (default: this node's listener); nodes without the api role name the API nodes'")
    .option('--json', 'once serving, print {"endpoint","regions","consoleUrl","registryHost","credentialsPath","nodeId","roles"} as one line');
}

/** Starts a node with `roles` and prints where it is; runs until SIGTERM/SIGINT. */
async function serveNode(roles: NodeRole[], opts: NodeCommandOptions): Promise<void> {
  const { startServer, resolveDataDir, parseListen } = await loadServer();
  const { parseAdvertise } = await import('../app/node-roles.js');
  const listen = opts.listen ?? (roles.includes('api') ? DEFAULT_LISTEN : DEFAULT_NODE_LISTEN);
  // Checked before the store opens, so a mistyped flag is named at once (exit status 2).
  usage(() => parseListen(listen));
  if (opts.advertise !== undefined) usage(() => parseAdvertise(opts.advertise!));
  if (opts.registryHost !== undefined && !/^(?:\[[^\]]+\]|[^:/\s]+)(?::\d{1,5})?$/.test(opts.registryHost)) throw new UsageError(`--registry-host must be HOST or HOST:PORT, got '${opts.registryHost}'`);
  // KILN_PREFETCH_BASES=0 keeps a `kiln serve` from bootstrapping the managed bases unasked (the test script sets it).
  const prefetch = process.env.KILN_PREFETCH_BASES !== '0';
  const running = await startServer({
    dataDir: resolveDataDir(opts.dataDir),
    listen,
    configPath: opts.config,
    prefetchBasesByDefault: prefetch,
    roles,
    ...(opts.advertise === undefined ? {} : { advertise: opts.advertise }),
    ...(opts.registryHost === undefined ? {} : { registryHost: opts.registryHost }),
  });
  drainOnSignal(running.close);
  if (opts.json) {
    const { endpoint, regions, consoleUrl, registryHost, credentialsPath } = running;
    printJson({ endpoint, regions, consoleUrl, registryHost, credentialsPath, nodeId: running.node.id, roles: running.node.roles });
    return;
  }
  if (!roles.includes('api')) {
    process.stdout.write(
      [
        `Kiln node ${running.node.id} runs ${roles.join(', ')} (regions: ${running.regions.join(', ')})`,
        `Listener:    ${running.endpoint} (health: ${running.endpoint}/healthz; other nodes reach it at ${running.node.endpoint})`,
        `Registry:    image URIs name ${running.registryHost}`,
        '',
      ].join('\n'),
    );
    return;
  }
  process.stdout.write(
    [
      `Kiln is serving the Image Builder API at ${running.endpoint} (regions: ${running.regions.join(', ')})`,
      `Console:     ${running.consoleUrl}`,
      `Registry:    ${running.registryHost} (docker/skopeo/podman: log in with an access key id and its secret)`,
      `Credentials: ${running.credentialsPath}`,
      ...(roles.length < 3 ? [`Roles:       ${roles.join(', ')} (node ${running.node.id})`] : []),
      `Try: AWS_SHARED_CREDENTIALS_FILE=${running.credentialsPath} aws imagebuilder list-components --endpoint-url ${running.endpoint} --region ${running.regions[0]}`,
      '',
    ].join('\n'),
  );
}

/** Adds `kiln serve`, `kiln worker`, `kiln accounts create|list` and `kiln accounts keys …` to the CLI. */
export function registerServerCommands(program: Command): void {
  const serve = program
    .command('serve')
    .description('serve the Image Builder API, the console and the registry, schedule pipelines and run builds (each node of a cluster runs some of these roles)')
    .option('--roles <list>', 'what this node does, comma-separated: api, scheduler, worker', 'api,scheduler,worker');
  nodeOptions(serve, `address to listen on (default: ${DEFAULT_LISTEN}; ${DEFAULT_NODE_LISTEN} without the api role)`).action(
    cliAction('kiln serve', async (opts: NodeCommandOptions & { roles: string }) => {
      const { parseRoles } = await import('../app/node-roles.js');
      await serveNode(usage(() => parseRoles(opts.roles)), opts);
    }),
  );
  const worker = program.command('worker').description('run builds for a cluster (kiln serve --roles worker): no public API, a node listener with /healthz');
  nodeOptions(worker, `address of the node listener (default: ${DEFAULT_NODE_LISTEN})`).action(
    cliAction('kiln worker', async (opts: NodeCommandOptions) => {
      await serveNode(['worker'], opts);
    }),
  );

  const accounts = program.command('accounts').description('manage Kiln accounts and their access keys');
  const accountsCreate = accounts.command('create <name>').description('create an account with an access key pair');
  withStoreOptions(accountsCreate)
    .option('--json', 'print {"accountId","accessKeyId","secretAccessKey"}')
    .action(cliAction('kiln accounts create', async (name: string, opts: LocalStoreOptions & { json?: boolean }) => {
      const { store } = await openLocalStore(opts);
      try {
        const { account, key } = await (await loadAccounts()).createAccount(store, name);
        if (opts.json) {
          process.stdout.write(JSON.stringify({ accountId: account.accountId, accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey }) + '\n');
        } else {
          process.stdout.write(`Account ${account.accountId} (${account.name})\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`);
        }
      } finally {
        await store.close();
      }
    }));
  const accountsList = accounts.command('list').description('list accounts');
  withStoreOptions(accountsList)
    .option('--json', 'print a JSON array')
    .action(cliAction('kiln accounts list', async (opts: LocalStoreOptions & { json?: boolean }) => {
      const { store } = await openLocalStore(opts);
      try {
        const list = await store.listAccounts();
        if (opts.json) {
          printJson(list.map((a) => ({ accountId: a.accountId, name: a.name, admin: a.admin, createdAt: a.createdAt })));
        } else {
          printTable(
            [
              { header: 'ACCOUNT ID', value: (a) => a.accountId },
              { header: 'NAME', value: (a) => a.name },
              { header: 'ADMIN', value: (a) => (a.admin ? 'yes' : 'no') },
              { header: 'CREATED', value: (a) => a.createdAt },
            ],
            list,
            'no accounts',
          );
        }
      } finally {
        await store.close();
      }
    }));
  registerKeyCommands(accounts);
}
