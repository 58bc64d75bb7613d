import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync, mkdirSync, symlinkSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BOOTSTRAP_CACHE_ENV, cachedBootstrap } from './bootstrap-cache.js';

function fakeBootstrap(rootfs: string): void {
  mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
  writeFileSync(path.join(rootfs, 'etc/hostname'), 'base\n');
  symlinkSync('hostname', path.join(rootfs, 'etc/link'));
  writeFileSync(path.join(rootfs, 'tool'), '#!/bin/sh\n');
  chmodSync(path.join(rootfs, 'tool'), 0o4755);
}

test('the bootstrap cache: off without the variable; on, a second bootstrap of the same inputs unpacks the same tree', async (t) => {
  const work = mkdtempSync(path.join(tmpdir(), 'kiln-bcache-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const previous = process.env[BOOTSTRAP_CACHE_ENV];
  t.after(() => (previous === undefined ? delete process.env[BOOTSTRAP_CACHE_ENV] : (process.env[BOOTSTRAP_CACHE_ENV] = previous)));
  let runs = 0;
  const bootstrap = (rootfs: string) => async () => {
    runs++;
    mkdirSync(rootfs, { recursive: true });
    fakeBootstrap(rootfs);
  };

  delete process.env[BOOTSTRAP_CACHE_ENV];
  await cachedBootstrap(['a'], path.join(work, 'r0'), bootstrap(path.join(work, 'r0')));
  await cachedBootstrap(['a'], path.join(work, 'r1'), bootstrap(path.join(work, 'r1')));
  assert.equal(runs, 2, 'without the variable every bootstrap runs');

  process.env[BOOTSTRAP_CACHE_ENV] = path.join(work, 'cache');
  const said: string[] = [];
  await cachedBootstrap(['a'], path.join(work, 'r2'), bootstrap(path.join(work, 'r2')), { onOutput: (s) => said.push(s) });
  await cachedBootstrap(['a'], path.join(work, 'r3'), bootstrap(path.join(work, 'r3')), { onOutput: (s) => said.push(s) });
  assert.equal(runs, 3, 'the second bootstrap of the same inputs came from the cache');
  assert.match(said.join(''), /saved the bootstrap[\s\S]*unpacked the cached bootstrap/);
  assert.equal(readFileSync(path.join(work, 'r3/etc/hostname'), 'utf8'), 'base\n');
  assert.equal(readlinkSync(path.join(work, 'r3/etc/link')), 'hostname');
  assert.equal(lstatSync(path.join(work, 'r3/tool')).mode & 0o7777, 0o4755, 'modes, setuid included, survive');
  assert.deepEqual(readdirSync(path.join(work, 'cache')).filter((f) => f.endsWith('.partial')), []);
  await cachedBootstrap(['b'], path.join(work, 'r4'), bootstrap(path.join(work, 'r4')));
  assert.equal(runs, 4, 'other inputs bootstrap again');
  assert.equal(execFileSync('tar', ['-tf', path.join(work, 'cache', readdirSync(path.join(work, 'cache'))[0]!)], { encoding: 'utf8' }).includes('./etc/hostname'), true);
});
