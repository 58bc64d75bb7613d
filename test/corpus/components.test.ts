import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import test from 'node:test';
import { actionModules } from '../../src/toe/actions/registry.js';
import { validateDocumentText } from '../../src/toe/document/validate.js';
import type { DetailedOutput, RunSummary } from '../../src/toe/runner/results.js';
import { scratchDir } from '../helpers/action-context.js';
import { componentCorpus, conformanceDir } from '../helpers/corpus.js';
import { runInSandbox, sandboxUnavailable } from '../helpers/sandbox.js';

const dir = conformanceDir();
const modules = actionModules();
const kiln = resolve('bin/kiln');

test('every corpus document gets the verdict SOURCES.md gives it', { skip: dir ? false : 'no shared/conformance beside the checkout' }, async (t) => {
  const entries = componentCorpus(dir!);
  assert.ok(entries.length >= 80, `found ${entries.length} component documents`);
  for (const e of entries) {
    await t.test(e.file, async () => {
      const { issues } = validateDocumentText(await readFile(e.path, 'utf8'), modules);
      if (e.expectValid) {
        assert.deepEqual(issues, [], `${e.file} is ${e.validity}`);
      } else {
        assert.ok(issues.length > 0, `${e.file} should be rejected: ${e.validity}`);
        for (const i of issues) assert.ok(i.path.length > 0, `every issue names a path: ${i.message}`);
      }
    });
  }
});

test('the corpus reasons for rejection are the ones found', { skip: dir ? false : 'no shared/conformance' }, async () => {
  const why = async (file: string) =>
    validateDocumentText(await readFile(join(dir!, 'components', file), 'utf8'), modules).issues.map((i) => `${i.path}: ${i.message}`).join('\n');
  assert.match(await why('cdkghr__issue964-s3download-empty-inputs.yaml'), /phases\[0\]\.steps\[0\]\.inputs: action S3Download has no inputs/);
  assert.match(await why('toadslop__set-file-encoding.yaml'), /step name "SettingFileEncodingProperty" is used twice/);
  assert.match(await why('easyappt__installation-enable-ssh-agent.yaml'), /schemaVersion: unsupported schema version 1\.1/);
  assert.match(await why('ib-samples__chef-recipe-execution-windows.yaml'), /^line \d+, column \d+: YAML syntax error/);
  assert.match(await why('chaunceyyann__python-component.yaml'), /"\{\{ \.AdditionalPackages \}\}" is not a valid reference/);
  assert.match(await why('pcluster__custom_script.yaml'), /refers to step "ScriptUrlScheme" of phase "build", which does not run before this step/);
  assert.match(await why('toadslop__test.yaml'), /"Source" is defined more than once/);
  assert.match(await why('awsdocs__document-schema-skeleton.yaml'), /unknown action module "string"/);
});

interface Run {
  code: number | null;
  summary: RunSummary;
  detailed: DetailedOutput;
  stderr: string;
}

/** Runs corpus documents with the kiln CLI inside the sandbox, one after the other on the same throwaway root. */
async function runCorpus(t: import('node:test').TestContext, files: string[], extra: string[] = []): Promise<Run> {
  const logs = await scratchDir(t, 'kiln-corpus-');
  const docs = files.map((f) => join(dir!, 'components', f)).join(',');
  const r = await runInSandbox(['node', kiln, 'toe', 'run', '-d', docs, '-l', logs, ...extra], { keep: [logs], cwd: logs });
  const folder = (await readdir(logs)).find((n) => n.startsWith('TOE_'));
  assert.ok(folder, `no log folder; stderr:\n${r.stderr}`);
  const detailed = JSON.parse(await readFile(join(logs, folder, 'detailedoutput.json'), 'utf8')) as DetailedOutput;
  return { code: r.exitCode, summary: JSON.parse(r.stdout) as RunSummary, detailed, stderr: r.stderr };
}

const offline = sandboxUnavailable() ?? (dir ? undefined : 'no shared/conformance');

