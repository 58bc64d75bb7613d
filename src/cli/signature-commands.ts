/**
 * `kiln accounts signing-key ACCOUNT` prints the public key an account's images are signed with (PEM), through
 * the signed `/kiln/accounts/ACCOUNT/signing-key` route: the account itself or an admin may read it.
 */
import type { Command } from 'commander';
import { cliAction, CliError, kilnRequest, routeError, routeTarget, withServerOptions, type ServerTargetOptions } from './kiln-client.js';
import { printJson } from './table.js';

/** The subcommand `name` of the program, which an earlier register call must have added. */
function parent(program: Command, name: string): Command {
  const found = program.commands.find((c) => c.name() === name);
  if (!found) throw new Error(`kiln ${name} must be registered before the signature commands`);
  return found;
}

/** Adds `kiln accounts signing-key` (after `kiln accounts` exists). */
export function registerSignatureCommands(program: Command): void {
  withServerOptions(
    parent(program, 'accounts')
      .command('signing-key <account>')
      .description("print the public key (PEM) the account's images are signed with; made on first need (ACCOUNT: account id or name)")
      .option('--json', 'print {"accountId","publicKeyPem","createdAt"}'),
  ).action(
    cliAction('kiln accounts signing-key', async (account: string, opts: ServerTargetOptions & { json?: boolean }) => {
      const { status, body } = await kilnRequest(routeTarget(opts), { method: 'GET', path: `/kiln/accounts/${encodeURIComponent(account)}/signing-key` });
      if (status !== 200) throw routeError(status, body, `reading the signing key of ${account}`);
      if (typeof body.publicKeyPem !== 'string') throw new CliError(`the server answered no publicKeyPem for ${account}`);
      if (opts.json) printJson(body);
      else process.stdout.write(body.publicKeyPem);
    }),
  );
}
