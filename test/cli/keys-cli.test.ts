/**
 * `kiln accounts keys …` as an admin runs it on a data directory: its output, text and JSON, and its errors
 * (one line naming what was wrong, a non-zero exit status).
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import test from 'node:test';
import { execLocal } from '../../src/toe/instance/local.js';
import { scratchDir } from '../helpers/action-context.js';

const kiln = resolve('bin/kiln');

test('kiln accounts keys: list, create, disable, enable, delete and their errors', { timeout: 120_000 }, async (t) => {
  const dir = await scratchDir(t, 'kiln-keys-cli-');
  const run = (...args: string[]) => execLocal(['node', kiln, 'accounts', ...args, '--data-dir', dir], { timeoutMs: 30_000 });
  const ok = async (...args: string[]) => {
    const r = await run(...args);
    assert.equal(r.exitCode, 0, `kiln accounts ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const fails = async (pattern: RegExp, ...args: string[]) => {
    const r = await run(...args);
    assert.notEqual(r.exitCode, 0, `kiln accounts ${args.join(' ')} succeeded`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /KilnError|at .*\.js:\d+/, 'no error class or stack trace');
    return r;
  };

  const account = JSON.parse((await ok('create', 'team-a', '--json')).stdout) as { accountId: string; accessKeyId: string; secretAccessKey: string };
  const first = account.accessKeyId;

  // list: by id or by name; text and JSON.
  const text = (await ok('keys', 'list', 'team-a')).stdout;
  assert.match(text, new RegExp(`^ACCESS KEY ID +STATUS  CREATED +LAST USED\\n${first}  Active  \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z  never\\n$`));
  assert.ok(!text.includes(account.secretAccessKey), 'listings never show secrets');
  const listed = JSON.parse((await ok('keys', 'list', account.accountId, '--json')).stdout) as Record<string, unknown>[];
  assert.deepEqual(Object.keys(listed[0]!), ['accessKeyId', 'accountId', 'status', 'createdAt', 'lastUsed']);
  assert.deepEqual(listed.map((k) => [k.accessKeyId, k.accountId, k.status, k.lastUsed]), [[first, account.accountId, 'Active', null]]);

  // create: the secret is printed once, in the credentials file's words.
  const created = await ok('keys', 'create', 'team-a');
  const m = /^Account (\d{12}) \(team-a\)\naws_access_key_id = (AKIA[A-Z2-7]{16})\naws_secret_access_key = (\S{40})\n$/.exec(created.stdout);
  assert.ok(m, created.stdout);
  assert.equal(m[1], account.accountId);
  assert.match(created.stderr, /shown only now/);
  const second = m[2]!;
  const createdJson = JSON.parse((await ok('keys', 'create', account.accountId, '--json')).stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(createdJson), ['accountId', 'accessKeyId', 'secretAccessKey', 'status', 'createdAt']);
  assert.equal(createdJson.status, 'Active');
  const third = createdJson.accessKeyId as string;

  // disable / enable: repeatable, and shown by list.
  assert.equal((await ok('keys', 'disable', 'team-a', first)).stdout, `Access key ${first} of account ${account.accountId} (team-a) is Inactive\n`);
  assert.equal((await ok('keys', 'disable', 'team-a', first)).exitCode, 0, 'disabling twice is no error');
  assert.deepEqual((JSON.parse((await ok('keys', 'list', 'team-a', '--json')).stdout) as { status: string }[]).map((k) => k.status), ['Inactive', 'Active', 'Active']);
  const enabled = JSON.parse((await ok('keys', 'enable', 'team-a', first, '--json')).stdout) as { accessKeyId: string; status: string };
  assert.deepEqual([enabled.accessKeyId, enabled.status], [first, 'Active']);

  // delete: IAM lets any key of an ordinary account go, the last one with a warning.
  assert.equal((await ok('keys', 'delete', 'team-a', second)).stdout, `Deleted access key ${second} of account ${account.accountId} (team-a)\n`);
  assert.deepEqual(JSON.parse((await ok('keys', 'delete', 'team-a', third, '--json')).stdout), { accessKeyId: third, accountId: account.accountId, deleted: true });
  const last = await ok('keys', 'disable', 'team-a', first);
  assert.match(last.stderr, new RegExp(`warning: account ${account.accountId} \\(team-a\\) has no active access key left`));
  await ok('keys', 'delete', 'team-a', first);
  // An empty listing: the header alone on stdout (as podman prints it), a note on stderr.
  const none = await ok('keys', 'list', 'team-a');
  assert.equal(none.stdout, 'ACCESS KEY ID  STATUS  CREATED  LAST USED\n');
  assert.equal(none.stderr, 'no access keys\n');

  // Errors name what was not found and exit non-zero.
  await fails(/^kiln accounts keys list: account 'nobody' does not exist/, 'keys', 'list', 'nobody');
  await fails(/account '999999999999' does not exist/, 'keys', 'create', '999999999999');
  await fails(new RegExp(`^kiln accounts keys disable: access key 'AKIANOSUCHKEY2345678' is not a key of account ${account.accountId} \\(team-a\\)`), 'keys', 'disable', 'team-a', 'AKIANOSUCHKEY2345678');
  await fails(new RegExp(`^kiln accounts keys enable: access key '${first}' is not a key of account`), 'keys', 'enable', 'team-a', first);
  await fails(new RegExp(`^kiln accounts keys delete: access key '${first}' is not a key of account`), 'keys', 'delete', 'team-a', first);
  // Another account's key is not this account's to change.
  const other = JSON.parse((await ok('create', 'team-b', '--json')).stdout) as { accessKeyId: string };
  await fails(/is not a key of account/, 'keys', 'disable', 'team-a', other.accessKeyId);
  // A name two accounts share must be replaced by the id.
  await ok('create', 'team-b');
  await fails(/account name 'team-b' is shared by accounts \d{12}, \d{12}: name the account by its id/, 'keys', 'list', 'team-b');
  // Commander's own usage errors are bad usage: 2.
  assert.equal((await run('keys', 'disable', 'team-a')).exitCode, 2);
});
