import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import test from 'node:test';
import { loadServerConfig } from '../../src/app/server-config.js';
import { execLocal } from '../../src/toe/instance/local.js';
import { startFixture } from '../api/fixture.js';

const kiln = resolve('bin/kiln');

test('kiln bases ls: each managed base with its state, as a table and as JSON; a test server prepares none unasked', { timeout: 120_000 }, async (t) => {
  const f = await startFixture(t);
  const run = (args: string[]) => execLocal(['node', kiln, ...args, '--endpoint-url', f.server.endpoint, '--data-dir', f.dataDir], { timeoutMs: 60_000 });
  const listed = await run(['bases', 'ls', '--json']);
  assert.equal(listed.exitCode, 0, listed.stderr);
  const bases = JSON.parse(listed.stdout) as { name: string; kind: string; region: string; state: string }[];
  assert.deepEqual(bases.map((b) => [b.name, b.kind, b.region, b.state]), [
    ['debian-12-container-x86', 'container', 'local', 'absent'],
    ['debian-12-x86', 'machine', 'local', 'absent'],
  ]);
  const table = await run(['bases', 'ls']);
  assert.match(table.stdout, /^NAME\s+KIND\s+REGION\s+STATE\s+PROGRESS\s+LEFT\ndebian-12-container-x86\s+container\s+local\s+absent\n/);
  // A server without builds has no worker to prepare in: prefetch answers, and nothing starts.
  const prefetch = await run(['bases', 'prefetch', '--json']);
  assert.equal(prefetch.exitCode, 1, 'not every base is ready');
  assert.deepEqual((JSON.parse(prefetch.stdout.trim().split('\n').at(-1)!) as { state: string }[]).map((b) => b.state), ['absent', 'absent']);
});

test('prefetchBases in the configuration file: true or false, and named when wrong', (t) => {
  const dir = t.name.replace(/\W+/g, '-');
  const file = join(process.env.TMPDIR ?? '/tmp', `kiln-${dir}-${process.pid}.yaml`);
  t.after(() => execLocal(['rm', '-f', file], { timeoutMs: 5_000 }));
  writeFileSync(file, 'prefetchBases: false\n');
  assert.equal(loadServerConfig(file).prefetchBases, false);
  assert.equal(loadServerConfig(undefined).prefetchBases, undefined, 'unset: the server’s caller decides');
  writeFileSync(file, 'prefetchBases: yes please\n');
  assert.throws(() => loadServerConfig(file), /prefetchBases: must be true or false/);
});
