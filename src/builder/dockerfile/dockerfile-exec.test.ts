import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { isKilnError } from '../../domain/errors.js';
import type { ExecOptions, ExecResult, FileStat, Instance, InstanceFs } from '../../toe/instance/instance.js';
import { LocalInstance } from '../../toe/instance/local.js';
import { actionModules } from '../../toe/actions/registry.js';
import { runDocuments } from '../../toe/runner/run.js';
import { scratchDir } from '../../../test/helpers/action-context.js';
import { executeDockerfile, isDockerfileStepError, type DockerfileExecOptions, type HistoryEntry } from './dockerfile-exec.js';
import { renderDockerfileTemplate } from './dockerfile-render.js';
import { withExecEnv } from '../stages/instance-env.js';

interface ExecCall {
  argv: string[];
  cwd: string | undefined;
  env: Record<string, string> | undefined;
}

/**
 * A stand-in Instance, not a driver: its filesystem is a temporary directory seen as `/`, and exec only records
 * what it was asked to run. It shows which commands the executor sends (setpriv, chown) without needing root.
 */
class StandInInstance implements Instance {
  readonly id = 'stand-in';
  readonly platform = 'linux' as const;
  readonly canReboot = false;
  readonly calls: ExecCall[] = [];
  readonly fs: InstanceFs;

  constructor(readonly root: string) {
    const at = (p: string) => join(root, p);
    const stat = async (fn: () => Promise<import('node:fs').Stats>): Promise<FileStat | null> => {
      try {
        const s = await fn();
        return { type: s.isSymbolicLink() ? 'symlink' : s.isDirectory() ? 'directory' : s.isFile() ? 'file' : 'other', size: s.size, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid };
      } catch {
        return null;
      }
    };
    this.fs = {
      lstat: (p) => stat(() => fsp.lstat(at(p))),
      stat: (p) => stat(() => fsp.stat(at(p))),
      readFile: (p) => fsp.readFile(at(p)),
      writeFile: (p, d) => fsp.writeFile(at(p), d),
      appendFile: (p, d) => fsp.appendFile(at(p), d),
      mkdir: async (p, o) => {
        await fsp.mkdir(at(p), { recursive: o?.recursive ?? false });
        if (o?.mode !== undefined) await fsp.chmod(at(p), o.mode);
      },
      readdir: (p) => fsp.readdir(at(p)),
      rm: (p, o) => fsp.rm(at(p), { recursive: o?.recursive ?? false, force: o?.force ?? false }),
      rename: (a, b) => fsp.rename(at(a), at(b)),
      copy: (a, b) => fsp.cp(at(a), at(b), { recursive: true }),
      symlink: (t, p) => fsp.symlink(t, at(p)),
      chmod: (p, m) => fsp.chmod(at(p), m),
      realpath: (p) => fsp.realpath(at(p)),
    };
  }

  exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    this.calls.push({ argv, cwd: options.cwd, env: options.env });
    return Promise.resolve({ exitCode: 0, signal: null, stdout: '', stderr: '', timedOut: false, aborted: false });
  }

  async putFile(path: string, data: Buffer | string, mode?: number): Promise<void> {
    await fsp.writeFile(join(this.root, path), data);
    if (mode !== undefined) await fsp.chmod(join(this.root, path), mode);
  }

  getFile(path: string): Promise<Buffer> {
    return fsp.readFile(join(this.root, path));
  }

  reboot(): Promise<void> {
    return Promise.reject(new Error('the stand-in cannot reboot'));
  }
}

async function standIn(t: TestContext): Promise<StandInInstance> {
  const root = await scratchDir(t, 'kiln-standin-');
  await fsp.mkdir(join(root, 'etc'));
  await fsp.writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/home/app:/bin/sh\n');
  await fsp.writeFile(join(root, 'etc/group'), 'root:x:0:\napp:x:1000:\nstaff:x:50:app\ndocker:x:999:other,app\n');
  return new StandInInstance(root);
}

