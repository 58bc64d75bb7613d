/**
 * Revoking access keys against a running Kiln and real clients: a key made Inactive or deleted with the real
 * `bin/kiln accounts keys` (a separate process writing the shared SQLite store) is refused at once by the
 * stock Image Builder SDK, the aws CLI, a signed /kiln/ route and skopeo against the registry; enabled again it
 * works; and `keys list --json` shows its last use moving, at most once a minute.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import test from 'node:test';
import { promisify } from 'node:util';
import { ListComponentsCommand } from '@aws-sdk/client-imagebuilder';
import { FsBlobStore } from '../../src/artifacts/blob-store.js';
import { exportLayout } from '../../src/artifacts/oci/image.js';
import { hasTool } from '../../src/artifacts/oci/testing.js';
import { kilnRequest } from '../../src/cli/kiln-client.js';
import { TestClock } from '../../src/domain/clock.js';
import { execLocal } from '../../src/toe/instance/local.js';
import { scratchDir } from '../helpers/action-context.js';
import { makeTestImage } from '../helpers/registry.js';
import { startFixture } from './fixture.js';

const execFileAsync = promisify(execFile);
const kiln = resolve('bin/kiln');
const hasAws = ['/usr/bin/aws', '/usr/local/bin/aws'].some((p) => existsSync(p));
const skip = !hasAws ? 'needs the aws CLI (Debian package awscli)' : !hasTool('skopeo') ? 'needs skopeo' : false;

interface Key {
  accessKeyId: string;
  secretAccessKey: string;
}

interface ListedKey {
  accessKeyId: string;
  status: string;
  createdAt: string;
  lastUsed: string | null;
}

test('a disabled or deleted key is refused at once by the SDK, the aws CLI, /kiln/ routes and the registry', { skip, timeout: 180_000 }, async (t) => {
  const start = new Date(Math.floor(Date.now() / 1000) * 1000);
  const clock = new TestClock(start);
  const f = await startFixture(t, { clock });
  const dir = await scratchDir(t, 'kiln-keys-');

  /** Runs the real `kiln` CLI on the server's data directory, as an admin would while it serves. */
  const cli = async (...args: string[]) => {
    const r = await execLocal(['node', kiln, 'accounts', ...args, '--data-dir', f.dataDir], { timeoutMs: 30_000 });
    return { ...r, json: r.exitCode === 0 && args.includes('--json') ? (JSON.parse(r.stdout) as unknown) : undefined };
  };
  const ok = async (...args: string[]) => {
    const r = await cli(...args);
    assert.equal(r.exitCode, 0, `kiln accounts ${args.join(' ')}: ${r.stderr}`);
    return r;
  };

  const account = (await ok('create', 'team', '--json')).json as Key & { accountId: string };
  const key: Key = { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey };
  const listKeys = async () => (await ok('keys', 'list', 'team', '--json')).json as ListedKey[];
  assert.deepEqual((await listKeys()).map((k) => [k.accessKeyId, k.status, k.lastUsed]), [[key.accessKeyId, 'Active', null]]);

  // The four ways in, each returning whether the key was accepted (and insisting on the refusal's shape).
  const viaSdk = async (): Promise<boolean> => {
    try {
      await f.client(key).send(new ListComponentsCommand({}));
      return true;
    } catch (err) {
      const e = err as Error & { $metadata?: { httpStatusCode?: number } };
      assert.equal(e.name, 'UnrecognizedClientException');
      assert.equal(e.message, 'The security token included in the request is invalid.');
      assert.equal(e.$metadata?.httpStatusCode, 403);
      return false;
    }
  };
  const awsEnv = { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey, AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'), AWS_DEFAULT_REGION: 'local', AWS_PAGER: '' };
  const viaAwsCli = async (): Promise<boolean> => {
    const r = await execLocal(['aws', '--endpoint-url', f.server.endpoint, 'imagebuilder', 'list-components'], { env: awsEnv, timeoutMs: 60_000, cwd: dir });
    if (r.exitCode === 0) return true;
    assert.match(r.stderr, /UnrecognizedClientException/, r.stderr);
    assert.match(r.stderr, /The security token included in the request is invalid/);
    return false;
  };
  const viaKilnRoute = async (): Promise<boolean> => {
    const r = await kilnRequest({ endpoint: f.server.endpoint, region: 'local', credentials: { ...key, source: 'test' } }, { method: 'GET', path: '/kiln/machine-images' });
    if (r.status === 200) return true;
    assert.equal(r.status, 403);
    assert.equal(r.body.__type, 'UnrecognizedClientException');
    return false;
  };
  const ref = `docker://${f.server.registryHost}/team/app:v1`;
  const viaRegistry = async (): Promise<boolean> => {
    const basic = await fetch(`${f.server.endpoint}/v2/team/app/tags/list`, { headers: { authorization: `Basic ${Buffer.from(`${key.accessKeyId}:${key.secretAccessKey}`).toString('base64')}` } });
    try {
      await execFileAsync('skopeo', ['inspect', '--tls-verify=false', '--creds', `${key.accessKeyId}:${key.secretAccessKey}`, ref], { encoding: 'utf8' });
    } catch (err) {
      assert.match(String((err as { stderr?: string }).stderr), /unauthorized|401/i);
      assert.equal(basic.status, 401);
      return false;
    }
    assert.equal(basic.status, 200);
    return true;
  };
  const everywhere = async () => ({ sdk: await viaSdk(), aws: await viaAwsCli(), route: await viaKilnRoute(), registry: await viaRegistry() });
  const all = (accepted: boolean) => ({ sdk: accepted, aws: accepted, route: accepted, registry: accepted });

  // The key pushes an image with skopeo, so the registry has something for it to read.
  const blobs = new FsBlobStore(join(dir, 'blobs'));
  const image = await makeTestImage(blobs, { 'etc/hello.txt': 'hello\n' });
  await exportLayout(blobs, image.manifestDigest, join(dir, 'layout'), 'v1');
  await execFileAsync('skopeo', ['copy', '--quiet', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', `${key.accessKeyId}:${key.secretAccessKey}`, `oci:${join(dir, 'layout')}:v1`, ref]);
  assert.deepEqual(await everywhere(), all(true), 'a new key works everywhere');

  let [listed] = await listKeys();
  assert.equal(listed?.lastUsed, start.toISOString(), 'the first use is recorded');
  clock.advance(30_000);
  await viaSdk();
  [listed] = await listKeys();
  assert.equal(listed?.lastUsed, start.toISOString(), 'within the minute, uses are not written again');
  clock.advance(31_000);
  await viaSdk();
  [listed] = await listKeys();
  assert.equal(listed?.lastUsed, new Date(start.getTime() + 61_000).toISOString(), 'a minute later, the use is written');

  const disabled = await ok('keys', 'disable', account.accountId, key.accessKeyId, '--json');
  assert.equal((disabled.json as ListedKey).status, 'Inactive');
  assert.deepEqual(await everywhere(), all(false), 'a disabled key is refused at once, without a restart');
  [listed] = await listKeys();
  assert.equal(listed?.status, 'Inactive');
  assert.equal(listed?.lastUsed, new Date(start.getTime() + 61_000).toISOString(), 'refused requests are no use of the key');

  await ok('keys', 'enable', 'team', key.accessKeyId);
  assert.deepEqual(await everywhere(), all(true), 'enabled again, the key works');

  const second = (await ok('keys', 'create', 'team', '--json')).json as Key & { status: string };
  assert.equal(second.status, 'Active');
  assert.equal(await viaSdk(), true);
  await ok('keys', 'delete', 'team', key.accessKeyId);
  assert.deepEqual(await everywhere(), all(false), 'a deleted key is refused');
  assert.deepEqual((await listKeys()).map((k) => k.accessKeyId), [second.accessKeyId]);
  const other = await f.client(second).send(new ListComponentsCommand({}));
  assert.deepEqual(other.componentVersionList, [], "the account's other key still works");
});

test("the admin's last active key is kept unless --force, and then refused like any other", { timeout: 60_000 }, async (t) => {
  const f = await startFixture(t);
  const admin = f.credentials;
  const accounts = JSON.parse((await execLocal(['node', kiln, 'accounts', 'list', '--json', '--data-dir', f.dataDir], { timeoutMs: 30_000 })).stdout) as { accountId: string; admin: boolean }[];
  const adminId = accounts.find((a) => a.admin)!.accountId;
  const keys = (...args: string[]) => execLocal(['node', kiln, 'accounts', 'keys', ...args, '--data-dir', f.dataDir], { timeoutMs: 30_000 });

  const refused = await keys('disable', adminId, admin.accessKeyId);
  assert.equal(refused.exitCode, 1);
  assert.match(refused.stderr, new RegExp(`access key '${admin.accessKeyId}' is the last active key of the admin account ${adminId}`));
  assert.match(refused.stderr, /--force/);
  assert.equal((await keys('delete', adminId, admin.accessKeyId)).exitCode, 1);
  assert.deepEqual((await f.client().send(new ListComponentsCommand({}))).componentVersionList, [], 'still works');

  const forced = await keys('disable', adminId, admin.accessKeyId, '--force');
  assert.equal(forced.exitCode, 0, forced.stderr);
  assert.match(forced.stderr, /has no active access key left/);
  assert.match(forced.stderr, /credentials file names the disabled key/);
  assert.doesNotMatch(forced.stderr, new RegExp(f.dataDir), 'messages name no host path');
  await assert.rejects(f.client().send(new ListComponentsCommand({})), { name: 'UnrecognizedClientException' });
  assert.equal((await keys('enable', adminId, admin.accessKeyId)).exitCode, 0);
  assert.deepEqual((await f.client().send(new ListComponentsCommand({}))).componentVersionList, []);

  // With a second key, the first may go without --force.
  assert.equal((await keys('create', 'admin')).exitCode, 0);
  const deleted = await keys('delete', 'admin', admin.accessKeyId);
  assert.equal(deleted.exitCode, 0, deleted.stderr);
  assert.doesNotMatch(deleted.stderr, /no active access key left/);
});
