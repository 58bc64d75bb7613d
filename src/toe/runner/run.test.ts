import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import { actionModules } from '../actions/registry.js';
import { execLocal, LocalInstance } from '../instance/local.js';
import { scratchDir } from '../../../test/helpers/action-context.js';
import { readJson, runText, stepsOf } from '../../../test/helpers/toe.js';
import type { Instance } from '../instance/instance.js';
import type { DetailedOutput } from './results.js';
import { runDocuments } from './run.js';

const header = 'schemaVersion: 1.0\nphases:\n';

test('a run writes the AWSTOE log folder with every file and the detailed output shape', async (t) => {
  const text = `${header}  - name: build\n    steps:\n      - name: Hello\n        action: ExecuteBash\n        inputs:\n          commands: ["echo hi", "echo err >&2"]\n`;
  const r = await runText(t, text, { executionId: 'exec-1' });
  assert.equal(r.summary.status, 'Success');
  assert.match(r.logFolder, /TOE_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_UTC-0_exec-1$/);
  assert.deepEqual((await readdir(r.logFolder)).sort(), ['application.log', 'chaining.json', 'console.log', 'detailedoutput.json', 'document.yaml']);
  assert.equal(await readFile(join(r.logFolder, 'document.yaml'), 'utf8'), text);
  // stdout and stderr are two pipes: both land in console.log, in no guaranteed order.
  const consoleLog = await readFile(join(r.logFolder, 'console.log'), 'utf8');
  assert.match(consoleLog, /^hi$/m);
  assert.match(consoleLog, /^err$/m);
  const detailed = await readJson<DetailedOutput>(join(r.logFolder, 'detailedoutput.json'));
  assert.equal(detailed.executionId, 'exec-1');
  const step = detailed.documents[0]!.phases[0]!.steps[0]!;
  assert.equal(step.status, 'Success');
  assert.equal(step.action, 'ExecuteBash');
  assert.deepEqual(JSON.parse(step.outputs), { stdout: 'hi' });
  assert.deepEqual(JSON.parse(step.inputs), { commands: ['echo hi', 'echo err >&2'] });
  assert.equal(step.timeoutSeconds, 7200);
  assert.match(r.output, /hi/);
});

test('all commands of a step share one shell; each step has its own', async (t) => {
  const text = `${header}  - name: build\n    steps:\n      - name: A\n        action: ExecuteBash\n        inputs:\n          commands: ["X=1", "cd /", "echo $X$(pwd)"]\n      - name: B\n        action: ExecuteBash\n        inputs:\n          commands: ["echo [$X]"]\n`;
  const r = await runText(t, text);
  const s = stepsOf(r.detailed);
  assert.equal(JSON.parse(s['build.A']!.outputs).stdout, '1/');
  assert.equal(JSON.parse(s['build.B']!.outputs).stdout, '[]');
});

test('onFailure: Abort stops the document, Continue fails it but runs on, Ignore succeeds with ignored failure', async (t) => {
  const step = (name: string, cmd: string, onFailure?: string) =>
    `      - name: ${name}\n        action: ExecuteBash\n${onFailure ? `        onFailure: ${onFailure}\n` : ''}        inputs:\n          commands: ["${cmd}"]\n`;
  const ignore = await runText(t, `${header}  - name: build\n    steps:\n${step('Bad', 'exit 3', 'Ignore')}${step('Next', 'echo next')}`);
  assert.equal(ignore.summary.status, 'SuccessWithIgnoredFailure');
  assert.equal(ignore.summary.ignoredFailedStepCount, 1);
  assert.equal(stepsOf(ignore.detailed)['build.Bad']!.status, 'IgnoredFailure');
  assert.equal(stepsOf(ignore.detailed)['build.Next']!.status, 'Success');

  const cont = await runText(t, `${header}  - name: build\n    steps:\n${step('Bad', 'exit 3', 'Continue')}${step('Next', 'echo next')}`);
  assert.equal(cont.summary.status, 'Failed');
  assert.equal(stepsOf(cont.detailed)['build.Next']!.status, 'Success');
  assert.match(cont.summary.failureMessage, /Step "Bad" in phase "build" failed: .*exited with code 3/);

  const abort = await runText(t, `${header}  - name: build\n    steps:\n${step('Bad', 'exit 3')}${step('Next', 'echo next')}  - name: validate\n    steps:\n${step('Later', 'true')}`);
  assert.equal(abort.summary.status, 'Failed');
  assert.equal(stepsOf(abort.detailed)['build.Next'], undefined);
  assert.equal(abort.detailed.documents[0]!.phases.length, 1);
});

