import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  CreateComponentCommand,
  GetComponentCommand,
  IdempotentParameterMismatchException,
  ImportComponentCommand,
  InvalidParameterCombinationException,
  InvalidParameterValueException,
  ListComponentsCommand,
  ResourceAlreadyExistsException,
  type ImportComponentCommandInput,
} from '@aws-sdk/client-imagebuilder';
import { parse } from 'yaml';
import { execLocal } from '../../src/toe/instance/local.js';
import { scratchDir } from '../helpers/action-context.js';
import { startFixture } from './fixture.js';

const SCRIPT = '#!/bin/bash\nset -euo pipefail\nGREETING="imported"\necho "hello from the $GREETING script"\nif [ -n "${HOME:-}" ]; then\n  echo "indented: yes"\nfi\n';

/** Runs the `kiln toe` command line from source, so the test checks this tree rather than a stale build. */
const kilnToe = (args: string[]) => execLocal(['node', '--import', 'tsx', resolve('src/cli/main.ts'), 'toe', ...args], { cwd: resolve('.'), timeoutMs: 60_000 });

function input(overrides: Partial<ImportComponentCommandInput> = {}): ImportComponentCommandInput {
  return { name: 'Imported Script', semanticVersion: '1.0.0', type: 'BUILD', format: 'SHELL', platform: 'Linux', data: SCRIPT, ...overrides };
}

interface Doc {
  phases: { name: string; steps: { name: string; action: string; inputs: { commands: string[] } }[] }[];
}

test('ImportComponent SHELL: BUILD and TEST scripts become components that kiln toe validates and runs', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const dir = await scratchDir(t);
  for (const type of ['BUILD', 'TEST'] as const) {
    const name = `imported ${type.toLowerCase()}`;
    const imported = await ib.send(new ImportComponentCommand(input({ name, type, description: 'from a script', changeDescription: 'first import', tags: { source: 'shell' } })));
    const account = /:(\d{12}):/.exec(imported.componentBuildVersionArn ?? '')?.[1];
    assert.equal(imported.componentBuildVersionArn, `arn:aws:imagebuilder:local:${account}:component/imported-${type.toLowerCase()}/1.0.0/1`);
    assert.ok(imported.clientToken);

    const component = (await ib.send(new GetComponentCommand({ componentBuildVersionArn: imported.componentBuildVersionArn }))).component!;
    assert.equal(component.type, type, 'the type follows the phase the script was put in');
    assert.equal(component.name, name);
    assert.equal(component.description, 'from a script');
    assert.equal(component.changeDescription, 'first import');
    assert.equal(component.platform, 'Linux');
    assert.deepEqual(component.tags, { source: 'shell' });
    const doc = parse(component.data!) as Doc;
    assert.match(component.data!, /^schemaVersion: 1\.0$/m);
    assert.deepEqual(doc.phases.map((p) => p.name), [type === 'BUILD' ? 'build' : 'test']);
    assert.equal(doc.phases[0]!.steps.length, 1);
    assert.equal(doc.phases[0]!.steps[0]!.action, 'ExecuteBash');
    assert.deepEqual(doc.phases[0]!.steps[0]!.inputs.commands, [SCRIPT], 'the script is kept byte for byte');

    const file = join(dir, `${type}.yaml`);
    await writeFile(file, component.data!);
    const validated = await kilnToe(['validate', '--documents', file]);
    assert.equal(validated.exitCode, 0, validated.stdout + validated.stderr);
    assert.match(validated.stdout, /: valid/);
    const ran = await kilnToe(['run', '--documents', file, '--phases', type === 'BUILD' ? 'build' : 'test', '--log-directory', join(dir, `logs-${type}`)]);
    assert.equal(ran.exitCode, 0, ran.stdout + ran.stderr);
    assert.equal((JSON.parse(ran.stdout) as { status: string }).status, 'Success');
    assert.match(ran.stderr, /hello from the imported script\nindented: yes/);
  }
  const list = (await ib.send(new ListComponentsCommand({}))).componentVersionList!;
  assert.deepEqual(list.map((c) => [c.name, c.type]), [['imported build', 'BUILD'], ['imported test', 'TEST']]);
});

