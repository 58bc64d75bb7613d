/**
 * `kiln cache ls` and `kiln cache prune` (issue 16) as a user runs them (bin/kiln) against a real server whose
 * store holds step cache entries of two accounts, written directly to it: what each account sees, the admin's
 * view of all, LRU order of pruning, the field-naming errors of the route, and the note that the layers go at
 * the next garbage collection.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import test from 'node:test';
import { openStore } from '../../src/app/server-start.js';
import { kilnRequest } from '../../src/cli/kiln-client.js';
import { createAccount } from '../../src/service/accounts.js';
import type { Store } from '../../src/store/store.js';
import { execLocal } from '../../src/toe/instance/local.js';
import { startFixture } from '../api/fixture.js';

const kiln = resolve('bin/kiln');
const key = (c: string): string => c.repeat(64);
const MiB = 1024 ** 2;

test('kiln cache ls and prune: an account sees and frees its own entries, least recently used first; the admin sees all', { timeout: 120_000 }, async (t) => {
  const f = await startFixture(t);
  const store: Store = openStore(f.dataDir);
  t.after(() => store.close());
  const { account: team, key: teamKey } = await createAccount(store, 'team');
  const admin = (await store.listAccounts()).find((a) => a.admin)!;
  const put = async (c: string, accountId: string, label: string, size: number) => {
    await store.putCacheEntry({ key: key(c), accountId, kind: 'layer', label, size, entry: { layer: { digest: `sha256:${key(c)}`, size } } });
    await new Promise((res) => setTimeout(res, 5));
  };
  await put('a', team.accountId, 'component/apt/1.0.0/1', 100 * MiB);
  await put('b', team.accountId, 'component/files/1.0.0/1', 10 * MiB);
  await put('c', admin.accountId, 'Dockerfile lines 1-3', 1 * MiB);
  await put('d', team.accountId, 'component/last/1.0.0/1', 5 * MiB);
  await store.touchCacheEntries([key('a')]);

  const env = (k: { accessKeyId: string; secretAccessKey: string }) => ({ ...process.env, AWS_ACCESS_KEY_ID: k.accessKeyId, AWS_SECRET_ACCESS_KEY: k.secretAccessKey, KILN_ENDPOINT_URL: f.server.endpoint, AWS_REGION: 'local' });
  const teamEnv = env(teamKey);
  const adminEnv = env(f.credentials);
  const run = (args: string[], e: NodeJS.ProcessEnv) => execLocal(['node', kiln, 'cache', ...args], { env: e as Record<string, string>, timeoutMs: 30_000 });

  const ls = await run(['ls', '--json'], teamEnv);
  assert.equal(ls.exitCode, 0, ls.stderr);
  const mine = JSON.parse(ls.stdout) as Record<string, unknown>[];
  assert.deepEqual(mine.map((e) => e.label), ['component/apt/1.0.0/1', 'component/last/1.0.0/1', 'component/files/1.0.0/1'], 'the account\'s own, most recently used first');
  assert.deepEqual(Object.keys(mine[0]!), ['key', 'kind', 'label', 'size', 'createdAt', 'lastUsedAt']);
  assert.deepEqual([mine[0]!.key, mine[0]!.kind, mine[0]!.size], [key('a'), 'layer', 100 * MiB]);

  const all = JSON.parse((await run(['ls', '--json'], adminEnv)).stdout) as Record<string, unknown>[];
  assert.deepEqual(all.map((e) => [e.accountId, e.label]), [
    [team.accountId, 'component/apt/1.0.0/1'],
    [team.accountId, 'component/last/1.0.0/1'],
    [admin.accountId, 'Dockerfile lines 1-3'],
    [team.accountId, 'component/files/1.0.0/1'],
  ], 'the admin sees every account, with the account');

  const table = await run(['ls'], teamEnv);
  assert.match(table.stdout, /^KEY\s+KIND\s+SIZE\s+LAST USED\s+CREATED\s+LABEL\naaaaaaaaaaaa\s+layer\s+100\.0 MiB\s+\S+\s+\S+\s+component\/apt\/1\.0\.0\/1\n/);
  assert.match(table.stderr, /3 entries, 115\.0 MiB/);

  // 115 MiB, keep 104 MiB: the least recently used (files, 10 MiB) and then last (5 MiB) go; apt was used last.
  const pruned = await run(['prune', '--keep-storage', '104m', '--json'], teamEnv);
  assert.equal(pruned.exitCode, 0, pruned.stderr);
  const answer = JSON.parse(pruned.stdout) as { removed: { label: string }[]; bytes: number; note: string };
  assert.deepEqual(answer.removed.map((e) => e.label), ['component/files/1.0.0/1', 'component/last/1.0.0/1']);
  assert.equal(answer.bytes, 15 * MiB);
  assert.match(answer.note, /next garbage collection/);
  assert.deepEqual((await store.listCacheEntries()).map((e) => e.label), ['component/apt/1.0.0/1', 'Dockerfile lines 1-3']);

  const text = await run(['prune', '--all'], teamEnv);
  assert.equal(text.exitCode, 0, text.stderr);
  assert.equal(text.stdout, `deleted aaaaaaaaaaaa  component/apt/1.0.0/1\nremoved 1 entries, 100.0 MiB; the layers and disks of removed entries are freed by the next garbage collection\n`);
  assert.deepEqual((await store.listCacheEntries()).map((e) => e.label), ['Dockerfile lines 1-3'], 'another account\'s entry stays');
  const empty = await run(['ls'], teamEnv);
  assert.deepEqual([empty.exitCode, empty.stdout, empty.stderr], [0, 'KEY  KIND  SIZE  LAST USED  CREATED  LABEL\n', 'no step cache entries\n']);

  // Bad usage is refused before any request (exit 2); the route names the field of a bad body.
  for (const args of [['prune'], ['prune', '--all', '--keep-storage', '1g'], ['prune', '--keep-storage', 'lots']]) {
    const r = await run(args, teamEnv);
    assert.equal(r.exitCode, 2, `${args.join(' ')}: ${r.stderr}`);
  }
  assert.match((await run(['prune', '--keep-storage', 'lots'], teamEnv)).stderr, /--keep-storage: "lots" is not a size/);
  const target = { endpoint: f.server.endpoint, region: 'local', credentials: { ...teamKey, source: 'test' } };
  const bad = async (body: unknown) => {
    const r = await kilnRequest(target, { method: 'POST', path: '/kiln/cache/prune', body });
    return [r.status, r.body.__type, r.body.message];
  };
  assert.deepEqual(await bad({ keepBytes: -1 }), [400, 'InvalidParameterValueException', 'keepBytes: must be a whole number of bytes, 0 or more.']);
  assert.deepEqual(await bad({ all: 'yes' }), [400, 'InvalidParameterValueException', 'all: must be true or false.']);
  assert.deepEqual((await bad({ all: true, keepBytes: 0 })).slice(0, 2), [400, 'InvalidParameterCombinationException']);
  assert.deepEqual((await bad({})).slice(0, 2), [400, 'InvalidParameterException']);
  assert.deepEqual((await bad({ everything: true })).slice(0, 2), [400, 'InvalidParameterException']);
  const unsigned = await fetch(`${f.server.endpoint}/kiln/cache`);
  assert.notEqual(unsigned.status, 200, 'the routes are signed');
  assert.deepEqual((await store.listCacheEntries()).length, 1, 'refused prunes removed nothing');

  const completion = await execLocal(['node', kiln, 'completion', 'bash'], { timeoutMs: 30_000 });
  assert.match(completion.stdout, /'cache'\) echo 'ls prune help'/);
  assert.match(completion.stdout, /'cache prune'\) echo '--all --keep-storage --json /);
});
