import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import { execLocal } from '../../src/toe/instance/local.js';
import { scratchDir } from '../helpers/action-context.js';
import { startFixture } from './fixture.js';

const hasAws = ['/usr/bin/aws', '/usr/local/bin/aws'].some((p) => existsSync(p));

test('the aws CLI drives Kiln unchanged: components create, get, list, delete, errors', { skip: hasAws ? false : 'needs the aws CLI (Debian package awscli)' }, async (t) => {
  const f = await startFixture(t);
  const dir = await scratchDir(t);
  const env = {
    AWS_SHARED_CREDENTIALS_FILE: f.server.credentialsPath,
    AWS_CONFIG_FILE: join(dir, 'no-config'),
    AWS_DEFAULT_REGION: 'local',
    AWS_PAGER: '',
  };
  const aws = async (...args: string[]) => {
    const r = await execLocal(['aws', '--endpoint-url', f.server.endpoint, '--output', 'json', 'imagebuilder', ...args], { env, timeoutMs: 60_000, cwd: dir });
    return { ...r, json: r.exitCode === 0 && r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined };
  };
  await writeFile(join(dir, 'doc.yaml'), 'schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Hello\n        action: ExecuteBash\n        inputs:\n          commands: [echo hello]\n');

  const created = await aws('create-component', '--name', 'Hello CLI', '--semantic-version', '1.0.0', '--platform', 'Linux', '--data', 'file://doc.yaml');
  assert.equal(created.exitCode, 0, created.stderr);
  const arn = created.json!.componentBuildVersionArn as string;
  assert.match(arn, /^arn:aws:imagebuilder:local:\d{12}:component\/hello-cli\/1\.0\.0\/1$/);

  const got = await aws('get-component', '--component-build-version-arn', arn);
  assert.equal(got.exitCode, 0, got.stderr);
  assert.equal((got.json!.component as { name: string }).name, 'Hello CLI');

  const listed = await aws('list-components');
  assert.equal(listed.exitCode, 0, listed.stderr);
  assert.deepEqual((listed.json!.componentVersionList as { name: string }[]).map((c) => c.name), ['Hello CLI']);

  const bad = await aws('create-component', '--name', 'broken', '--semantic-version', '1.0.0', '--platform', 'Linux', '--data', 'schemaVersion: 1.0\nphases: []');
  assert.notEqual(bad.exitCode, 0);
  assert.match(bad.stderr, /InvalidParameterValueException|InvalidRequestException/);
  assert.match(bad.stderr, /phases/);

  const deleted = await aws('delete-component', '--component-build-version-arn', arn);
  assert.equal(deleted.exitCode, 0, deleted.stderr);
  const missing = await aws('get-component', '--component-build-version-arn', arn);
  assert.notEqual(missing.exitCode, 0);
  assert.match(missing.stderr, /ResourceNotFoundException/);

  const unsigned = await execLocal(['aws', '--endpoint-url', f.server.endpoint, '--no-sign-request', 'imagebuilder', 'list-components'], { env, timeoutMs: 60_000 });
  assert.notEqual(unsigned.exitCode, 0);
  assert.match(unsigned.stderr, /MissingAuthenticationToken|AccessDenied|UnrecognizedClient|InvalidSignature/);
});
