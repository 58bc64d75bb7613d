import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import test from 'node:test';
import { execLocal } from '../../src/toe/instance/local.js';
import { scratchDir } from '../helpers/action-context.js';

const kiln = resolve('bin/kiln');
const run = (args: string[], cwd: string) => execLocal(['node', kiln, ...args], { cwd, timeoutMs: 60_000 });

const GOOD = 'schemaVersion: 1.0\nparameters:\n  - Name:\n      type: string\n      default: x\nphases:\n  - name: build\n    steps:\n      - name: Say\n        action: ExecuteBash\n        inputs:\n          commands: ["echo hi {{ Name }}"]\n';
const BAD = 'schemaVersion: 2\nphases:\n  - name: build\n    steps:\n      - name: Say\n        action: Nope\n';

test('kiln toe validate: valid and invalid documents, exit status, issues with paths', async (t) => {
  const dir = await scratchDir(t);
  await writeFile(join(dir, 'good.yaml'), GOOD);
  await writeFile(join(dir, 'bad.yaml'), BAD);
  const ok = await run(['toe', 'validate', '--documents', 'good.yaml'], dir);
  assert.equal(ok.exitCode, 0);
  assert.match(ok.stdout, /good\.yaml: valid/);
  const bad = await run(['toe', 'validate', '-d', 'good.yaml,bad.yaml'], dir);
  assert.equal(bad.exitCode, 1);
  assert.match(bad.stdout, /bad\.yaml: invalid\n {2}schemaVersion: unsupported schema version 2/);
  assert.match(bad.stdout, /phases\[0\]\.steps\[0\]\.action: unknown action module "Nope"/);
  const missing = await run(['toe', 'validate', '-d', 'nope.yaml'], dir);
  assert.equal(missing.exitCode, 2);
  assert.match(missing.stderr, /--documents nope\.yaml: no such file/);
});

test('kiln toe run: summary on stdout, live output on stderr, log folder, exit status', async (t) => {
  const dir = await scratchDir(t);
  await writeFile(join(dir, 'good.yaml'), GOOD);
  const r = await run(['toe', 'run', '-d', 'good.yaml', '--parameters', 'Name=there', '-i', 'cli-1', '-l', 'logs'], dir);
  assert.equal(r.exitCode, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { status: string; executionId: string; logUrl: string; executedStepCount: number };
  assert.equal(summary.status, 'Success');
  assert.equal(summary.executionId, 'cli-1');
  assert.equal(summary.executedStepCount, 1);
  assert.match(r.stderr, /Step Say \(ExecuteBash\)\nhi there\n/);
  const [folder] = await readdir(join(dir, 'logs'));
  assert.equal(join(dir, 'logs', folder!), summary.logUrl);

  await writeFile(join(dir, 'fail.yaml'), GOOD.replace('echo hi', 'exit 4; echo'));
  const f = await run(['toe', 'run', '-d', 'fail.yaml', '-l', 'logs'], dir);
  assert.equal(f.exitCode, 1);
  assert.match(JSON.parse(f.stdout).failureMessage as string, /exited with code 4/);
});

test('kiln toe run --config: documents with their own parameters, phases, execution id', async (t) => {
  const dir = await scratchDir(t);
  await writeFile(join(dir, 'good.yaml'), GOOD);
  await writeFile(join(dir, 'config.json'), JSON.stringify({
    documents: [{ path: 'good.yaml', parameters: [{ name: 'Name', value: 'from-config' }] }],
    phases: 'build',
    executionId: 'cfg-1',
    logDirectory: 'cfglogs',
  }));
  const r = await run(['toe', 'run', '-c', 'config.json'], dir);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stderr, /hi from-config/);
  const [folder] = await readdir(join(dir, 'cfglogs'));
  assert.match(folder!, /_cfg-1$/);
  const detailed = JSON.parse(await readFile(join(dir, 'cfglogs', folder!, 'detailedoutput.json'), 'utf8')) as { executionId: string };
  assert.equal(detailed.executionId, 'cfg-1');
});

test('kiln toe run: bad flags and bad config files get one clear line and exit 2', async (t) => {
  const dir = await scratchDir(t);
  await writeFile(join(dir, 'good.yaml'), GOOD);
  await writeFile(join(dir, 'broken.json'), '{ "documents": [');
  await writeFile(join(dir, 'unknown.json'), '{ "documentz": [] }');
  await writeFile(join(dir, 'both.json'), JSON.stringify({ documents: [{ path: 'good.yaml' }], parameters: [{ name: 'Name', value: 'a' }] }));
  const cases: [string[], RegExp][] = [
    [['toe', 'run'], /give exactly one of --documents and --config/],
    [['toe', 'run', '-d', 'good.yaml', '-c', 'broken.json'], /give exactly one of --documents and --config/],
    [['toe', 'run', '-c', 'broken.json'], /--config broken\.json: .*JSON/],
    [['toe', 'run', '-c', 'unknown.json'], /--config unknown\.json: unknown key "documentz"/],
    [['toe', 'run', '-c', 'both.json', '--parameters', 'Name=b'], /parameters are given both in --config and with --parameters/],
    [['toe', 'run', '-d', 'good.yaml', '--parameters', 'oops'], /--parameters: "oops" is not name=value/],
    [['toe', 'run', '-d', 's3://bucket/doc.yaml'], /only local files are supported/],
    [['toe', 'run', '-d', 'good.yaml', '-b', 'bucket'], /log upload to S3 or CloudWatch is not supported/],
  ];
  for (const [args, message] of cases) {
    const r = await run(args, dir);
    assert.equal(r.exitCode, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
  }
});

test('kiln toe run on an invalid document fails before running anything, naming the issues', async (t) => {
  const dir = await scratchDir(t);
  await writeFile(join(dir, 'bad.yaml'), BAD);
  const r = await run(['toe', 'run', '-d', 'bad.yaml', '-l', 'logs'], dir);
  assert.equal(r.exitCode, 1);
  const summary = JSON.parse(r.stdout) as { status: string; failureMessage: string; executedStepCount: number };
  assert.equal(summary.status, 'Failed');
  assert.equal(summary.executedStepCount, 0);
  assert.match(summary.failureMessage, /bad\.yaml is invalid:\n {2}schemaVersion: unsupported/);
});