test('ImportComponent: Windows scripts run through PowerShell', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const { componentBuildVersionArn } = await ib.send(new ImportComponentCommand(input({ platform: 'Windows', data: 'Write-Host "hi"' })));
  const component = (await ib.send(new GetComponentCommand({ componentBuildVersionArn }))).component!;
  assert.equal((parse(component.data!) as Doc).phases[0]!.steps[0]!.action, 'ExecutePowerShell');
  assert.equal(component.platform, 'Windows');
});

test('ImportComponent: shares versions, idempotency and validation with CreateComponent', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const first = await ib.send(new ImportComponentCommand(input({ clientToken: 'import-1' })));
  const again = await ib.send(new ImportComponentCommand(input({ clientToken: 'import-1' })));
  assert.equal(again.componentBuildVersionArn, first.componentBuildVersionArn, 'same token, same input: the first answer');
  assert.equal(again.clientToken, 'import-1');
  await assert.rejects(ib.send(new ImportComponentCommand(input({ clientToken: 'import-1', data: 'echo other' }))), IdempotentParameterMismatchException);
  // Whether a repeated version is refused or gets the next build is CreateComponent's rule; either way the
  // imported component and a created one share the name and version space.
  const create = ib.send(new CreateComponentCommand({ name: 'Imported Script', semanticVersion: '1.0.0', platform: 'Linux', data: 'schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: A\n        action: ExecuteBash\n        inputs:\n          commands: [echo]\n' }));
  const outcome = await create.then(
    (r) => r.componentBuildVersionArn,
    (e: Error) => e,
  );
  if (outcome instanceof Error) assert.ok(outcome instanceof ResourceAlreadyExistsException, `${outcome.name}: ${outcome.message}`);
  else assert.match(String(outcome), /\/imported-script\/1\.0\.0\/2$/);
  const second = await ib.send(new ImportComponentCommand(input({ semanticVersion: '1.1.0' })));
  assert.match(second.componentBuildVersionArn!, /\/imported-script\/1\.1\.0\/1$/);

  const namesFields = (...fields: string[]) => (e: Error) => {
    assert.ok(e instanceof InvalidParameterValueException, `${e.name}: ${e.message}`);
    for (const field of fields) assert.ok(e.message.includes(field), `message names ${field}: ${e.message}`);
    return true;
  };
  await assert.rejects(ib.send(new ImportComponentCommand(input({ type: 'DEPLOY' as 'BUILD', format: 'ZIP' as 'SHELL' }))), namesFields('type', 'format'));
  await assert.rejects(ib.send(new ImportComponentCommand(input({ data: undefined }))), namesFields('data'));
  await assert.rejects(ib.send(new ImportComponentCommand(input({ data: '   \n' }))), namesFields('data'));
  await assert.rejects(ib.send(new ImportComponentCommand(input({ data: 'x'.repeat(16001) }))), namesFields('data', '16000'));
  await assert.rejects(ib.send(new ImportComponentCommand(input({ data: `echo ${'x'.repeat(15900)}` }))), namesFields('data', 'wrapped'));
  await assert.rejects(ib.send(new ImportComponentCommand(input({ name: 'x', semanticVersion: '1.0', platform: 'Plan9' as 'Linux' }))), namesFields('name', 'semanticVersion', 'platform'));
  await assert.rejects(ib.send(new ImportComponentCommand(input({ data: 'echo {{ undefinedThing }}' }))), namesFields('undefinedThing'));
  await assert.rejects(ib.send(new ImportComponentCommand(input({ uri: 's3://bucket/script.sh' }))), InvalidParameterCombinationException);
  await assert.rejects(ib.send(new ImportComponentCommand(input({ data: undefined, uri: 's3://bucket/script.sh' }))), namesFields('uri'));
  assert.equal((await ib.send(new ListComponentsCommand({}))).componentVersionList?.length, 2, 'nothing half-written: versions 1.0.0 and 1.1.0 only');
});
