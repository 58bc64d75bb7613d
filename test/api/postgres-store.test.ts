import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateComponentCommand, GetComponentCommand, ListComponentsCommand } from '@aws-sdk/client-imagebuilder';
import { postgresUnavailable, startPostgres, type LocalPostgres } from '../helpers/postgres.js';
import { SAY_HI_DOCUMENT, startFixture } from './fixture.js';

const run = promisify(execFile);
const kiln = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../src/cli/main.js');

// Needs root and Debian's postgresql-15: the test starts its own throwaway cluster as the postgres user.
const skip = postgresUnavailable();
let server: LocalPostgres | undefined;
before(async () => {
  if (!skip) server = await startPostgres();
});
after(() => server?.stop());

test('kiln serve on PostgreSQL: state outlives the node, a second node with the shared key reads it, kiln accounts --config sees it', { skip }, async (t) => {
  const shared = mkdtempSync(path.join(tmpdir(), 'kiln-pg-shared-'));
  t.after(() => rmSync(shared, { recursive: true, force: true }));
  const config = { store: await server!.createDatabase(), secretKeyFile: path.join(shared, 'secret.key') };

  const first = await startFixture(t, { config });
  const created = await first.client().send(
    new CreateComponentCommand({ name: 'hello', semanticVersion: '1.0.0', platform: 'Linux', data: SAY_HI_DOCUMENT, clientToken: 'pg-1' }),
  );
  await first.server.close();

  // Another node: its own data directory, the same database and key file. The admin account and its key come
  // from the database, so the credentials it writes sign for the same account.
  const second = await startFixture(t, { config });
  assert.deepEqual(second.credentials, first.credentials);
  const got = await second.client().send(new GetComponentCommand({ componentBuildVersionArn: created.componentBuildVersionArn! }));
  assert.equal(got.component?.name, 'hello');
  assert.equal(got.component?.data, SAY_HI_DOCUMENT);
  const listed = await second.client().send(new ListComponentsCommand({}));
  assert.deepEqual(listed.componentVersionList?.map((c) => c.arn), [created.componentBuildVersionArn!.replace(/\/1$/, '')]);
  // The client token is remembered by the database, not by the node that first saw it.
  const again = await second.client().send(
    new CreateComponentCommand({ name: 'hello', semanticVersion: '1.0.0', platform: 'Linux', data: SAY_HI_DOCUMENT, clientToken: 'pg-1' }),
  );
  assert.equal(again.componentBuildVersionArn, created.componentBuildVersionArn);

  const configFile = path.join(shared, 'kiln.yaml');
  writeFileSync(configFile, `store: ${config.store}\nsecretKeyFile: ${config.secretKeyFile}\n`);
  const { stdout } = await run(process.execPath, [kiln, 'accounts', 'list', '--json', '--config', configFile, '--data-dir', path.join(shared, 'cli')]);
  assert.deepEqual(
    (JSON.parse(stdout) as { admin: boolean }[]).filter((a) => a.admin).length,
    1,
    'one admin account, made by the first node only',
  );
});

test('a store that cannot be reached is named without its password', { skip }, async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-pg-bad-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const configFile = path.join(dataDir, 'kiln.yaml');
  writeFileSync(configFile, 'store: postgres://kiln:hunter2@127.0.0.1:1/kiln\n');
  const failed = await run(process.execPath, [kiln, 'accounts', 'list', '--config', configFile, '--data-dir', dataDir]).then(
    () => assert.fail('kiln accounts list succeeded without a database'),
    (err: { stderr: string; code: number }) => err,
  );
  assert.notEqual(failed.code, 0);
  assert.match(failed.stderr, /store: cannot open PostgreSQL at postgres:\/\/kiln:\*\*\*@127\.0\.0\.1:1\/kiln/);
  assert.doesNotMatch(failed.stderr, /hunter2/);
});