test('offline-runnable corpus documents run to the expected statuses', { skip: offline ?? false }, async (t) => {
  const simple = [
    'aws-cdk__component-test-named-loops.yaml',
    'awsdocs__helloworld-parameters-linux.yaml',
    'cloudadder__helloworld.yaml',
    'ib-samples__hello-world-component.yaml',
    'jacklin213__hello_world_json.yaml',
    'moj-ami__linux.yaml',
  ];
  for (const file of simple) {
    await t.test(file, async (t) => {
      const r = await runCorpus(t, [file]);
      assert.equal(r.summary.status, 'Success', `${file}: ${r.summary.failureMessage}\n${r.stderr}`);
      assert.equal(r.code, 0);
      assert.equal(r.summary.failedStepCount, 0);
    });
  }

  await t.test('named loops: forEach and inclusive for loop outputs', async (t) => {
    const r = await runCorpus(t, ['aws-cdk__component-test-named-loops.yaml']);
    const phases = r.detailed.documents[0]!.phases;
    const build = JSON.parse(phases[0]!.steps[0]!.outputs) as { stdout: string };
    const validate = JSON.parse(phases[1]!.steps[0]!.outputs) as { stdout: string };
    assert.equal(build.stdout, 'Hello world!\nHello universe!');
    assert.equal(validate.stdout.split('\n').length, 11, 'for 0..10 is inclusive');
  });

  await t.test('parameters: the default with an apostrophe reaches the script intact', async (t) => {
    const r = await runCorpus(t, ['awsdocs__helloworld-parameters-linux.yaml']);
    const out = JSON.parse(r.detailed.documents[0]!.phases[0]!.steps[0]!.outputs) as { stdout: string };
    assert.equal(out.stdout, "Hello World! Build phase. My input parameter value is It's me!");
  });

  await t.test('reboot then the step after it (simulated reboot on this instance)', async (t) => {
    const r = await runCorpus(t, ['swaleed__reboot-linux.yaml']);
    assert.equal(r.summary.status, 'Success', r.summary.failureMessage);
    assert.match(r.stderr, /simulating the reboot/);
    assert.equal(r.detailed.documents[0]!.phases[0]!.steps[1]!.status, 'Success');
  });

  await t.test('ping loop over a parameter list, given local hosts', { skip: existsSync('/usr/bin/ping') || existsSync('/bin/ping') ? false : 'needs iputils-ping' }, async (t) => {
    const r = await runCorpus(t, ['awsdocs__pinghosts-parameter-loop.yaml'], ['--parameters', 'Hosts=127.0.0.1,localhost']);
    assert.equal(r.summary.status, 'Success', `${r.summary.failureMessage}\n${r.stderr}`);
  });

  const hasSudo = existsSync('/usr/bin/sudo');
  await t.test('build writes ~/test.txt that the test phase of another component reads', { skip: hasSudo ? false : 'needs sudo' }, async (t) => {
    const r = await runCorpus(t, ['cdk-golden__build1.yaml', 'cdk-golden__customtest.yaml']);
    assert.equal(r.summary.status, 'Success', `${r.summary.failureMessage}\n${r.stderr}`);
  });

  await t.test('runner user and its environment (adduser, sudoers drop-in)', { skip: hasSudo && existsSync('/usr/sbin/adduser') ? false : 'needs sudo and adduser' }, async (t) => {
    const r = await runCorpus(t, ['cdkghr__runneruser-ubuntu-x86_64.yaml', 'cdkghr__environmentvariables-ubuntu-x86_64.yaml']);
    assert.equal(r.summary.status, 'Success', `${r.summary.failureMessage}\n${r.stderr}`);
  });

  await t.test('kiwi-ng sample: chaining, if and Assert pass, then its dnf-based install fails on Debian', async (t) => {
    const r = await runCorpus(t, ['ib-samples__invoke-kiwi-ng.yaml'], ['--parameters', 'RecipeSource=s3://bucket/recipe/']);
    const steps = r.detailed.documents[0]!.phases[0]!.steps;
    assert.equal(r.summary.status, 'Failed');
    assert.deepEqual(steps.map((s) => `${s.name}:${s.status}`), [
      'RemoveTrailingSlash:Success',
      'CheckRecipeType:Success',
      'AssertS3Source:Success',
      'InstallPreRequisites:Failed',
    ]);
    assert.equal(JSON.parse(steps[1]!.outputs).stdout, 's3');
    assert.match(steps[3]!.failureMessage, /dnf: command not found/);
  });
});
