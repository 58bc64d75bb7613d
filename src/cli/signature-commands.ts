/**
 * `kiln accounts signing-key ACCOUNT` prints the public key an account's images are signed with (PEM), through
 * the signed `/kiln/accounts/ACCOUNT/signing-key` route: the account itself or an admin may read it.
 * `kiln images verify IMAGE` checks an image's signatures here, on the client, from what `/kiln/images/verify`
 * answers (with the account's key, or one of the user's own): a machine image's disk signature, a container
 * image's sigstore signatures in Kiln's registry. Exit 0 with a line saying what was verified, 1 with a line
 * saying what failed.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { judgeContainerSignatures, judgeDiskSignature, type ContainerVerificationInput, type DiskVerificationInput } from '../domain/image-signatures.js';
import { cliAction, CliError, UsageError, kilnRequest, routeError, routeTarget, withServerOptions, type ServerTargetOptions } from './kiln-client.js';
import { printJson } from './table.js';

/** The subcommand `name` of the program, which an earlier register call must have added. */
function parent(program: Command, name: string): Command {
  const found = program.commands.find((c) => c.name() === name);
  if (!found) throw new Error(`kiln ${name} must be registered before the signature commands`);
  return found;
}

/** Adds `kiln accounts signing-key` and `kiln images verify` (after `kiln accounts` and `kiln images` exist). */
export function registerSignatureCommands(program: Command): void {
  registerVerifyCommand(program);
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

/** Adds `kiln images verify` (after `kiln images` exists). */
function registerVerifyCommand(program: Command): void {
  withServerOptions(
    parent(program, 'images')
      .command('verify <image>')
      .description("check an image's signature with its account's public key: a machine image's (ami-… or ARN) over its stored disk, a container image's (ARN) in Kiln's registry")
      .option('--key <file>', "verify with this PEM public key instead of the one the server names (e.g. from kiln accounts signing-key, kept apart)"),
  ).action(
    cliAction('kiln images verify', async (image: string, opts: ServerTargetOptions & { key?: string }) => {
      const { status, body } = await kilnRequest(routeTarget(opts), { method: 'GET', path: '/kiln/images/verify', query: { image } });
      if (status !== 200) throw routeError(status, body, `verifying ${image}`);
      const found = body as unknown as (DiskVerificationInput & { kind: 'machine' }) | (ContainerVerificationInput & { kind: 'container' });
      const publicKeyPem = opts.key === undefined ? found.publicKeyPem : await readFile(opts.key, 'utf8').catch(() => {
        throw new UsageError(`--key: cannot read ${opts.key}`);
      });
      const verdict = found.kind === 'container' ? judgeContainerSignatures({ ...found, publicKeyPem }) : judgeDiskSignature({ ...found, publicKeyPem });
      if (!verdict.ok) throw new CliError(verdict.line);
      process.stdout.write(`${verdict.line}\n`);
    }),
  );
}