test('maxAttempts re-runs a failing step until it passes', async (t) => {
  const r = await runText(t, `${header}  - name: build\n    steps:\n      - name: Flaky\n        action: ExecuteBash\n        maxAttempts: 3\n        inputs:\n          commands:\n            - 'n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; [ $n -ge 2 ]'\n`);
  assert.equal(r.summary.status, 'Success');
  assert.equal((await readFile(join(r.dir, 'count'), 'utf8')).trim(), '3');
  assert.equal((r.output.match(/attempt \d of 3 failed/g) ?? []).length, 2);
});

test('a step timeout kills the whole process tree, background children included', async (t) => {
  const t0 = Date.now();
  const r = await runText(t, `${header}  - name: build\n    steps:\n      - name: Slow\n        action: ExecuteBash\n        timeoutSeconds: 1\n        inputs:\n          commands:\n            - 'setsid sleep 300 & echo $! > child.pid'\n            - 'sleep 300'\n`);
  assert.ok(Date.now() - t0 < 10_000, 'the run ended soon after the timeout');
  assert.equal(r.summary.status, 'Failed');
  assert.match(r.summary.failureMessage, /timed out after 1 seconds/);
  const pid = Number((await readFile(join(r.dir, 'child.pid'), 'utf8')).trim());
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(existsSync(`/proc/${pid}`) && !(await readFile(`/proc/${pid}/stat`, 'utf8')).includes(') Z '), false, 'the setsid child is gone');
});

test('exit code 194 re-runs the same step after a simulated reboot, keeping state', async (t) => {
  const r = await runText(t, `${header}  - name: build\n    steps:\n      - name: NeedsReboot\n        action: ExecuteBash\n        inputs:\n          commands:\n            - 'if [ ! -f rebooted ]; then touch rebooted; echo before; exit 194; fi'\n            - echo after\n      - name: Reboot\n        action: Reboot\n        inputs:\n          delaySeconds: 0\n      - name: After\n        action: ExecuteBash\n        inputs:\n          commands: [echo done]\n`, { stateDirectory: undefined });
  assert.equal(r.summary.status, 'Success');
  assert.match(r.output, /asked for a reboot \(exit code 194\)/);
  assert.match(r.output, /simulating the reboot/);
  assert.equal(JSON.parse(stepsOf(r.detailed)['build.NeedsReboot']!.outputs).stdout, 'after');
});

test('after a real reboot that empties /tmp, the step runs again with its scratch folder made anew', async (t) => {
  // A machine whose boot cleans /tmp, as Debian's does: the runner's scripts folder is gone after the reboot.
  const local = new LocalInstance();
  let reboots = 0;
  const instance: Instance = {
    id: 'rebooting',
    platform: 'linux',
    canReboot: true,
    fs: local.fs,
    exec: (argv, options) => local.exec(argv, options),
    putFile: (p, data, mode) => local.putFile(p, data, mode),
    getFile: (p) => local.getFile(p),
    reboot: async () => {
      reboots++;
      for (const name of await readdir('/tmp')) if (name.startsWith('kiln-toe-reboot-')) await rm(join('/tmp', name), { recursive: true, force: true });
    },
  };
  const r = await runText(t, `${header}  - name: build\n    steps:\n      - name: NeedsReboot\n        action: ExecuteBash\n        inputs:\n          commands:\n            - 'if [ ! -f rebooted ]; then touch rebooted; exit 194; fi'\n            - echo after the reboot\n`, { instance, executionId: 'reboot-1' });
  assert.equal(r.summary.status, 'Success', r.output);
  assert.equal(reboots, 1);
  assert.match(r.output, /Rebooting instance/);
  assert.match(r.output, /after the reboot/);
});

test('a step that always asks for a reboot fails instead of looping forever', async (t) => {
  const r = await runText(t, `${header}  - name: build\n    steps:\n      - name: Forever\n        action: ExecuteBash\n        inputs:\n          commands: ['exit 194']\n`, { maxRebootsPerStep: 3 });
  assert.equal(r.summary.status, 'Failed');
  assert.match(r.summary.failureMessage, /asked for a reboot \(exit code 194\) 4 times; giving up after 3/);
});

