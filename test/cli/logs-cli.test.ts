import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stepLogPath } from '../../src/builder/records/execution-records.js';
import { kilnRequest } from '../../src/cli/kiln-client.js';
import { resolveCredentials } from '../../src/cli/logs-command.js';
import { actionModules } from '../../src/toe/actions/registry.js';
import type { ExecOptions, ExecResult } from '../../src/toe/instance/instance.js';
import { LocalInstance } from '../../src/toe/instance/local.js';
import { runDocuments } from '../../src/toe/runner/run.js';
import { scratchDir } from '../helpers/action-context.js';
import { createPendingImage, setImageStatus, startExecutionServer } from '../helpers/execution-server.js';
import { kilnLogs } from '../helpers/kiln-logs.js';

/**
 * A local instance whose processes' output arrives as it is written: LocalInstance's shared launcher holds back
 * the last bytes of each stream until the process ends (to spot its end marker), which would reorder the lines
 * this test interleaves. Given an environment, exec starts the process directly.
 */
class LiveInstance extends LocalInstance {
  override exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    return super.exec(argv, { ...options, env: options.env ?? {} });
  }
}
const BUILD_WF = 'arn:aws:imagebuilder:local:aws:workflow/build/build-container/1.0.0/1';
const TEST_WF = 'arn:aws:imagebuilder:local:aws:workflow/test/test-container/1.0.0/1';

test('kiln logs --follow streams each step under its header while the build runs and exits 0 when the image is AVAILABLE', async (t) => {
  const server = await startExecutionServer(t);
  const ib = server.client();
  const image = await createPendingImage(server, ib);
  await setImageStatus(server.store, image.arn, 'BUILDING');
  const build = await server.recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: BUILD_WF, totalStepCount: 3 });
  const launch = await build.startStep({ name: 'LaunchBuildInstance', action: 'LaunchInstance' });
  launch.log('launched ns-1\n');
  await launch.finish('COMPLETED');
  const apply = await build.startStep({ name: 'ApplyBuildComponents', action: 'ExecuteComponents' });
  apply.log('step one of the build\n');
  apply.log('step two, ');

  // Credentials from the data directory's credentials file (no AWS_* variables, an empty HOME).
  const cli = await kilnLogs(t, [image.arn, '--follow', '--endpoint', server.endpoint, '--data-dir', server.dataDir]);
  await cli.waitFor(/step one of the build\n/);
  assert.equal(cli.output(), '== BUILD LaunchBuildInstance (COMPLETED) ==\nlaunched ns-1\n== BUILD ApplyBuildComponents (RUNNING) ==\nstep one of the build\n', 'a partial line waits for its newline');

  // New lines appear as they are written, not only when the step ends; a line of stderr never splits one of stdout.
  apply.log('warning\n', 'stderr');
  apply.log('still going\nünïcode 🚀\n');
  await cli.waitFor(/ünïcode 🚀\n/);
  apply.log('done\n');
  await apply.finish('COMPLETED');
  await build.skipStep({ name: 'TerminateBuildInstance', action: 'TerminateInstance', message: 'instance kept for debugging' });
  await build.finish('COMPLETED');
  await cli.waitFor(/TerminateBuildInstance \(SKIPPED\)/);

  await setImageStatus(server.store, image.arn, 'TESTING');
  const tests = await server.recorder.startWorkflow({ image, type: 'TEST', workflowBuildVersionArn: TEST_WF, totalStepCount: 1 });
  const apply2 = await tests.startStep({ name: 'ApplyTestComponents', action: 'ExecuteComponents' });
  for (let i = 0; i < 200; i++) apply2.log(`test line ${i}\n`);
  await apply2.finish('COMPLETED');
  await tests.finish('COMPLETED');
  // Ends with the image: whatever was written before AVAILABLE is printed before the command exits.
  await setImageStatus(server.store, image.arn, 'AVAILABLE');
  assert.equal(await cli.exited, 0, cli.errors());

  const out = cli.output();
  const testLines = Array.from({ length: 200 }, (_, i) => `test line ${i}\n`).join('');
  assert.equal(
    out,
    [
      '== BUILD LaunchBuildInstance (COMPLETED) ==\nlaunched ns-1\n',
      '== BUILD ApplyBuildComponents (RUNNING) ==\nstep one of the build\nwarning\nstep two, still going\nünïcode 🚀\ndone\n',
      '== BUILD ApplyBuildComponents (COMPLETED) ==\n',
      '== BUILD TerminateBuildInstance (SKIPPED) ==\ninstance kept for debugging\n',
      out.includes('== TEST ApplyTestComponents (RUNNING) ==') ? '== TEST ApplyTestComponents (RUNNING) ==\n' : '== TEST ApplyTestComponents (COMPLETED) ==\n',
      testLines,
      out.includes('== TEST ApplyTestComponents (RUNNING) ==') ? '== TEST ApplyTestComponents (COMPLETED) ==\n' : '',
    ].join(''),
  );
  assert.match(cli.errors(), /is AVAILABLE/);

  // Without --follow: one pass over everything, each step once.
  const once = await kilnLogs(t, [image.arn, '--endpoint', server.endpoint, '--data-dir', server.dataDir]);
  assert.equal(await once.exited, 0, once.errors());
  assert.equal(
    once.output(),
    '== BUILD LaunchBuildInstance (COMPLETED) ==\nlaunched ns-1\n' +
      '== BUILD ApplyBuildComponents (COMPLETED) ==\nstep one of the build\nwarning\nstep two, still going\nünïcode 🚀\ndone\n' +
      '== BUILD TerminateBuildInstance (SKIPPED) ==\ninstance kept for debugging\n' +
      `== TEST ApplyTestComponents (COMPLETED) ==\n${testLines}`,
  );
});

