import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeContext, runAction, validateInputs } from '../../../test/helpers/action-context.js';
import type { ExecOptions, ExecResult, Instance, InstanceFs } from '../instance/instance.js';
import { ActionFailure } from './types.js';
import {
  detectPackageManager,
  dpkgQueryArgv,
  parseDpkgInstalled,
  parseLines,
  planUpdate,
  updateOs,
  type PackageManager,
} from './update-os.js';

interface ExecCall {
  argv: string[];
  options: ExecOptions;
}

/**
 * A stand-in for a Debian, Fedora, Amazon Linux or Alpine machine, which tests cannot have here (no package
 * repositories offline, and a real upgrade would change the host). It answers `command -v` for the binaries it
 * claims to have, replays canned output for the commands UpdateOS asks about, records every command, and
 * fails the commands it is told to fail. Nothing is executed.
 */
class StandInMachine implements Instance {
  readonly id = 'stand-in';
  readonly canReboot = false;
  readonly calls: ExecCall[] = [];
  readonly fs = new Proxy({} as InstanceFs, {
    get: () => () => Promise.reject(new Error('the stand-in machine has no file system')),
  });

  constructor(
    private readonly binaries: string[],
    private readonly canned: Record<string, string> = {},
    private readonly failing: Record<string, number> = {},
    readonly platform: Instance['platform'] = 'linux',
  ) {}

  async exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    this.calls.push({ argv, options });
    const result = (exitCode: number, stdout = ''): ExecResult => ({
      exitCode,
      signal: null,
      stdout,
      stderr: '',
      timedOut: false,
      aborted: false,
    });
    if (argv[0] === '/bin/sh' && argv[2] === 'command -v "$1"') {
      const binary = argv[4] ?? '';
      return this.binaries.includes(binary) ? result(0, `/usr/bin/${binary}\n`) : result(1);
    }
    const line = argv.join(' ');
    const output = Object.entries(this.canned).find(([prefix]) => line.startsWith(prefix))?.[1] ?? '';
    if (output !== '') options.onStdout?.(Buffer.from(output));
    const failure = Object.entries(this.failing).find(([prefix]) => line.startsWith(prefix))?.[1];
    return result(failure ?? 0, output);
  }

  putFile(): Promise<void> {
    return Promise.reject(new Error('the stand-in machine has no file system'));
  }
  getFile(): Promise<Buffer> {
    return Promise.reject(new Error('the stand-in machine has no file system'));
  }
  reboot(): Promise<void> {
    return Promise.reject(new Error('the stand-in machine cannot reboot'));
  }

  /** The commands run after package-manager detection. */
  get commands(): string[] {
    return this.calls.filter((c) => c.argv[0] !== '/bin/sh').map((c) => c.argv.join(' '));
  }
}

const DPKG = '-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';
const argvs = (manager: PackageManager, include: string[], exclude: string[], facts?: Parameters<typeof planUpdate>[2]) => {
  const plan = planUpdate(manager, { include, exclude }, facts);
  return { commands: plan.commands.map((c) => c.argv.join(' ')), cleanup: plan.cleanup.map((c) => c.argv.join(' ')) };
};

