/**
 * `kiln accounts keys list|create|disable|enable|delete`: an admin's tools for an account's access keys. Like
 * `kiln accounts create|list` they work on the data directory directly; a running `kiln serve` reads the same
 * store on every request, so a disabled or deleted key is refused at once.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { isKilnError } from '../domain/errors.js';
import type { AccessKey, Account } from '../store/store.js';
import { cliAction, CliError } from './kiln-client.js';
import { printTable } from './table.js';

import { openLocalStore, withStoreOptions, type LocalStoreOptions } from './local-store.js';

// The store loads only when a keys command runs, so `kiln toe` starts fast.
const loadKeys = () => import('../service/access-keys.js');

interface KeyOptions extends LocalStoreOptions {
  json?: boolean;
  force?: boolean;
}

/** A key as `--json` prints it: wire names as in `kiln accounts list`, `lastUsed` null for a key never used. */
function keyJson(key: AccessKey): Record<string, unknown> {
  return { accessKeyId: key.accessKeyId, accountId: key.accountId, status: key.status, createdAt: key.createdAt, lastUsed: key.lastUsedAt ?? null };
}

/** Whether the data directory's credentials file (the one `kiln serve` wrote for the admin) names the key. */
function inCredentialsFile(dataDir: string, accessKeyId: string): boolean {
  try {
    return new RegExp(`^\\s*aws_access_key_id\\s*=\\s*${accessKeyId}\\s*$`, 'm').test(readFileSync(path.join(dataDir, 'credentials'), 'utf8'));
  } catch {
    return false;
  }
}

/** Opens the data directory's store for one command; Kiln's errors are printed as their message alone. */
async function withStore<T>(opts: KeyOptions, fn: (store: import('../store/store.js').Store, dataDir: string) => Promise<T>): Promise<T> {
  const { store, dataDir } = await openLocalStore(opts);
  try {
    return await fn(store, dataDir);
  } catch (err) {
    if (isKilnError(err)) throw new CliError(err.message);
    throw err;
  } finally {
    await store.close();
  }
}

/** Reports a disabled or deleted key: the warning of a change, and a stale admin credentials file. */
function warnAfterRemoval(change: { account: Account; key: AccessKey; warning?: string }, dataDir: string, what: string): void {
  if (change.warning) process.stderr.write(`warning: ${change.warning}\n`);
  if (change.account.admin && inCredentialsFile(dataDir, change.key.accessKeyId)) {
    // No host path in the message: the data directory is the admin's to know.
    process.stderr.write(`warning: the data directory's credentials file names the ${what} key ${change.key.accessKeyId}, which no longer signs requests; put an active key in it (kiln serve writes a new one only when it is missing)\n`);
  }
}

/** Adds `kiln accounts keys …` under `kiln accounts`. */
export function registerKeyCommands(accounts: Command): void {
  const keys = accounts.command('keys').description("manage an account's access keys (ACCOUNT: account id or name)");
  const dataDir = withStoreOptions;

  dataDir(keys.command('list <account>').description("list an account's access keys: id, status, creation, last use"))
    .option('--json', 'print a JSON array of {"accessKeyId","accountId","status","createdAt","lastUsed"}')
    .action(
      cliAction('kiln accounts keys list', (ref: string, opts: KeyOptions) =>
        withStore(opts, async (store) => {
          const { keys: list } = await (await loadKeys()).listKeys(store, ref);
          if (opts.json) process.stdout.write(JSON.stringify(list.map(keyJson)) + '\n');
          else
            printTable(
              [
                { header: 'ACCESS KEY ID', value: (k: AccessKey) => k.accessKeyId },
                { header: 'STATUS', value: (k: AccessKey) => k.status },
                { header: 'CREATED', value: (k: AccessKey) => k.createdAt },
                { header: 'LAST USED', value: (k: AccessKey) => k.lastUsedAt ?? 'never' },
              ],
              list,
              'no access keys',
            );
        }),
      ),
    );

  dataDir(keys.command('create <account>').description('add an access key pair to an account; its secret is printed only now'))
    .option('--json', 'print {"accountId","accessKeyId","secretAccessKey","status","createdAt"}')
    .action(
      cliAction('kiln accounts keys create', (ref: string, opts: KeyOptions) =>
        withStore(opts, async (store) => {
          const { account, key } = await (await loadKeys()).createKey(store, ref);
          if (opts.json) {
            process.stdout.write(JSON.stringify({ accountId: account.accountId, accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, status: key.status, createdAt: key.createdAt }) + '\n');
          } else {
            process.stdout.write(`Account ${account.accountId} (${account.name})\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`);
            process.stderr.write('The secret is shown only now: store it.\n');
          }
        }),
      ),
    );

  for (const [verb, status] of [['disable', 'Inactive'], ['enable', 'Active']] as const) {
    const command = dataDir(keys.command(`${verb} <account> <key-id>`).description(verb === 'disable' ? 'make a key Inactive: it is refused at once, until enabled again' : 'make an Inactive key Active again'))
      .option('--json', 'print the key as {"accessKeyId","accountId","status","createdAt","lastUsed"}');
    if (verb === 'disable') command.option('--force', "disable even the admin account's last active key");
    command.action(
      cliAction(`kiln accounts keys ${verb}`, (ref: string, keyId: string, opts: KeyOptions) =>
        withStore(opts, async (store, dir) => {
          const change = await (await loadKeys()).setKeyStatus(store, ref, keyId, status, { force: opts.force === true });
          if (opts.json) process.stdout.write(JSON.stringify(keyJson(change.key)) + '\n');
          else process.stdout.write(`Access key ${change.key.accessKeyId} of account ${change.account.accountId} (${change.account.name}) is ${change.key.status}\n`);
          if (status === 'Inactive') warnAfterRemoval(change, dir, 'disabled');
        }),
      ),
    );
  }

  dataDir(keys.command('delete <account> <key-id>').description('delete a key for good'))
    .option('--force', "delete even the admin account's last active key")
    .option('--json', 'print {"accessKeyId","accountId","deleted":true}')
    .action(
      cliAction('kiln accounts keys delete', (ref: string, keyId: string, opts: KeyOptions) =>
        withStore(opts, async (store, dir) => {
          const change = await (await loadKeys()).deleteKey(store, ref, keyId, { force: opts.force === true });
          if (opts.json) process.stdout.write(JSON.stringify({ accessKeyId: change.key.accessKeyId, accountId: change.account.accountId, deleted: true }) + '\n');
          else process.stdout.write(`Deleted access key ${change.key.accessKeyId} of account ${change.account.accountId} (${change.account.name})\n`);
          warnAfterRemoval(change, dir, 'deleted');
        }),
      ),
    );
}