test('kiln logs --follow exits 1 for a FAILED image; env and profile credentials work; errors are one line', async (t) => {
  const server = await startExecutionServer(t);
  const ib = server.client();
  const image = await createPendingImage(server, ib);
  const build = await server.recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: BUILD_WF, totalStepCount: 3 });
  const apply = await build.startStep({ name: 'ApplyBuildComponents', action: 'ExecuteComponents' });
  apply.log('exit status 1');
  await apply.finish('FAILED', { message: 'exit status 1' });
  await build.finish('FAILED', 'Step ApplyBuildComponents failed');
  await setImageStatus(server.store, image.arn, 'FAILED', 'Workflow Execution ID: wf-x failed with reason: exit status 1');

  // Keys from the environment; the data directory is not needed then.
  const env = { AWS_ACCESS_KEY_ID: server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey };
  const failed = await kilnLogs(t, [image.arn, '--follow', '--endpoint', server.endpoint, '--data-dir', '/nonexistent'], env);
  assert.equal(await failed.exited, 1);
  assert.equal(failed.output(), '== BUILD ApplyBuildComponents (FAILED) ==\nexit status 1\n');
  assert.match(failed.errors(), /is FAILED: Workflow Execution ID: wf-x failed with reason: exit status 1/);

  // Keys from a named profile of a shared credentials file.
  const dir = await scratchDir(t, 'kiln-logs-profile-');
  await mkdir(join(dir, 'aws'));
  const credentialsFile = join(dir, 'aws', 'credentials');
  await writeFile(credentialsFile, `[default]\naws_access_key_id = AKIDWRONG\naws_secret_access_key = wrong\n\n[kiln]\naws_access_key_id = ${server.credentials.accessKeyId}\naws_secret_access_key = ${server.credentials.secretAccessKey}\n`);
  const viaProfile = await kilnLogs(t, [image.arn, '--endpoint', server.endpoint, '--profile', 'kiln'], { AWS_SHARED_CREDENTIALS_FILE: credentialsFile });
  assert.equal(await viaProfile.exited, 0, viaProfile.errors());
  assert.match(viaProfile.output(), /ApplyBuildComponents \(FAILED\)/);

  const missing = await kilnLogs(t, [image.arn.replace(/\/1$/, '/7'), '--endpoint', server.endpoint, '--data-dir', server.dataDir]);
  assert.equal(await missing.exited, 1);
  assert.match(missing.errors(), /^kiln logs: ResourceNotFoundException: The image .*\/7 does not exist/);
  assert.equal(missing.errors().trim().split('\n').length, 1);

  const noKeys = await kilnLogs(t, [image.arn, '--endpoint', server.endpoint, '--data-dir', dir]);
  assert.equal(await noKeys.exited, 1);
  assert.match(noKeys.errors(), /^kiln logs: no credentials: /);
});