const h = (created_by: string, layer = false): HistoryEntry => ({ created_by, comment: 'buildkit.dockerfile.v0', ...(layer ? {} : { empty_layer: true }) });

test('the accumulated config and history are what docker inspect reports for the same Dockerfile', async (t) => {
  const instance = await standIn(t);
  const dockerfile = [
    'FROM base',
    'ENV A=1 B="two words"',
    'ENV A=2 C=$B',
    '# a comment between instructions',
    'LABEL org.example.name="kiln test" \\',
    '      version=1',
    'EXPOSE 80 53/udp 8000-8001',
    'VOLUME /data /logs',
    'WORKDIR /app',
    'WORKDIR sub',
    'USER app',
    'STOPSIGNAL SIGQUIT',
    'HEALTHCHECK --interval=30s --retries=3 CMD curl -f http://localhost/ || exit 1',
    'SHELL ["/bin/bash", "-c"]',
    'ENTRYPOINT ["/entry.sh"]',
    'CMD echo $A',
  ].join('\n');
  const r = await executeDockerfile({ instance, dockerfile, parentConfig: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['bash'] } });
  assert.equal(r.from, 'base');
  assert.deepEqual(r.config, {
    Env: ['PATH=/usr/bin:/bin', 'A=2', 'B=two words', 'C=two words'],
    Labels: { 'org.example.name': 'kiln test', version: '1' },
    ExposedPorts: { '53/udp': {}, '80/tcp': {}, '8000/tcp': {}, '8001/tcp': {} },
    Volumes: { '/data': {}, '/logs': {} },
    WorkingDir: '/app/sub',
    User: 'app',
    StopSignal: 'SIGQUIT',
    Healthcheck: { Test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'], Interval: 30_000_000_000, Retries: 3 },
    Shell: ['/bin/bash', '-c'],
    Entrypoint: ['/entry.sh'],
    Cmd: ['/bin/bash', '-c', 'echo $A'],
  });
  assert.deepEqual(r.history, [
    h('ENV A=1 B=two words'),
    h('ENV A=2 C=two words'),
    h('LABEL org.example.name=kiln test version=1'),
    h('EXPOSE [80/tcp 53/udp 8000/tcp 8001/tcp]'),
    h('VOLUME [/data /logs]'),
    h('WORKDIR /app', true),
    h('WORKDIR /app/sub', true),
    h('USER app'),
    h('STOPSIGNAL SIGQUIT'),
    h('HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/ || exit 1] Interval:30s Timeout:0s StartPeriod:0s StartInterval:0s Retries:3}'),
    h('SHELL [/bin/bash -c]'),
    h('ENTRYPOINT ["/entry.sh"]'),
    h('CMD ["/bin/bash" "-c" "echo $A"]'),
  ]);
  assert.equal((await fsp.stat(join(instance.root, 'app/sub'))).isDirectory(), true);
});