test('a run resumes from its state directory: finished steps are not run again', async (t) => {
  const text = `${header}  - name: build\n    steps:\n      - name: Once\n        action: ExecuteBash\n        inputs:\n          commands: ['echo x >> runs', 'echo first']\n      - name: Crash\n        action: ExecuteBash\n        inputs:\n          commands: ['if [ ! -f crashed ]; then touch crashed; read -r _ _ _ runner _ < /proc/$PPID/stat; kill -9 $runner $PPID; sleep 5; fi', 'echo {{ build.Once.outputs.stdout }}']\n`;
  const dir = await scratchDir(t);
  await writeFile(join(dir, 'doc.yaml'), text);
  const state = join(dir, 'state');
  // Run the CLI so the kill takes the whole runner down (the script's parent is the runner's process launcher).
  const cli = ['node', join(process.cwd(), 'bin/kiln'), 'toe', 'run', '-d', 'doc.yaml', '-i', 'resume-1', '-s', state, '-l', dir];
  const crashed = await execLocal(cli, { cwd: dir });
  assert.notEqual(crashed.exitCode, 0);
  const resumed = await execLocal(cli, { cwd: dir });
  assert.equal(resumed.exitCode, 0, resumed.stderr);
  assert.match(resumed.stderr, /Resuming execution resume-1/);
  assert.equal((await readFile(join(dir, 'runs'), 'utf8')).trim(), 'x', 'the finished step ran once');
  assert.match(resumed.stdout, /"status": "Success"/);
  // The scratch folder the killed run left behind is reused and removed by the resumed run.
  assert.equal(existsSync('/tmp/kiln-toe-resume-1'), false);
});

test('if: false skips (counts as success), then: Abort fails, or/not short-circuit', async (t) => {
  const r = await runText(t, `${header}  - name: build\n    steps:\n` +
    `      - name: Skipped\n        action: ExecuteBash\n        if:\n          stringEquals: a\n          value: b\n        inputs:\n          commands: ['touch skipped']\n` +
    `      - name: OrNot\n        action: ExecuteBash\n        if:\n          or:\n            - not:\n                binaryExists: bash\n            - numberGreaterThan: 2\n              value: '10'\n        inputs:\n          commands: ['echo ran']\n` +
    `      - name: Aborted\n        action: ExecuteBash\n        if:\n          - folderExists: /\n            then: Abort\n        inputs:\n          commands: ['echo never']\n`);
  const s = stepsOf(r.detailed);
  assert.equal(s['build.Skipped']!.status, 'Skipped');
  assert.equal(existsSync(join(r.dir, 'skipped')), false);
  assert.equal(JSON.parse(s['build.OrNot']!.outputs).stdout, 'ran');
  assert.equal(s['build.Aborted']!.status, 'Failed');
  assert.match(s['build.Aborted']!.failureMessage, /chose Abort/);
  assert.equal(r.summary.status, 'Failed');
});

test('loops: for is inclusive, forEach over a chained value with a delimiter, named loops, joined stdout', async (t) => {
  const r = await runText(t, `${header}  - name: build\n    steps:\n` +
    `      - name: List\n        action: ExecuteBash\n        inputs:\n          commands: ['echo "a;b;c"']\n` +
    `      - name: Each\n        action: ExecuteBash\n        loop:\n          name: item\n          forEach:\n            list: '{{ build.List.outputs.stdout }}'\n            delimiter: ';'\n        inputs:\n          commands: ['echo {{ item.index }}={{ item.value }}']\n` +
    `      - name: Count\n        action: ExecuteBash\n        loop:\n          for: {start: 10, end: 0, updateBy: -5}\n        inputs:\n          commands: ['echo {{ loop.value }}']\n`);
  const s = stepsOf(r.detailed);
  assert.equal(r.summary.status, 'Success');
  assert.equal(JSON.parse(s['build.Each']!.outputs).stdout, '0=a\n1=b\n2=c');
  assert.equal(JSON.parse(s['build.Count']!.outputs).stdout, '10\n5\n0');
});

test('a failing loop iteration fails the step and names the iteration', async (t) => {
  const r = await runText(t, `${header}  - name: build\n    steps:\n      - name: L\n        action: ExecuteBash\n        loop:\n          forEach: [ok, bad, ok2]\n        inputs:\n          commands: ['[ "{{ loop.value }}" != bad ]']\n`);
  assert.equal(r.summary.status, 'Failed');
  assert.match(r.summary.failureMessage, /iteration 1 \(bad\)/);
});

test('chaining: inputs[i] and outputs of earlier steps, across phases', async (t) => {
  const r = await runText(t, `${header}  - name: build\n    steps:\n` +
    `      - name: Make\n        action: CreateFile\n        inputs:\n          - path: made.txt\n            content: hello\n` +
    `  - name: validate\n    steps:\n      - name: Read\n        action: ReadFile\n        inputs:\n          - path: '{{ build.Make.inputs[0].path }}'\n` +
    `      - name: Check\n        action: Assert\n        inputs:\n          stringEquals: HELLO\n          value: '{{ validate.Read.outputs.content }}'\n`);
  assert.equal(r.summary.status, 'Success', r.summary.failureMessage);
  const chaining = await readJson<Record<string, Record<string, unknown>>>(join(r.logFolder, 'chaining.json'));
  assert.deepEqual(Object.keys(Object.values(chaining)[0]!), ['build.Make', 'validate.Read', 'validate.Check']);
});