test('resolveCredentials: environment, then profile (credentials, then config file), then the data directory', async (t) => {
  const dir = await scratchDir(t, 'kiln-logs-creds-');
  const credentialsFile = join(dir, 'credentials');
  const configFile = join(dir, 'config');
  const dataDir = join(dir, 'data');
  await mkdir(dataDir);
  await writeFile(credentialsFile, '# comment\n[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = sdefault\n[dev]\naws_access_key_id=AKDEV\naws_secret_access_key=sdev\naws_session_token=tdev\n');
  await writeFile(configFile, '[default]\nregion = local\n[profile cfg]\naws_access_key_id = AKCFG\naws_secret_access_key = scfg\n');
  await writeFile(join(dataDir, 'credentials'), '[default]\naws_access_key_id = AKDATA\naws_secret_access_key = sdata\n');
  const files = { HOME: dir, AWS_SHARED_CREDENTIALS_FILE: credentialsFile, AWS_CONFIG_FILE: configFile };
  const key = (options: Parameters<typeof resolveCredentials>[0]) => {
    const c = resolveCredentials(options);
    return [c.accessKeyId, c.sessionToken];
  };
  assert.deepEqual(key({ dataDir, env: { ...files, AWS_ACCESS_KEY_ID: 'AKENV', AWS_SECRET_ACCESS_KEY: 'senv', AWS_SESSION_TOKEN: 'tenv' } }), ['AKENV', 'tenv']);
  assert.deepEqual(key({ dataDir, env: files }), ['AKDEFAULT', undefined]);
  assert.deepEqual(key({ dataDir, profile: 'dev', env: { ...files, AWS_ACCESS_KEY_ID: 'AKENV', AWS_SECRET_ACCESS_KEY: 'senv' } }), ['AKDEV', 'tdev'], 'a named profile wins over the environment');
  assert.deepEqual(key({ dataDir, env: { ...files, AWS_PROFILE: 'cfg' } }), ['AKCFG', undefined]);
  assert.deepEqual(key({ dataDir, env: { HOME: dir } }), ['AKDATA', undefined], 'no shared files: the data directory');
  assert.throws(() => resolveCredentials({ dataDir, profile: 'nope', env: files }), /the profile 'nope' has no aws_access_key_id/);
  assert.throws(() => resolveCredentials({ dataDir: join(dir, 'empty'), env: { HOME: dir } }), /no credentials: /);
});

