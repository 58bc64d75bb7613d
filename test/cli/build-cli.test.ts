// `kiln build` as a user runs it: a container recipe on the managed Debian base with two local component files,
// built twice into one data directory (the second run from the step cache), its oci: output unpacked with umoci,
// its REGISTRY/REPO:TAG output pulled with skopeo from a docker-registry started here, a build cancelled with
// SIGINT (exit 130, nothing left behind), a second process refused on a data directory in use, and bad inputs
// refused with exit 1 and without host paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bashComponent, buildSkipReason, hostLeftovers, mirrorSkipReason, run, toolsSkipReason } from '../build/helpers.js';
import { dockerRegistryUnavailable, startDockerRegistry } from '../helpers/registry.js';
import { startFixture } from '../api/fixture.js';
import { CreateComponentCommand } from '@aws-sdk/client-imagebuilder';

const KILN = path.resolve('bin/kiln');

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `kiln build …`; `onStderr` sees its stderr as it comes. */
function kilnBuild(args: string[], options: { onStderr?: (text: string, child: ReturnType<typeof spawn>) => void; env?: Record<string, string> } = {}): Promise<Exit> {
  return kiln(['build', ...args], options);
}

/** Runs `kiln ARGS`; a run still going after `timeoutMs` is stopped with SIGTERM. */
function kiln(args: string[], options: { onStderr?: (text: string, child: ReturnType<typeof spawn>) => void; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(KILN, args, { env: { ...process.env, KILN_DATA_DIR: '', KILN_PREFETCH_BASES: '0', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      options.onStderr?.(stderr, child);
    });
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGTERM'), options.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function skipReason(): Promise<string | undefined> {
  return buildSkipReason() ?? dockerRegistryUnavailable() ?? (await toolsSkipReason(['umoci', 'mmdebstrap'])) ?? mirrorSkipReason();
}

test('kiln build: bad inputs exit 1 with the option or field named and no host path, before any engine starts', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-build-bad-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = path.join(dir, 'data');
  const missing = await kilnBuild(['--recipe', path.join(dir, 'nope.yaml'), '--data-dir', dataDir]);
  assert.equal(missing.code, 1, missing.stderr);
  assert.equal(missing.stderr, 'kiln build: --recipe: cannot read nope.yaml (no such file)\n');
  writeFileSync(path.join(dir, 'bad.yaml'), 'name: web\nparentImage: [x\n');
  const malformed = await kilnBuild(['--recipe', path.join(dir, 'bad.yaml'), '--data-dir', dataDir]);
  assert.equal(malformed.code, 1);
  assert.match(malformed.stderr, /^kiln build: --recipe bad\.yaml: not valid YAML or JSON: .*line \d+/);
  assert.ok(!malformed.stderr.includes(dir), malformed.stderr);
  writeFileSync(path.join(dir, 'ok.yaml'), 'parentImage: x\ncontainerType: DOCKER\n');
  const badComponent = await kilnBuild(['--recipe', path.join(dir, 'ok.yaml'), '--component', path.join(dir, 'gone.yaml'), '--data-dir', dataDir]);
  assert.equal(badComponent.code, 1);
  assert.equal(badComponent.stderr, 'kiln build: --component #1 (gone.yaml): cannot read gone.yaml (no such file)\n');
  const badOutput = await kilnBuild(['--recipe', path.join(dir, 'ok.yaml'), '--output', 'disk:/x.qcow2', '--data-dir', dataDir]);
  assert.equal(badOutput.code, 1);
  assert.match(badOutput.stderr, /--output: disk: is an output of image \(machine\) recipes/);
  assert.ok(!existsSync(dataDir), 'no data directory was made for inputs refused');
});

test('kiln build of a container recipe with two component files: cached rebuild, oci: and registry outputs, SIGINT, a busy data directory, an unknown parameter', { skip: await skipReason(), timeout: 900_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-build-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = path.join(dir, 'data');
  writeFileSync(
    path.join(dir, 'recipe.yaml'),
    [
      'name: hello-local',
      'semanticVersion: 1.0.0',
      'containerType: DOCKER',
      // Written for another region: the managed base resolves in the local one.
      'parentImage: arn:aws:imagebuilder:us-east-1:aws:image/debian-12-container-x86/x.x.x',
      'targetRepository: { service: ECR, repositoryName: local/hello }',
      'dockerfileTemplateData: |',
      '  FROM {{{ imagebuilder:parentImage }}}',
      '  {{{ imagebuilder:components }}}',
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'one.yaml'), bashComponent({ build: ['echo "{{ greeting }}" > /one.txt'], test: ['grep -q . /one.txt'] }, { greeting: 'hi' }).replace('name: e2e', 'name: write-one'));
  writeFileSync(path.join(dir, 'two.yaml'), bashComponent({ build: ['echo two > /two.txt'] }).replace('name: e2e\n', ''));
  const base = ['--recipe', path.join(dir, 'recipe.yaml'), '--component', path.join(dir, 'one.yaml'), '--component', path.join(dir, 'two.yaml'), '--parameters', 'greeting=hello', '--data-dir', dataDir];

  const layout = path.join(dir, 'layout');
  const first = await kilnBuild([...base, '--output', `oci:${layout}:v1`, '--json']);
  assert.equal(first.code, 0, first.stderr);
  const firstResult = JSON.parse(first.stdout) as { image: string; state: string; digest: string; output: string; ranComponents?: number };
  assert.equal(firstResult.state, 'AVAILABLE');
  assert.match(firstResult.digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(firstResult.output, `oci:${layout}:v1`);
  // Live step logs on stderr: the steps by name and the components' output.
  assert.match(first.stderr, /== BUILD ApplyBuildComponents \(COMPLETED\) ==/);
  assert.match(first.stderr, /Document write-one\nPhase build\nStep buildStep \(ExecuteBash\)/);
  assert.match(first.stderr, /== TEST ApplyTestComponents \(COMPLETED\) ==/);
  await run('umoci', ['unpack', '--image', `${layout}:v1`, path.join(dir, 'bundle')]);
  assert.equal(readFileSync(path.join(dir, 'bundle/rootfs/one.txt'), 'utf8'), 'hello\n');
  assert.equal(readFileSync(path.join(dir, 'bundle/rootfs/two.txt'), 'utf8'), 'two\n');
  assert.deepEqual(hostLeftovers(dataDir), []);
  assert.ok(!existsSync(path.join(dataDir, 'build.lock')), 'the lock is released');

  // The same inputs again: the same recipe (a new build of it), every component from the step cache.
  const archive = path.join(dir, 'hello.tar');
  const second = await kilnBuild([...base, '--output', `docker-archive:${archive}:local/hello:2`, '--json']);
  assert.equal(second.code, 0, second.stderr);
  // A docker load archive, tagged as asked.
  const manifest = JSON.parse(await run('tar', ['-xOf', archive, 'manifest.json'])) as { RepoTags: string[]; Layers: string[] }[];
  assert.deepEqual(manifest.map((m) => m.RepoTags), [['docker.io/local/hello:2']]);
  const secondResult = JSON.parse(second.stdout) as { image: string; cachedComponents?: number; ranComponents?: number };
  assert.equal(secondResult.image, firstResult.image.replace(/\/1$/, '/2'), 'the recipe was reused');

  // A recipe naming a component of another Kiln's account, fetched from it with --endpoint-url (its keys from the
  // environment), pushed to a registry and pulled back with skopeo. A loopback registry is plain HTTP without a flag.
  const remote = await startFixture(t);
  const remoteArn = (await remote.client().send(new CreateComponentCommand({ name: 'remote-three', semanticVersion: '2.1.0', platform: 'Linux', data: bashComponent({ build: ['echo three > /three.txt'] }) }))).componentBuildVersionArn!;
  writeFileSync(path.join(dir, 'remote-recipe.yaml'), `${readFileSync(path.join(dir, 'recipe.yaml'), 'utf8')}components:\n  - componentArn: ${remoteArn}\n`);
  const registry = await startDockerRegistry(t);
  const remoteEnv = { AWS_ACCESS_KEY_ID: remote.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: remote.credentials.secretAccessKey };
  const pushed = await kilnBuild(['--recipe', path.join(dir, 'remote-recipe.yaml'), ...base.slice(2), '--endpoint-url', remote.server.endpoint, '--output', `${registry.host}/team/hello:1`], { env: remoteEnv });
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stderr, /component\/remote-three\/2\.1\.0\/1, .*component\/write-one\/1\.0\.0\/1, .*component\/two\/1\.0\.0\/1/, 'the fetched component first, then the files');
  assert.equal(pushed.stdout, `${registry.host}/team/hello:1\n`);
  await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${registry.host}/team/hello:1`, `oci:${path.join(dir, 'pulled')}:x`]);
  await run('umoci', ['unpack', '--image', `${path.join(dir, 'pulled')}:x`, path.join(dir, 'pulled-bundle')]);
  assert.equal(readFileSync(path.join(dir, 'pulled-bundle/rootfs/two.txt'), 'utf8'), 'two\n');
  assert.equal(readFileSync(path.join(dir, 'pulled-bundle/rootfs/three.txt'), 'utf8'), 'three\n');

  // An unknown parameter is named; exit 1.
  const unknown = await kilnBuild([...base.slice(0, -4), '--parameters', 'nope=1', '--data-dir', dataDir]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /kiln build: --parameters: no component of the recipe declares the parameter nope/);
  assert.ok(!unknown.stderr.includes(dir), unknown.stderr);

  // SIGINT while a component runs: the build is cancelled, the engine cleans up, exit 130; meanwhile a second
  // kiln build on the same data directory is refused.
  writeFileSync(path.join(dir, 'slow.yaml'), bashComponent({ build: ['echo slow-started', 'sleep 300'] }).replace('name: e2e', 'name: slow'));
  let busy: Promise<Exit[]> | undefined;
  let interrupted = false;
  const slow = await kilnBuild(['--recipe', path.join(dir, 'recipe.yaml'), '--component', path.join(dir, 'slow.yaml'), '--data-dir', dataDir, '--no-cache'], {
    onStderr: (text, child) => {
      if (interrupted || !text.includes('slow-started')) return;
      interrupted = true;
      busy = Promise.all([kilnBuild(base), kiln(['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], { timeoutMs: 60_000 })]).then((r) => {
        child.kill('SIGINT');
        return r;
      });
    },
  });
  assert.ok(busy, slow.stderr);
  const [refused, serve] = await busy;
  assert.equal(refused!.code, 1);
  assert.match(refused!.stderr, /^kiln build: the data directory is in use by another Kiln process \(pid \d+: a kiln serve or kiln build\)/);
  assert.equal(serve!.code, 1, serve!.stderr);
  assert.match(serve!.stderr, /^kiln serve: the data directory is in use by another Kiln process \(pid \d+/);
  assert.equal(slow.code, 130, slow.stderr);
  assert.match(slow.stderr, /is CANCELLED\n$/);
  assert.deepEqual(hostLeftovers(dataDir), []);
  assert.deepEqual(await run('bash', ['-c', `ls -A ${JSON.stringify(path.join(dataDir, 'work'))}`]), '');
  assert.ok(!existsSync(path.join(dataDir, 'build.lock')));

  // Last, so that everything above is checked whatever the cache does: the second run took both components from it.
  assert.deepEqual([secondResult.cachedComponents, secondResult.ranComponents], [2, 0], 'the second run takes both components from the cache');
  assert.equal(second.stderr.split('\n').filter((l) => l.startsWith('cached:')).length, 2, 'a line per cache hit');
});
