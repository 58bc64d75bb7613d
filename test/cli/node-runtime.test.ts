/**
 * Which Node runs Kiln (ADR 0008): `.node/` in the checkout when scripts/install.sh put one there, else the
 * machine's `node`. bin/kiln and scripts/node-env.sh apply that rule; here they run in a copy of the checkout's
 * shape whose Nodes are stand-ins that print how they were called.
 */
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import test from 'node:test';
import { execLocal } from '../../src/toe/instance/local.js';
import { scratchDir } from '../helpers/action-context.js';

async function standIn(path: string, name: string): Promise<void> {
  await writeFile(path, `#!/bin/sh\necho "${name} $*"\n`);
  await chmod(path, 0o755);
}

/** A checkout with bin/kiln and scripts/node-env.sh, and a PATH whose `node` is the machine's stand-in. */
async function checkout(dir: string): Promise<{ root: string; path: string }> {
  const root = join(dir, 'checkout');
  await mkdir(join(root, 'bin'), { recursive: true });
  await mkdir(join(root, 'scripts'));
  await copyFile(resolve('bin/kiln'), join(root, 'bin/kiln'));
  await chmod(join(root, 'bin/kiln'), 0o755);
  await copyFile(resolve('scripts/node-env.sh'), join(root, 'scripts/node-env.sh'));
  const machine = join(dir, 'machine-bin');
  await mkdir(machine);
  await standIn(join(machine, 'node'), 'machine-node');
  return { root, path: `${machine}:/usr/bin:/bin` };
}

async function addKilnNode(root: string): Promise<void> {
  await mkdir(join(root, '.node/bin'), { recursive: true });
  await standIn(join(root, '.node/bin/node'), 'kiln-node');
}

test('bin/kiln run as a command re-executes itself on the machine node when there is no .node/', async (t) => {
  const { root, path } = await checkout(await scratchDir(t));
  const r = await execLocal([join(root, 'bin/kiln'), 'images', 'ls'], { env: { PATH: path }, timeoutMs: 10_000 });
  assert.equal(r.stdout, `machine-node ${join(root, 'bin/kiln')} images ls\n`);
});

test('bin/kiln run as a command, or through a symlink, re-executes itself on .node/bin/node when present', async (t) => {
  const dir = await scratchDir(t);
  const { root, path } = await checkout(dir);
  await addKilnNode(root);
  const direct = await execLocal([join(root, 'bin/kiln'), 'serve', '--json'], { env: { PATH: path }, timeoutMs: 10_000 });
  assert.equal(direct.stdout, `kiln-node ${join(root, 'bin/kiln')} serve --json\n`);
  await symlink(join(root, 'bin/kiln'), join(dir, 'kiln'));
  const linked = await execLocal([join(dir, 'kiln'), 'logs'], { env: { PATH: path }, timeoutMs: 10_000 });
  assert.equal(linked.stdout, `kiln-node ${join(dir, 'kiln')} logs\n`);
});

test('bin/kiln read by Node itself runs the CLI (its sh line is a string and a comment)', async () => {
  const r = await execLocal([process.execPath, resolve('bin/kiln'), '--help'], { timeoutMs: 30_000 });
  assert.equal(r.exitCode, 0);
  assert.match(r.stdout, /Usage: kiln/);
});

test('scripts/node-env.sh puts .node/bin first on PATH, and changes nothing without it', async (t) => {
  const { root, path } = await checkout(await scratchDir(t));
  const probe = ['sh', '-c', '. scripts/node-env.sh && node'];
  const without = await execLocal(probe, { cwd: root, env: { PATH: path }, timeoutMs: 10_000 });
  assert.equal(without.stdout, 'machine-node \n');
  await addKilnNode(root);
  const withNode = await execLocal(probe, { cwd: root, env: { PATH: path }, timeoutMs: 10_000 });
  assert.equal(withNode.stdout, 'kiln-node \n');
});