test("a step's interleaved stdout and stderr with partial writes reach the stored log, /kiln/logs and kiln logs (text and --json) as whole lines", async (t) => {
  const server = await startExecutionServer(t);
  const image = await createPendingImage(server, server.client());
  const build = await server.recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: BUILD_WF, totalStepCount: 1 });
  const apply = await build.startStep({ name: 'ApplyBuildComponents', action: 'ExecuteComponents' });
  // As the build engine runs components: AWSTOE's output, with its streams, into the step's log.
  const abc = `abc${'-'.repeat(80)}`;
  const err = `err${'!'.repeat(80)}`;
  const dir = await scratchDir(t, 'kiln-logs-lines-');
  const doc = [
    'schemaVersion: 1.0',
    'phases:',
    '  - name: build',
    '    steps:',
    '      - name: Interleave',
    '        action: ExecuteBash',
    '        inputs:',
    '          commands:',
    `            - "printf '${abc}'; sleep 0.3; printf '${err}\\\\n' >&2; sleep 0.3; printf 'def\\\\n'; printf 'no newline' >&2"`,
  ].join('\n');
  const instance = new LiveInstance();
  t.after(() => instance.dispose());
  const result = await runDocuments({ documents: [{ path: 'interleave.yaml', text: doc, parameters: {} }], logDirectory: dir, instance, modules: actionModules(), onOutput: (text, stream) => apply.log(text, stream) });
  assert.equal(result.summary.status, 'Success', JSON.stringify(result.summary));
  await apply.finish('COMPLETED');
  await build.finish('COMPLETED');
  await setImageStatus(server.store, image.arn, 'AVAILABLE');

  // The AWSTOE log folder: console.log as a terminal shows it, application.log stamped with the stream.
  const consoleLog = await readFile(join(result.logFolder, 'console.log'), 'utf8');
  assert.ok(consoleLog.includes(`\n${err}\n${abc}def\nno newline\n`), consoleLog);
  assert.ok(/Z STDERR err!+\n.*Z STDOUT abc-+def\n/s.test(await readFile(join(result.logFolder, 'application.log'), 'utf8')));

  // The stored log: one stamped record per whole line.
  const stored = await readFile(stepLogPath(server.logsRoot, image.arn, apply.stepExecutionId), 'utf8');
  assert.ok(stored.includes(` stderr ${err}\n`) && /Z stderr err!+\n[^\n]*Z stdout abc-+def\n[^\n]*Z stderr no newline\n/.test(stored), stored);

  // The route, read in small slices: whole lines, each with its stream.
  const target = { endpoint: server.endpoint, region: 'local', credentials: { ...server.credentials, source: 'test' } };
  const lines: { stream: string; text: string }[] = [];
  for (let offset = 0, guard = 0; guard < 200; guard++) {
    const { status, body } = await kilnRequest(target, { method: 'GET', path: '/kiln/logs', query: { imageBuildVersionArn: image.arn, stepExecutionId: apply.stepExecutionId, offset: String(offset), maxBytes: '16' } });
    assert.equal(status, 200, JSON.stringify(body));
    if (body.text === '') break;
    assert.match(String(body.text), /\n$/);
    lines.push(...(body.lines as { stream: string; text: string }[]));
    offset = Number(body.nextOffset);
  }
  const at = lines.findIndex((l) => l.text === err);
  assert.deepEqual(lines.slice(at, at + 3).map((l) => [l.stream, l.text]), [['stderr', err], ['stdout', `${abc}def`], ['stderr', 'no newline']]);

  const text = await kilnLogs(t, [image.arn, '--endpoint-url', server.endpoint, '--data-dir', server.dataDir]);
  assert.equal(await text.exited, 0, text.errors());
  assert.match(text.output(), /^== BUILD ApplyBuildComponents \(COMPLETED\) ==\n/);
  assert.ok(text.output().includes(`\n${err}\n${abc}def\nno newline\n`), text.output());
  const json = await kilnLogs(t, [image.arn, '--json', '--endpoint-url', server.endpoint, '--data-dir', server.dataDir]);
  assert.equal(await json.exited, 0, json.errors());
  const objects = json.output().trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  const first = objects.findIndex((o) => o.text === err);
  assert.deepEqual(objects.slice(first, first + 3).map((o) => [o.workflow, o.step, o.stream, o.text]), [
    ['BUILD', 'ApplyBuildComponents', 'stderr', err],
    ['BUILD', 'ApplyBuildComponents', 'stdout', `${abc}def`],
    ['BUILD', 'ApplyBuildComponents', 'stderr', 'no newline'],
  ]);
  assert.ok(objects.every((o) => o.stepExecutionId === apply.stepExecutionId && !Number.isNaN(Date.parse(o.time!))));
});