describe('planUpdate', () => {
  test('apt-get: everything', () => {
    assert.deepEqual(argvs('apt-get', [], []), { commands: ['apt-get update', `apt-get -y ${DPKG} upgrade`], cleanup: [] });
    const plan = planUpdate('apt-get', { include: [], exclude: [] });
    assert.equal(plan.commands[1]?.env?.DEBIAN_FRONTEND, 'noninteractive');
  });

  test('apt-get: include upgrades only those packages, never installs new ones', () => {
    assert.deepEqual(argvs('apt-get', ['openssl', 'curl'], []), {
      commands: ['apt-get update', `apt-get -y ${DPKG} install --only-upgrade openssl curl`],
      cleanup: [],
    });
  });

  test('apt-get: exclude holds the installed excluded packages for the run and releases them after', () => {
    const facts = { installedExcluded: ['linux-image-amd64', 'docker-ce'], alreadyHeld: ['docker-ce'] };
    assert.deepEqual(argvs('apt-get', [], ['linux-image-amd64', 'docker-ce', 'not-installed'], facts), {
      commands: ['apt-get update', 'apt-mark hold linux-image-amd64', `apt-get -y ${DPKG} upgrade`],
      cleanup: ['apt-mark unhold linux-image-amd64'],
    });
  });

  test('apt-get: nothing to hold when every excluded package is absent or already held', () => {
    const facts = { installedExcluded: ['docker-ce'], alreadyHeld: ['docker-ce'] };
    assert.deepEqual(argvs('apt-get', [], ['docker-ce'], facts), {
      commands: ['apt-get update', `apt-get -y ${DPKG} upgrade`],
      cleanup: [],
    });
  });

  test('apt-get: include and exclude together = include minus exclude', () => {
    assert.deepEqual(argvs('apt-get', ['a', 'b', 'c'], ['b']).commands[1], `apt-get -y ${DPKG} install --only-upgrade a c`);
  });

  test('dnf and yum use --exclude', () => {
    assert.deepEqual(argvs('dnf', [], []).commands, ['dnf -y upgrade']);
    assert.deepEqual(argvs('dnf', [], ['kernel*', 'ec2-hibinit-agent']).commands, [
      'dnf -y upgrade --exclude=kernel* --exclude=ec2-hibinit-agent',
    ]);
    assert.deepEqual(argvs('yum', ['openssl'], ['kernel']).commands, ['yum -y update --exclude=kernel openssl']);
    assert.deepEqual(argvs('yum', [], ['kernel']).commands, ['yum -y update --exclude=kernel']);
  });

  test('apk: upgrade or add -u, and no exclude without include', () => {
    assert.deepEqual(argvs('apk', [], []).commands, ['apk update', 'apk upgrade']);
    assert.deepEqual(argvs('apk', ['busybox', 'musl'], ['musl']).commands, ['apk update', 'apk add -u busybox']);
    assert.throws(() => planUpdate('apk', { include: [], exclude: ['musl'] }), ActionFailure);
  });

  test('an include list that is entirely excluded runs nothing', () => {
    for (const manager of ['apt-get', 'dnf', 'yum', 'apk'] as const) {
      const plan = planUpdate(manager, { include: ['a'], exclude: ['a'] });
      assert.deepEqual(plan.commands, []);
      assert.match(plan.summary, /nothing to update/);
    }
  });
});

describe('apt fact parsing', () => {
  test('dpkg-query output: installed and held packages count, config-only and unknown do not', () => {
    const stdout = 'ii |bash\nhi |docker-ce\nrc |old-kernel\nun |never-installed\n\n';
    assert.deepEqual(parseDpkgInstalled(stdout), ['bash', 'docker-ce']);
    assert.deepEqual(dpkgQueryArgv(['a', 'b*']).slice(-3), ['--', 'a', 'b*']);
  });

  test('apt-mark showhold output', () => {
    assert.deepEqual(parseLines('docker-ce\n  containerd.io \n\n'), ['docker-ce', 'containerd.io']);
  });
});

describe('detectPackageManager', () => {
  test('finds the first known manager with command -v', async () => {
    assert.equal(await detectPackageManager(new StandInMachine(['apt-get', 'apt'])), 'apt-get');
    assert.equal(await detectPackageManager(new StandInMachine(['yum', 'dnf'])), 'dnf');
    assert.equal(await detectPackageManager(new StandInMachine(['yum'])), 'yum');
    assert.equal(await detectPackageManager(new StandInMachine(['apk'])), 'apk');
    assert.equal(await detectPackageManager(new StandInMachine(['pacman'])), undefined);
  });
});

