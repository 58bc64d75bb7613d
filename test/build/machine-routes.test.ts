// The machine-image routes and commands refuse what they cannot do, with errors that name the field, before
// anything boots: unknown or foreign machine images, bad formats and instance types, unsigned requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createAccount } from '../../src/service/accounts.js';
import { registerMachineImage } from '../../src/builder/machine/machine-images.js';
import { buildSkipReason, startBuildServer } from './helpers.js';

const KILN = path.resolve('bin/kiln');

/** The CLI's options go before a `--` that starts a command to run in an instance. */
function withEndpoint(args: string[], endpoint: string): string[] {
  const end = args.indexOf('--');
  return end < 0 ? [...args, '--endpoint', endpoint] : [...args.slice(0, end), '--endpoint', endpoint, ...args.slice(end)];
}

function kilnCli(endpoint: string, key: { accessKeyId: string; secretAccessKey: string }, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(KILN, withEndpoint(args, endpoint), { env: { ...process.env, AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('machine-image routes and commands: clear errors, and only launchable images are listed', { skip: buildSkipReason() }, async (t) => {
  const kiln = await startBuildServer(t);
  const store = kiln.server.engine!.services.store;
  const other = await createAccount(store, 'other');
  const cli = (args: string[], key = kiln.credentials) => kilnCli(kiln.server.endpoint, key, args);
  const adminId = (await store.listAccounts()).find((a) => a.admin)!.accountId;
  const disk = { digest: `sha256:${'b'.repeat(64)}` as const, sizeBytes: 1, format: 'raw' as const, rootPartUuid: 'x', kernelVersion: 'k' };
  const mine = await registerMachineImage(store, { accountId: adminId, region: 'local', name: 'mine', sourceImageArn: `arn:aws:imagebuilder:local:${adminId}:image/x/1.0.0/1`, disk });
  const amiId = mine.name;

  const ls = await cli(['images', 'ls', '--json']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.deepEqual((JSON.parse(ls.stdout) as { imageId: string }[]).map((i) => i.imageId), [amiId]);
  const otherLs = await cli(['images', 'ls', '--json'], other.key);
  assert.deepEqual(JSON.parse(otherLs.stdout), [], 'another account does not see an unshared machine image');

  const foreign = await cli(['images', 'export', amiId, '--format', 'raw', '-o', '/tmp/kiln-never-written.raw'], other.key);
  assert.equal(foreign.code, 1);
  assert.match(foreign.stderr, /image ami-[0-9a-f]{17} is not a machine image that account \d{12} may launch in local/);
  const badFormat = await cli(['images', 'export', amiId, '--format', 'iso', '-o', '/tmp/x']);
  assert.equal(badFormat.code, 2, 'a bad --format is bad usage');
  assert.match(badFormat.stderr, /--format must be qcow2, raw, vmdk or vhd/);
  const container = await cli(['images', 'export', 'arn:aws:imagebuilder:local:aws:image/debian-12-container-x86/x.x.x', '-o', '/tmp/x']);
  assert.match(container.stderr, /which is a container image, not a machine image/);

  const badType = await cli(['instances', 'launch', amiId, '--instance-type', 'ns.small', '--detach']);
  assert.equal(badType.code, 1);
  assert.match(badType.stderr, /instanceType: ns\.small is not a vm\.\* instance type/);
  const noImage = await cli(['instances', 'launch', 'ami-00000000000000000', '--detach']);
  assert.match(noImage.stderr, /image ami-00000000000000000 is not a machine image/);
  const shell = await cli(['instances', 'shell', 'vm:nothing', '--', 'true']);
  assert.match(shell.stderr, /no instance vm:nothing/);

  const unsigned = await fetch(`${kiln.server.endpoint}/kiln/machine-images`);
  assert.equal(unsigned.status, 403);
  const badBody = await fetch(`${kiln.server.endpoint}/kiln/instances`, { method: 'POST', body: 'not json' });
  assert.equal(badBody.status, 403, 'the signature is checked before the body');
});
