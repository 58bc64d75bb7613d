import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MANAGED_COMPONENTS, managedComponentArn } from '../domain/managed-components.js';
import { actionModules } from '../toe/actions/registry.js';
import { validateDocumentText } from '../toe/document/validate.js';
import { inspectComponentDocument } from './component-document.js';

const modules = actionModules();
const byName = (name: string) => MANAGED_COMPONENTS.find((c) => c.name === name)!;

test('every managed component document passes the AWSTOE validator and names itself', () => {
  assert.deepEqual(
    MANAGED_COMPONENTS.map((c) => c.name),
    ['aws-cli-version-2-linux', 'chrony-time-configuration-test', 'docker-ce-linux', 'hello-world-linux', 'python-3-linux', 'reboot-linux', 'reboot-test-linux', 'simple-boot-test-linux', 'update-linux'],
  );
  for (const c of MANAGED_COMPONENTS) {
    const { document, issues } = validateDocumentText(c.data, modules);
    assert.deepEqual(issues, [], c.name);
    assert.equal(document?.name, c.name);
    assert.match(c.version, /^\d+\.\d+\.\d+$/, c.name);
  }
  const types = Object.fromEntries(MANAGED_COMPONENTS.map((c) => [c.name, inspectComponentDocument(c.data).type]));
  assert.deepEqual(
    Object.entries(types).filter(([, type]) => type === 'TEST').map(([name]) => name),
    ['chrony-time-configuration-test', 'reboot-test-linux', 'simple-boot-test-linux'],
  );
  assert.deepEqual(inspectComponentDocument(byName('update-linux').data).parameters.map((p) => [p.name, p.defaultValue]), [['include', ['']], ['exclude', ['']]]);
  assert.equal(managedComponentArn('eu-west-1', byName('update-linux')), 'arn:aws:imagebuilder:eu-west-1:aws:component/update-linux/1.0.2/1');
});

/** The commands of update-linux's build step, with its parameters substituted as the runner would. */
function updateScript(include: string, exclude: string): string {
  const doc = validateDocumentText(byName('update-linux').data, modules).document!;
  const step = doc.phases.find((p) => p.name === 'build')!.steps[0]!;
  const commands = (step.inputs as { commands: string[] }).commands.join('\n');
  return commands.replaceAll('{{ include }}', include).replaceAll('{{ exclude }}', exclude);
}

/**
 * Runs update-linux's build step in bash against stand-ins for apt-get, apt-mark and dpkg-query that record
 * their arguments: `installed` packages are installed, `held` ones already on hold.
 */
function runUpdate(include: string, exclude: string, machine: { installed?: string[]; held?: string[] } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-update-linux-'));
  try {
    const calls = path.join(dir, 'calls');
    writeFileSync(calls, '');
    const stub = (name: string, body: string) => {
      writeFileSync(path.join(dir, name), `#!/bin/bash\necho "${name} $*" >> ${calls}\n${body}\n`);
      chmodSync(path.join(dir, name), 0o755);
    };
    stub('apt-get', 'exit 0');
    stub('apt-mark', `[ "$1" = showhold ] && printf '%s\\n' ${(machine.held ?? []).join(' ')}; exit 0`);
    stub('dpkg-query', `case " ${(machine.installed ?? []).join(' ')} " in *" \${@: -1} "*) echo -n 'ii ';; *) exit 1;; esac`);
    const script = path.join(dir, 'script.sh');
    writeFileSync(script, updateScript(include, exclude));
    const run = spawnSync('bash', [script], { encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin` } });
    const log = readFileSync(calls, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('apt-mark showhold') && !l.startsWith('dpkg-query'));
    // The dpkg options are the same on every call; the calls are compared without them.
    return { status: run.status, stderr: run.stderr, calls: log.map((l) => l.replace(/ -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold/, '')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('update-linux updates every package, or only `include`, and never the `exclude` ones', () => {
  assert.deepEqual(runUpdate('', '').calls, ['apt-get update', 'apt-get upgrade --with-new-pkgs']);
  assert.deepEqual(runUpdate('curl  tzdata', 'tzdata').calls, ['apt-get update', 'apt-get install --only-upgrade curl']);
  assert.deepEqual(runUpdate('tzdata', 'tzdata').calls, ['apt-get update'], 'everything included is excluded: nothing to update');
  // An excluded package is held for the run and released after it; one already held, or not installed, is left as it is.
  assert.deepEqual(runUpdate('', 'dpkg libc6 not-installed', { installed: ['dpkg', 'libc6'], held: ['libc6'] }).calls, [
    'apt-get update',
    'apt-mark hold dpkg',
    'apt-get upgrade --with-new-pkgs',
    'apt-mark unhold dpkg',
  ]);
});

test('update-linux refuses what is not a package name before running apt, so no value reaches the shell', () => {
  for (const value of ["x'; touch /tmp/owned; '", 'curl;reboot', '$(id)', '-y']) {
    const run = runUpdate(value, '');
    assert.equal(run.status, 1, value);
    assert.match(run.stderr, /is not a Debian package name/, value);
    assert.deepEqual(run.calls, [], value);
  }
});
