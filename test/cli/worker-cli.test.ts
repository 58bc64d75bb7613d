/**
 * `kiln worker` and `kiln serve --roles`, run as a user runs them: a worker prints where its node listener is,
 * answers /healthz there and serves no API; a bad role list is a usage error naming --roles.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import test from 'node:test';
import { execLocal } from '../../src/toe/instance/local.js';
import { scratchDir } from '../helpers/action-context.js';

const kiln = resolve('bin/kiln');

test('kiln worker: a node listener with /healthz and no API; SIGTERM exits 0', async (t) => {
  const dir = await scratchDir(t, 'kiln-worker-');
  const child = spawn('node', [kiln, 'worker', '--data-dir', dir, '--listen', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KILN_PREFETCH_BASES: '0' } });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`kiln worker did not start:\n${out}`)), 30_000);
    child.stdout.on('data', (c: Buffer) => {
      out += String(c);
      if (out.endsWith('\n')) {
        clearTimeout(timer);
        res();
      }
    });
  });
  const info = JSON.parse(out) as { endpoint: string; nodeId: string; roles: string[]; credentialsPath: string; consoleUrl: string };
  assert.match(info.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.deepEqual(info.roles, ['worker']);
  assert.match(info.nodeId, new RegExp(`/${child.pid}/[0-9a-f]{8}$`), 'the node id is <host>/<pid>/<nonce>');
  assert.deepEqual([info.credentialsPath, info.consoleUrl], ['', '']);
  assert.equal(existsSync(join(dir, 'credentials')), false, 'a worker writes no admin credentials');
  assert.deepEqual(await (await fetch(`${info.endpoint}/healthz`)).json(), { status: 'ok' });
  assert.equal((await fetch(`${info.endpoint}/console/`)).status, 404);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('kiln serve --roles: an unknown or empty role list is a usage error naming --roles', async () => {
  for (const roles of ['api,builder', '']) {
    const r = await execLocal(['node', kiln, 'serve', '--roles', roles, '--data-dir', '/nonexistent/kiln'], { timeoutMs: 30_000 });
    assert.equal(r.exitCode, 2, r.stderr);
    assert.match(r.stderr, /^kiln serve: --roles takes a comma-separated list of api, scheduler, worker; got /);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const bad = await execLocal(['node', kiln, 'worker', '--advertise', 'ftp://x', '--data-dir', '/nonexistent/kiln'], { timeoutMs: 30_000 });
  assert.equal(bad.exitCode, 2, bad.stderr);
  assert.match(bad.stderr, /--advertise must be an http\(s\) base URL/);
});
