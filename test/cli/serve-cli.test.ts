import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import test from 'node:test';
import { ImagebuilderClient, ListComponentsCommand } from '@aws-sdk/client-imagebuilder';
import { execLocal } from '../../src/toe/instance/local.js';
import { scratchDir } from '../helpers/action-context.js';
import { readCredentials } from '../api/fixture.js';

const kiln = resolve('bin/kiln');

test('kiln serve: prints where things are, answers /healthz, accounts work while it runs, SIGTERM exits 0', async (t) => {
  const dir = await scratchDir(t, 'kiln-serve-');
  const child = spawn('node', [kiln, 'serve', '--data-dir', dir, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += String(c)));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`kiln serve did not start:\n${out}`)), 20_000);
    child.stdout.on('data', () => {
      if (/Credentials:/.test(out)) {
        clearTimeout(timer);
        res();
      }
    });
  });
  const endpoint = /API at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
  assert.ok(endpoint, out);
  assert.match(out, new RegExp(`Console: +${endpoint}/console/`));
  assert.match(out, new RegExp(`Credentials: ${join(dir, 'credentials')}`));
  assert.equal(statSync(join(dir, 'credentials')).mode & 0o777, 0o600);

  const health = await fetch(`${endpoint}/healthz`);
  assert.equal(health.status, 200);

  const created = await execLocal(['node', kiln, 'accounts', 'create', 'team-a', '--data-dir', dir, '--json'], { timeoutMs: 20_000 });
  assert.equal(created.exitCode, 0, created.stderr);
  const account = JSON.parse(created.stdout) as { accountId: string; accessKeyId: string; secretAccessKey: string };
  assert.match(account.accountId, /^\d{12}$/);
  const listed = await execLocal(['node', kiln, 'accounts', 'list', '--data-dir', dir], { timeoutMs: 20_000 });
  assert.match(listed.stdout, new RegExp(account.accountId));
  // A plain substring test: secrets hold '+' and '/', which a regular expression would read as operators.
  assert.ok(!(listed.stdout + listed.stderr + out).includes(account.secretAccessKey), 'secrets are never printed again');

  // The new account's keys work against the running server at once.
  const client = new ImagebuilderClient({ endpoint, region: 'local', credentials: { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey } });
  t.after(() => client.destroy());
  assert.deepEqual((await client.send(new ListComponentsCommand({}))).componentVersionList, []);
  const admin = readCredentials(join(dir, 'credentials'));
  assert.notEqual(admin.accessKeyId, account.accessKeyId);

  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('kiln serve --json: where things are as one line of JSON once it serves', async (t) => {
  const dir = await scratchDir(t, 'kiln-serve-json-');
  const child = spawn('node', [kiln, 'serve', '--data-dir', dir, '--listen', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`kiln serve did not start:\n${out}`)), 20_000);
    child.stdout.on('data', (c: Buffer) => {
      out += String(c);
      if (out.endsWith('\n')) {
        clearTimeout(timer);
        res();
      }
    });
  });
  const info = JSON.parse(out) as { endpoint: string; regions: string[]; consoleUrl: string; registryHost: string; credentialsPath: string };
  assert.match(info.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.deepEqual(info.regions, ['local']);
  assert.equal(info.consoleUrl, `${info.endpoint}/console/`);
  assert.equal(info.credentialsPath, join(dir, 'credentials'));
  assert.equal((await fetch(`${info.endpoint}/healthz`)).status, 200);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