test('--phases runs only the named phases, in document order', async (t) => {
  const text = `${header}  - name: build\n    steps:\n      - name: B\n        action: ExecuteBash\n        inputs:\n          commands: [echo b]\n  - name: test\n    steps:\n      - name: T\n        action: ExecuteBash\n        inputs:\n          commands: [echo t]\n`;
  const r = await runText(t, text, { phases: ['test'] });
  assert.deepEqual(r.detailed.documents[0]!.phases.map((p) => p.name), ['test']);
});

test('parameters: defaults, overrides, unknown names ignored, required ones enforced', async (t) => {
  const text = 'schemaVersion: 1.0\nparameters:\n  - Need:\n      type: string\n  - Opt:\n      type: string\n      default: d\nphases:\n  - name: build\n    steps:\n      - name: S\n        action: ExecuteBash\n        inputs:\n          commands: ["echo {{ Need }}-{{ Opt }}"]\n';
  const missing = await runText(t, text);
  assert.equal(missing.summary.status, 'Failed');
  assert.match(missing.summary.failureMessage, /parameter Need has no default and no value was given/);
  const ok = await runText(t, text, { parameters: { Need: 'n', Unknown: 'x' } });
  assert.equal(JSON.parse(stepsOf(ok.detailed)['build.S']!.outputs).stdout, 'n-d');
});

test('ExecuteDocument runs nested documents with parameters and phases, and refuses cycles and deep nesting', async (t) => {
  const dir = await scratchDir(t);
  await writeFile(join(dir, 'child.yaml'), 'schemaVersion: 1.0\nparameters:\n  - Word:\n      type: string\nphases:\n  - name: build\n    steps:\n      - name: Say\n        action: ExecuteBash\n        inputs:\n          commands: ["echo child {{ Word }} >> said"]\n  - name: test\n    steps:\n      - name: No\n        action: ExecuteBash\n        inputs:\n          commands: ["echo test >> said"]\n');
  const parent = (doc: string) => `${header}  - name: build\n    steps:\n      - name: Nest\n        action: ExecuteDocument\n        loop:\n          forEach: [one, two]\n        inputs:\n          document: ${doc}\n          phases: build\n          parameters:\n            - name: Word\n              value: '{{ loop.value }}'\n`;
  await writeFile(join(dir, 'parent.yaml'), parent('child.yaml'));
  const go = async (file: string) => {
    const text = await readFile(join(dir, file), 'utf8');
    return runDocuments({ documents: [{ path: join(dir, file), text, parameters: {} }], logDirectory: dir, instance: new LocalInstance(), modules: actionModules(), workingDirectory: dir });
  };
  const ok = await go('parent.yaml');
  assert.equal(ok.summary.status, 'Success', ok.summary.failureMessage);
  assert.equal(await readFile(join(dir, 'said'), 'utf8'), 'child one\nchild two\n');

  await writeFile(join(dir, 'a.yaml'), parent('b.yaml'));
  await writeFile(join(dir, 'b.yaml'), parent('a.yaml'));
  const cycle = await go('a.yaml');
  assert.equal(cycle.summary.status, 'Failed');
  assert.match(cycle.summary.failureMessage, /ExecuteDocument cycle: .*a\.yaml → .*b\.yaml → .*a\.yaml/);

  for (const [i, next] of [['1', '2'], ['2', '3'], ['3', '4'], ['4', 'child']] as const) {
    await writeFile(join(dir, `n${i}.yaml`), parent(next === 'child' ? 'child.yaml' : `n${next}.yaml`));
  }
  const deep = await go('n1.yaml');
  assert.equal(deep.summary.status, 'Failed');
  assert.match(deep.summary.failureMessage, /nesting is limited to 3 levels/);
});

test('cancelling a run stops the running step and marks it Cancelled', async (t) => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 300);
  const t0 = Date.now();
  const r = await runText(t, `${header}  - name: build\n    steps:\n      - name: Long\n        action: ExecuteBash\n        inputs:\n          commands: ['sleep 60']\n`, { signal: controller.signal });
  assert.ok(Date.now() - t0 < 5000);
  assert.equal(r.summary.status, 'Cancelled');
});

test('Windows-only modules fail on Linux with a clear message', async (t) => {
  const r = await runText(t, `${header}  - name: build\n    steps:\n      - name: PS\n        action: ExecutePowerShell\n        inputs:\n          commands: ['Write-Host hi']\n`);
  assert.equal(r.summary.status, 'Failed');
  assert.match(r.summary.failureMessage, /not supported on Linux/);
});
