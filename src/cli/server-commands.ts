import type { Command } from 'commander';
import { registerKeyCommands } from './key-commands.js';
import { DEFAULT_LISTEN } from '../app/server-defaults.js';
import { printJson, printTable } from './table.js';
import { cliAction } from './kiln-client.js';
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

/** Adds `kiln serve`, `kiln accounts create|list` and `kiln accounts keys …` to the CLI. */
export function registerServerCommands(program: Command): void {
  program
    .command('serve')
    .description('serve the Image Builder API, the console and the registry')
    .option('--data-dir <dir>', 'data directory (default: $KILN_DATA_DIR or ./.kiln)')
    .option('--listen <host:port>', 'address to listen on', DEFAULT_LISTEN)
    .option('--config <file>', 'configuration file (YAML or JSON)')
    .option('--json', 'once serving, print {"endpoint","regions","consoleUrl","registryHost","credentialsPath"} as one line')
    .action(cliAction('kiln serve', async (opts: { dataDir?: string; listen: string; config?: string; json?: boolean }) => {
      const { startServer, resolveDataDir } = await loadServer();
      // KILN_PREFETCH_BASES=0 keeps a `kiln serve` from bootstrapping the managed bases unasked (the test script sets it).
      const prefetch = process.env.KILN_PREFETCH_BASES !== '0';
      const running = await startServer({ dataDir: resolveDataDir(opts.dataDir), listen: opts.listen, configPath: opts.config, prefetchBasesByDefault: prefetch });
      drainOnSignal(running.close);
      if (opts.json) {
        const { endpoint, regions, consoleUrl, registryHost, credentialsPath } = running;
        printJson({ endpoint, regions, consoleUrl, registryHost, credentialsPath });
        return;
      }
      process.stdout.write(
        [
          `Kiln is serving the Image Builder API at ${running.endpoint} (regions: ${running.regions.join(', ')})`,
          `Console:     ${running.consoleUrl}`,
          `Registry:    ${running.registryHost} (docker/skopeo/podman: log in with an access key id and its secret)`,
          `Credentials: ${running.credentialsPath}`,
          `Try: AWS_SHARED_CREDENTIALS_FILE=${running.credentialsPath} aws imagebuilder list-components --endpoint-url ${running.endpoint} --region ${running.regions[0]}`,
          '',
        ].join('\n'),
      );
    }));

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