test('ENTRYPOINT drops an inherited CMD; shell forms use /bin/sh -c; HEALTHCHECK NONE; the default PATH', async (t) => {
  const instance = await standIn(t);
  const r = await executeDockerfile({ instance, dockerfile: 'FROM base\nENTRYPOINT exec server --port 80\nHEALTHCHECK NONE\n' , parentConfig: { Env: ['PATH=/bin'], Cmd: ['bash'] } });
  assert.deepEqual(r.config.Entrypoint, ['/bin/sh', '-c', 'exec server --port 80']);
  assert.equal(r.config.Cmd, null);
  assert.deepEqual(r.config.Healthcheck, { Test: ['NONE'] });
  const plain = await executeDockerfile({ instance, dockerfile: 'FROM base\nCMD ["a"]\nENTRYPOINT ["b"]\n' });
  assert.deepEqual(plain.config.Cmd, ['a']);
  assert.deepEqual(plain.config.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
});

test('USER runs through setpriv with the ids from the instance files; COPY places context files with --chown', async (t) => {
  const instance = await standIn(t);
  const dockerfile = [
    'FROM base',
    'COPY --chown=app:staff conf/ /etc/myapp/',
    'COPY bin/tool /usr/local/bin/',
    'COPY *.txt /docs/',
    'COPY single.txt /renamed.txt',
    'USER app',
    'WORKDIR /home/app/work',
    'RUN touch x',
    'USER 4242',
    'RUN ["id"]',
  ].join('\n');
  const r = await executeDockerfile({
    instance,
    dockerfile,
    context: { 'conf/a.conf': 'A', 'conf/sub/b.conf': 'B', 'bin/tool': { data: '#!/bin/sh\n', mode: 0o755 }, 'one.txt': '1', './two.txt': '2', 'single.txt': 's' },
  });
  const read = (p: string) => fsp.readFile(join(instance.root, p), 'utf8');
  assert.equal(await read('etc/myapp/a.conf'), 'A');
  assert.equal(await read('etc/myapp/sub/b.conf'), 'B');
  assert.equal((await fsp.stat(join(instance.root, 'usr/local/bin/tool'))).mode & 0o777, 0o755);
  assert.equal((await fsp.stat(join(instance.root, 'etc/myapp/a.conf'))).mode & 0o777, 0o644);
  assert.deepEqual((await fsp.readdir(join(instance.root, 'docs'))).sort(), ['one.txt', 'single.txt', 'two.txt']);
  assert.equal(await read('renamed.txt'), 's');
  assert.deepEqual(instance.calls.map((c) => [c.argv, c.cwd]), [
    [['chown', '-h', '1000:50', '--', '/etc/myapp', '/etc/myapp/a.conf', '/etc/myapp/sub', '/etc/myapp/sub/b.conf'], undefined],
    [['chown', '-h', '1000:1000', '--', '/home', '/home/app', '/home/app/work'], undefined],
    [['setpriv', '--reuid=1000', '--regid=1000', '--groups=50,999', '--', '/bin/sh', '-c', 'touch x'], '/home/app/work'],
    [['setpriv', '--reuid=4242', '--regid=0', '--clear-groups', '--', 'id'], '/home/app/work'],
  ]);
  assert.deepEqual(r.history.map((e) => e.created_by).slice(0, 4), [
    'COPY --chown=app:staff conf/ /etc/myapp/ # buildkit',
    'COPY bin/tool /usr/local/bin/ # buildkit',
    'COPY *.txt /docs/ # buildkit',
    'COPY single.txt /renamed.txt # buildkit',
  ]);
  assert.equal(r.history.at(-1)!.created_by, 'RUN id # buildkit');
});

test('RUN on a local instance: ARG from build args and defaults, ENV, WORKDIR, exec form, SHELL, here-documents', async (t) => {
  const dir = await scratchDir(t);
  const instance = new LocalInstance();
  t.after(() => instance.dispose());
  const dockerfile = [
    'ARG OUT',
    'FROM base',
    'ARG OUT',
    'ARG GREETING=hello',
    'ENV WHO=world',
    'WORKDIR $OUT/work',
    'RUN echo "$GREETING $WHO" > "$OUT/run.txt" \\',
    '  && pwd > "$OUT/pwd.txt"',
    'RUN ["/bin/sh", "-c", "echo exec:$GREETING > $OUT/exec.txt"]',
    'SHELL ["/bin/bash", "-c"]',
    'RUN [[ -n "$BASH_VERSION" ]] && echo bash > "$OUT/shell.txt"',
    'RUN <<EOF',
    'echo heredoc > "$OUT/heredoc.txt"',
    'EOF',
  ].join('\n');
  let output = '';
  const r = await executeDockerfile({ instance, dockerfile, buildArgs: { OUT: dir }, onOutput: (s) => (output += s) });
  const read = (p: string) => fsp.readFile(join(dir, p), 'utf8');
  assert.equal(await read('run.txt'), 'hello world\n');
  assert.equal(await read('pwd.txt'), `${join(dir, 'work')}\n`);
  assert.equal(await read('exec.txt'), 'exec:hello\n');
  assert.equal(await read('shell.txt'), 'bash\n');
  assert.equal(await read('heredoc.txt'), 'heredoc\n');
  assert.equal(output, '');
  assert.equal(r.config.WorkingDir, join(dir, 'work'));
  assert.deepEqual(r.history.slice(0, 4), [
    h(`ARG OUT=${dir}`),
    h('ARG GREETING=hello'),
    h('ENV WHO=world'),
    h(`WORKDIR ${join(dir, 'work')}`, true),
  ]);
  // Continued lines are joined by the create-time parser (trimmed, one space); Docker would keep the indentation.
  assert.equal(r.history[4]!.created_by, `RUN |2 OUT=${dir} GREETING=hello /bin/sh -c echo "$GREETING $WHO" > "$OUT/run.txt"  && pwd > "$OUT/pwd.txt" # buildkit`);
  assert.equal(r.history[5]!.created_by, `RUN |2 OUT=${dir} GREETING=hello /bin/sh -c echo exec:$GREETING > $OUT/exec.txt # buildkit`);
  assert.equal(r.history[5]!.empty_layer, undefined);
});

test('a failing RUN names its line and exit code and keeps the tail of its output', async (t) => {
  const instance = new LocalInstance();
  t.after(() => instance.dispose());
  await assert.rejects(
    executeDockerfile({ instance, dockerfile: 'FROM base\n\nRUN echo some output; echo an error >&2; exit 3\nRUN echo never\n' }),
    (err: unknown) => {
      assert.ok(isDockerfileStepError(err), String(err));
      assert.equal(err.line, 3);
      assert.equal(err.exitCode, 3);
      assert.match(err.outputTail ?? '', /some output/);
      assert.match(err.outputTail ?? '', /an error/);
      assert.match(err.message, /^line 3: RUN echo some output.* exited with code 3/);
      return true;
    },
  );
});

test('RUN output keeps a multi-byte character whole when its bytes arrive in two chunks', async (t) => {
  const instance = await standIn(t);
  const euro = Buffer.from('€', 'utf8');
  // The instance hands over output cut inside a character, as a pipe may: three bytes of € split 1 + 2.
  instance.exec = (_argv, options = {}) => {
    options.onStdout?.(Buffer.concat([Buffer.from('price: '), euro.subarray(0, 1)]));
    options.onStdout?.(Buffer.concat([euro.subarray(1), Buffer.from('5\n')]));
    options.onStderr?.(Buffer.from('ü', 'utf8').subarray(0, 1));
    options.onStderr?.(Buffer.concat([Buffer.from('ü', 'utf8').subarray(1), Buffer.from('ber\n')]));
    return Promise.resolve({ exitCode: 1, signal: null, stdout: 'price: €5\n', stderr: 'über\n', timedOut: false, aborted: false });
  };
  const seen = { stdout: '', stderr: '' };
  await assert.rejects(
    executeDockerfile({ instance, dockerfile: 'FROM base\nRUN show-prices\n', onOutput: (text, stream) => (seen[stream as 'stdout' | 'stderr'] += text) }),
    (err: unknown) => {
      assert.ok(isDockerfileStepError(err), String(err));
      assert.equal(err.outputTail, 'price: €5\nüber');
      return true;
    },
  );
  assert.deepEqual(seen, { stdout: 'price: €5\n', stderr: 'über\n' });
});

test('aborting the signal stops a running RUN and reports a cancellation', async (t) => {
  const instance = new LocalInstance();
  t.after(() => instance.dispose());
  const controller = new AbortController();
  const started = Date.now();
  setTimeout(() => controller.abort(), 200);
  await assert.rejects(executeDockerfile({ instance, dockerfile: 'FROM base\nRUN sleep 20\n', signal: controller.signal }), (err: unknown) => isKilnError(err, 'Cancelled'));
  assert.ok(Date.now() - started < 5000);
});

test('USER on a real instance runs the command as that user (needs root)', { skip: process.getuid?.() !== 0 ? 'not running as root' : false }, async (t) => {
  const dir = await scratchDir(t);
  await fsp.chmod(dir, 0o777);
  const instance = new LocalInstance();
  t.after(() => instance.dispose());
  await executeDockerfile({ instance, dockerfile: `FROM base\nUSER nobody\nRUN id -u > ${dir}/uid; id -G > ${dir}/groups\n` });
  const nobody = (await fsp.readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith('nobody:'))!.split(':');
  assert.equal((await fsp.readFile(join(dir, 'uid'), 'utf8')).trim(), nobody[2]);
  assert.equal((await fsp.readFile(join(dir, 'groups'), 'utf8')).trim(), nobody[3]);
});

/** [description, Dockerfile, options, kind or step, message fragment]. */
const REFUSALS: [string, string, Partial<DockerfileExecOptions>, RegExp][] = [
  ['a second FROM', 'FROM a\nRUN true\nFROM b\n', {}, /^line 3: FROM: multi-stage builds are not supported/],
  ['a FROM that is not the launched parent', 'ARG V=2\nFROM repo:$V\n', { parentImage: 'repo:1' }, /^line 2: FROM: FROM names repo:2, but the build instance was launched from repo:1/],
  ['an instruction before FROM', 'RUN true\nFROM a\n', {}, /^line 1: RUN: RUN must come after FROM/],
  ['ADD of a URL', 'FROM a\nADD https://example.com/x.tgz /x\n', {}, /^line 2: ADD: https:\/\/example.com\/x.tgz: ADD of a URL .* not supported/],
  ['RUN --mount', 'FROM a\nRUN --mount=type=cache,target=/c true\n', {}, /^line 2: RUN: the --mount flag is not supported/],
  ['COPY --from', 'FROM a\nCOPY --from=build /x /y\n', {}, /^line 2: COPY: --from is not supported/],
  ['SHELL in shell form', 'FROM a\nSHELL /bin/bash -c\n', {}, /^line 2: SHELL: SHELL requires the arguments to be in JSON form/],
  ['a bad STOPSIGNAL', 'FROM a\nSTOPSIGNAL SIGNOPE\n', {}, /^line 2: STOPSIGNAL: invalid signal: SIGNOPE/],
  ['a bad HEALTHCHECK interval', 'FROM a\nHEALTHCHECK --interval=5 CMD true\n', {}, /^line 2: HEALTHCHECK: --interval: invalid duration "5"/],
  ['a bad port', 'FROM a\nEXPOSE 70000\n', {}, /^line 2: EXPOSE: invalid port "70000"/],
  ['an unclosed quote', 'FROM a\nENV A="x\n', {}, /^line 2: ENV: unexpected end of statement while looking for matching double-quote/],
  ['the components marker without a callback', renderDockerfileTemplate({ template: 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}\n', parentImage: 'a' }).dockerfile, {}, /^line 2: KILN-RUN-COMPONENTS: .*no way to run them/],
  ['several sources into a file', 'FROM a\nCOPY a b /dest\n', { context: { a: '1', b: '2' } }, /^line 2: COPY: When using COPY with more than one source file/],
  ['a file missing from the context', 'FROM a\nCOPY missing /dest\n', {}, /^line 2: COPY: missing: not found in the build context/],
  ['an unknown user', 'FROM a\nUSER ghost\nRUN true\n', {}, /^line 3: RUN: unable to find user ghost/],
];

for (const [name, dockerfile, options, message] of REFUSALS) {
  test(`the executor refuses ${name}, naming the line`, async (t) => {
    const instance = await standIn(t);
    await assert.rejects(executeDockerfile({ instance, dockerfile, ...options }), (err: unknown) => {
      assert.match((err as Error).message, message);
      assert.ok(isKilnError(err, 'InvalidArgument') || isDockerfileStepError(err));
      return true;
    });
  });
}

const COMPONENT = `name: tiny
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Write
        action: ExecuteBash
        inputs:
          commands:
            - echo "$GREETING from $(pwd)" > "$OUT/component.txt"
  - name: validate
    steps:
      - name: Check
        action: ExecuteBash
        inputs:
          commands:
            - grep -q '^{{ Expect }} ' "$OUT/component.txt"
  - name: test
    steps:
      - name: NotNow
        action: ExecuteBash
        inputs:
          commands:
            - touch "$OUT/test-ran"
parameters:
  - Expect:
      type: string
`;

async function buildWithComponent(t: TestContext, expect: string) {
  const dir = await scratchDir(t);
  const instance = new LocalInstance();
  t.after(() => instance.dispose());
  const { dockerfile } = renderDockerfileTemplate({
    template: 'FROM {{{ imagebuilder:parentImage }}}\nARG OUT\n{{{ imagebuilder:environments }}}\nWORKDIR $OUT/w\n{{{ imagebuilder:components }}}\n',
    parentImage: 'debian:12',
    environments: { GREETING: 'hi' },
  });
  const seen: { user: string; line: number }[] = [];
  const result = executeDockerfile({
    instance,
    dockerfile,
    buildArgs: { OUT: dir },
    parentImage: 'debian:12',
    runComponents: async (env, workdir, info) => {
      seen.push({ user: info.user, line: info.line });
      const run = await runDocuments({
        documents: [{ path: join(dir, 'tiny.yaml'), text: COMPONENT, parameters: { Expect: expect } }],
        phases: ['build', 'validate'],
        instance: withExecEnv(instance, env),
        modules: actionModules(),
        workingDirectory: workdir,
        logDirectory: dir,
        ...(info.signal ? { signal: info.signal } : {}),
      });
      if (run.summary.status !== 'Success') throw new Error(run.summary.failureMessage);
    },
  });
  return { dir, result, seen };
}

test('the components marker runs build and validate phases through the AWSTOE runner with the ENV, ARG and WORKDIR in effect', async (t) => {
  const { dir, result, seen } = await buildWithComponent(t, 'hi');
  const r = await result;
  assert.equal(await fsp.readFile(join(dir, 'component.txt'), 'utf8'), `hi from ${join(dir, 'w')}\n`);
  await assert.rejects(fsp.stat(join(dir, 'test-ran')));
  assert.deepEqual(seen, [{ user: '', line: 5 }]);
  assert.deepEqual(r.config.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'GREETING=hi']);
  assert.deepEqual(r.history.at(-1), h('RUN {{{ imagebuilder:components }}} # kiln: build and validate phases', true));
});

test('a failing component fails the build at the components line', async (t) => {
  const { result } = await buildWithComponent(t, 'bye');
  await assert.rejects(result, (err: unknown) => {
    assert.ok(isDockerfileStepError(err), String(err));
    assert.equal(err.line, 5);
    assert.match(err.message, /^line 5: \{\{\{ imagebuilder:components \}\}\}: .*Check/);
    return true;
  });
});

test('ADD unpacks a local tar archive from the context with the instance\'s tar; COPY does not', async (t) => {
  const dir = await scratchDir(t);
  await fsp.mkdir(join(dir, 'src'));
  await fsp.writeFile(join(dir, 'src/inside.txt'), 'packed');
  const { execFileSync } = await import('node:child_process');
  execFileSync('tar', ['-czf', join(dir, 'a.tgz'), '-C', join(dir, 'src'), 'inside.txt']);
  const archive = await fsp.readFile(join(dir, 'a.tgz'));
  const instance = new LocalInstance();
  t.after(() => instance.dispose());
  await executeDockerfile({ instance, dockerfile: `FROM base\nADD a.tgz ${dir}/out/\nCOPY a.tgz ${dir}/copied/\n`, context: { 'a.tgz': archive }, scratchDir: dir });
  assert.equal(await fsp.readFile(join(dir, 'out/inside.txt'), 'utf8'), 'packed');
  assert.deepEqual(await fsp.readFile(join(dir, 'copied/a.tgz')), archive);
});