describe('UpdateOS run', () => {
  test('apt machine with exclude: query, hold, upgrade, unhold; output streamed; env non-interactive', async () => {
    const machine = new StandInMachine(['apt-get'], {
      'dpkg-query': 'ii |ec2-hibinit-agent\n',
      'apt-mark showhold': '',
      'apt-get -y': 'Reading package lists... Done\n',
    });
    const context = makeContext('/work', { instance: machine, timeoutMs: 60_000 });
    const result = await runAction(updateOs, { exclude: ['ec2-hibinit-agent'] }, context);
    assert.deepEqual(result.outputs, {});
    assert.deepEqual(machine.commands, [
      "dpkg-query -W --showformat=${db:Status-Abbrev}|${Package}\\n -- ec2-hibinit-agent",
      'apt-mark showhold',
      'apt-get update',
      'apt-mark hold ec2-hibinit-agent',
      `apt-get -y ${DPKG} upgrade`,
      'apt-mark unhold ec2-hibinit-agent',
    ]);
    const upgrade = machine.calls.find((c) => c.argv.includes('upgrade'));
    assert.equal(upgrade?.options.env?.DEBIAN_FRONTEND, 'noninteractive');
    assert.ok(upgrade?.options.signal, 'the step signal is passed on');
    const timeout = upgrade?.options.timeoutMs ?? 0;
    assert.ok(timeout > 0 && timeout <= 60_000, `timeout ${timeout} stays within the step budget`);
    assert.ok(context.output.includes('Reading package lists... Done\n'), 'stdout is streamed to the step log');
  });

  test('a failed upgrade still releases the holds, and the step fails naming the command', async () => {
    const machine = new StandInMachine(['apt-get'], { 'dpkg-query': 'ii |nginx\n' }, { 'apt-get -y': 100 });
    const context = makeContext('/work', { instance: machine });
    await assert.rejects(
      runAction(updateOs, { exclude: ['nginx'] }, context),
      (err: Error) => err instanceof ActionFailure && /upgrade exited with code 100/.test(err.message),
    );
    assert.equal(machine.commands.at(-1), 'apt-mark unhold nginx');
  });

  test('no inputs at all updates everything (dnf machine)', async () => {
    const machine = new StandInMachine(['dnf', 'yum']);
    await runAction(updateOs, undefined, makeContext('/work', { instance: machine }));
    assert.deepEqual(machine.commands, ['dnf -y upgrade']);
  });

  test('include on a yum machine', async () => {
    const machine = new StandInMachine(['yum']);
    await runAction(updateOs, { include: ['openssl'], exclude: [] }, makeContext('/work', { instance: machine }));
    assert.deepEqual(machine.commands, ['yum -y update openssl']);
  });

  test('no package manager is a clear failure', async () => {
    const machine = new StandInMachine([]);
    await assert.rejects(runAction(updateOs, {}, makeContext('/work', { instance: machine })), /no supported package manager/);
  });

  test('Windows instances are not supported', async () => {
    const machine = new StandInMachine([], {}, {}, 'windows');
    await assert.rejects(
      runAction(updateOs, { include: ['KB1234567'] }, makeContext('/work', { instance: machine })),
      /UpdateOS is not supported on Windows/,
    );
    assert.deepEqual(machine.calls, []);
  });

  test('bad inputs fail at run time too', async () => {
    const machine = new StandInMachine(['apt-get']);
    await assert.rejects(
      runAction(updateOs, { include: 'openssl' }, makeContext('/work', { instance: machine })),
      /inputs\.include: must be a list of strings/,
    );
  });
});

describe('UpdateOS input validation', () => {
  const paths = (inputs: unknown) => validateInputs(updateOs, inputs).map((i) => i.path);

  test('accepts no inputs and the documented forms', () => {
    assert.deepEqual(paths(undefined), []);
    assert.deepEqual(paths(null), []);
    assert.deepEqual(paths({}), []);
    assert.deepEqual(paths({ exclude: ['ec2-hibinit-agent'] }), []);
    assert.deepEqual(paths({ include: ['KB1234567', '*Security*'] }), []);
    assert.deepEqual(paths({ include: ['{{ Packages }}'] }), []);
  });

  test('reports bad fields by path', () => {
    assert.deepEqual(paths({ include: 'openssl' }), ['inputs.include']);
    assert.deepEqual(paths({ exclude: ['-y'] }), ['inputs.exclude']);
    assert.deepEqual(paths({ packages: ['x'] }), ['inputs.packages']);
    assert.deepEqual(paths([{ include: ['x'] }]), ['inputs']);
  });
});
