/**
 * The conventions every `kiln` command follows, run as a user runs them (bin/kiln as a child process) against
 * one real server: --json that parses, the endpoint from --endpoint-url / KILN_ENDPOINT_URL / AWS_ENDPOINT_URL,
 * one clear line naming the address of a server that cannot be reached, header rows and empty listings, exit
 * statuses, and shell completion made from the command tree.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import test from 'node:test';
import { CreateComponentCommand, CreateContainerRecipeCommand, CreateImagePipelineCommand, CreateInfrastructureConfigurationCommand } from '@aws-sdk/client-imagebuilder';
import { execLocal } from '../../src/toe/instance/local.js';
import { startFixture } from '../api/fixture.js';
import { bashComponent } from '../build/helpers.js';
import { scratchDir } from '../helpers/action-context.js';

const kiln = resolve('bin/kiln');

/** The environment without the caller's AWS and Kiln settings. */
function cleanEnv(home: string): Record<string, string> {
  const kept = Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('KILN_')) as [string, string][];
  return { ...Object.fromEntries(kept), HOME: home };
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as { port: number };
  await new Promise<void>((res) => server.close(() => res()));
  return port;
}

test('kiln commands: --json, endpoint from flag and environment, unreachable servers, listings, exit statuses', { timeout: 180_000 }, async (t) => {
  const f = await startFixture(t);
  const home = await scratchDir(t, 'kiln-conventions-');
  const env = cleanEnv(home);
  const keys = { AWS_ACCESS_KEY_ID: f.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: f.credentials.secretAccessKey };
  const run = (args: string[], extra: Record<string, string> = {}) => execLocal(['node', kiln, ...args], { env: { ...env, ...extra }, cwd: home, timeoutMs: 60_000 });
  const json = async (args: string[], extra: Record<string, string> = {}): Promise<unknown> => {
    const r = await run([...args, '--json'], extra);
    assert.equal(r.exitCode, 0, `kiln ${args.join(' ')} --json: ${r.stderr}`);
    assert.equal(r.stdout.trim().split('\n').length, 1, `one line: ${r.stdout}`);
    return JSON.parse(r.stdout);
  };
  const endpoint = f.server.endpoint;
  const port = await closedPort();
  const nowhere = `http://127.0.0.1:${port}`;

  await t.test('the endpoint: flag, then KILN_ENDPOINT_URL, then AWS_ENDPOINT_URL; --endpoint still works', async () => {
    assert.deepEqual(await json(['images', 'ls'], { ...keys, AWS_ENDPOINT_URL: endpoint }), []);
    assert.deepEqual(await json(['images', 'ls'], { ...keys, KILN_ENDPOINT_URL: endpoint, AWS_ENDPOINT_URL: nowhere }), [], 'KILN_ENDPOINT_URL wins over AWS_ENDPOINT_URL');
    assert.deepEqual(await json(['images', 'ls', '--endpoint-url', endpoint], { ...keys, KILN_ENDPOINT_URL: nowhere }), [], 'the flag wins over the environment');
    assert.deepEqual(await json(['instances', 'ls', '--endpoint', endpoint], keys), [], 'the old flag name');
    const help = await run(['images', 'ls', '--help']);
    assert.match(help.stdout, /--endpoint-url <url>/);
    assert.doesNotMatch(help.stdout, /--endpoint </, '--endpoint is hidden');
  });

  await t.test('a server that cannot be reached: one line naming its address, exit 3', async () => {
    for (const [args, extra, address] of [
      [['images', 'ls'], { AWS_ENDPOINT_URL: nowhere }, nowhere],
      [['instances', 'ls'], { KILN_ENDPOINT_URL: nowhere }, nowhere],
      [['logs', 'arn:aws:imagebuilder:local:123456789012:image/app/1.0.0/1', '--endpoint-url', nowhere], {}, nowhere],
      [['images', 'ls', '--endpoint-url', 'http://no-such-host.invalid:8420'], {}, 'http://no-such-host.invalid:8420'],
    ] as [string[], Record<string, string>, string][]) {
      const r = await run(args, { ...keys, ...extra });
      assert.equal(r.exitCode, 3, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(r.stderr.includes(`cannot reach Kiln at ${address} (`), r.stderr);
      assert.match(r.stderr, /; set --endpoint-url or KILN_ENDPOINT_URL\n$/);
      assert.doesNotMatch(r.stderr, /TypeError|fetch failed/);
    }
    assert.match((await run(['images', 'ls', '--endpoint-url', nowhere], keys)).stderr, /\(connection refused\)/);
    assert.match((await run(['images', 'ls', '--endpoint-url', 'http://no-such-host.invalid:8420'], keys)).stderr, /\(host not found\)/);
  });

  await t.test('listings: a header row; empty, the header alone on stdout and a note on stderr', async () => {
    const images = await run(['images', 'ls', '--endpoint-url', endpoint], keys);
    assert.equal(images.exitCode, 0, images.stderr);
    assert.equal(images.stdout, 'IMAGE ID  OWNER  CREATED  NAME\n');
    assert.equal(images.stderr, 'no machine images\n');
    const instances = await run(['instances', 'ls', '--endpoint-url', endpoint], keys);
    assert.equal(instances.stdout, 'INSTANCE ID  STAGE  SINCE  IMAGE\n');
    assert.equal(instances.stderr, 'no instances\n');
    const accounts = await run(['accounts', 'list', '--data-dir', f.dataDir]);
    assert.match(accounts.stdout, /^ACCOUNT ID +NAME +ADMIN {2}CREATED\n\d{12} {2}\S+ +yes +\d{4}-/);
  });

  await t.test('--json parses on every command that prints data', async () => {
    const ib = f.client();
    const componentArn = (await ib.send(new CreateComponentCommand({ name: 'hello', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['echo hi'] }) }))).componentBuildVersionArn!;
    const containerRecipeArn = (
      await ib.send(
        new CreateContainerRecipeCommand({
          containerType: 'DOCKER', name: 'app', semanticVersion: '1.0.0', parentImage: 'debian:12', targetRepository: { service: 'ECR', repositoryName: 'team/app' },
          components: [{ componentArn }], dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}\n',
        }),
      )
    ).containerRecipeArn!;
    const infrastructureConfigurationArn = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'infra', instanceProfileName: 'Profile', instanceTypes: ['ns.small'] }))).infrastructureConfigurationArn!;
    const pipeline = (await ib.send(new CreateImagePipelineCommand({ name: 'nightly', containerRecipeArn, infrastructureConfigurationArn }))).imagePipelineArn!;
    const at = ['--endpoint-url', endpoint];

    const history = (await json(['pipelines', 'history', pipeline, ...at], keys)) as { ticks: unknown[] };
    assert.ok(Array.isArray(history.ticks));
    const text = await run(['pipelines', 'history', pipeline, ...at], keys);
    assert.match(text.stdout, /^SCHEDULED +OUTCOME +IMAGE OR REASON\n/);
    const hook = (await json(['pipelines', 'webhook', pipeline, ...at], keys)) as { url: string; token: string };
    assert.match(hook.url, /^http/);
    assert.ok(hook.token.length > 10);
    assert.deepEqual(await json(['pipelines', 'webhook', pipeline, '--delete', ...at], keys), { imagePipelineArn: pipeline, deleted: true });
    const accounts = (await json(['accounts', 'list', '--data-dir', f.dataDir])) as { accountId: string }[];
    assert.equal(accounts.length, 1);
    assert.ok(Array.isArray(await json(['accounts', 'keys', 'list', accounts[0]!.accountId, '--data-dir', f.dataDir])));

    // Commands whose data needs what a server without builds has not got refuse with the route's error, after
    // parsing --json (so the flag exists); their JSON shapes are covered where those resources exist.
    const exported = await run(['images', 'export', 'ami-0123456789abcdef0', '-o', join(home, 'x.qcow2'), '--json', ...at], keys);
    assert.equal(exported.exitCode, 1, exported.stderr);
    assert.match(exported.stderr, /^kiln images export: \S+Exception/);
    const launched = await run(['instances', 'launch', 'ami-0123456789abcdef0', '--detach', '--json', ...at], keys);
    assert.equal(launched.exitCode, 1, launched.stderr);
    const attached = await run(['instances', 'launch', 'ami-0123456789abcdef0', '--json', ...at], keys);
    assert.equal(attached.exitCode, 2, 'bad usage: --json without --detach');

    // kiln toe: the run summary and validation results, one line each.
    await writeFile(join(home, 'doc.yaml'), 'schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Say\n        action: ExecuteBash\n        inputs:\n          commands: ["echo hi"]\n');
    // As root the default log directory is /var/lib/amazon/toe: a test keeps its logs in its own folder.
    const summary = (await json(['toe', 'run', '--documents', 'doc.yaml', '--log-directory', join(home, 'toe-logs')])) as { status: string };
    assert.equal(summary.status, 'Success');
    assert.deepEqual(await json(['toe', 'validate', '--documents', 'doc.yaml']), [{ document: join(home, 'doc.yaml'), valid: true, issues: [] }]);
  });

  await t.test('exit statuses: 2 for bad usage, all of them listed in kiln --help', async () => {
    assert.equal((await run(['images', 'ls', '--no-such-flag'])).exitCode, 2);
    assert.equal((await run(['no-such-command'])).exitCode, 2);
    assert.equal((await run(['images', 'export'])).exitCode, 2, 'a missing argument');
    assert.equal((await run(['images', 'export', 'ami-1', '-o', 'x', '--format', 'zip'], keys)).exitCode, 2, 'a bad --format');
    assert.equal((await run(['build'])).exitCode, 2, 'kiln build without --recipe');
    assert.equal((await run(['build', '--recipe', 'r.yaml', '--dest-tls-verify', 'maybe'])).exitCode, 2, 'a bad --dest-tls-verify');
    const help = await run(['--help']);
    assert.equal(help.exitCode, 0);
    for (const code of ['0', '1', '2', '3', '130']) assert.match(help.stdout, new RegExp(`^ {2}${code} +\\S`, 'm'), `exit status ${code} listed`);
    assert.match(help.stdout, /KILN_ENDPOINT_URL/);
    assert.equal((await run(['--version'])).exitCode, 0);
  });
});

test('kiln completion bash|zsh|fish: scripts made from the command tree', async () => {
  const bash = await execLocal(['bash', '-c', `source <(node ${JSON.stringify(kiln)} completion bash) && complete -p kiln`], { timeoutMs: 30_000 });
  assert.equal(bash.exitCode, 0, bash.stderr);
  assert.match(bash.stdout, /complete .*-F _kiln kiln/);
  // What bash offers after a few words, asked of the completion function itself.
  const offers = async (words: string[]) => {
    const script = `source <(node ${JSON.stringify(kiln)} completion bash); COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${words.length - 1}; _kiln; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = await execLocal(['bash', '-c', script], { timeoutMs: 30_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    return r.stdout.trim().split('\n');
  };
  const top = await offers(['kiln', '']);
  for (const name of ['serve', 'build', 'toe', 'logs', 'images', 'instances', 'pipelines', 'accounts', 'completion']) assert.ok(top.includes(name), `${name} in ${top.join(' ')}`);
  assert.deepEqual((await offers(['kiln', 'toe', ''])).sort(), ['help', 'run', 'validate']);
  assert.deepEqual(await offers(['kiln', 'images', 'ls', '--endpoint-u']), ['--endpoint-url']);
  assert.ok(!(await offers(['kiln', 'images', 'ls', '--'])).includes('--endpoint'), 'hidden options are not offered');
  assert.deepEqual(await offers(['kiln', 'completion', '']), ['bash', 'zsh', 'fish']);
  assert.deepEqual(await offers(['kiln', 'build', '--no-']), ['--no-cache', '--no-tests']);

  for (const shell of ['zsh', 'fish']) {
    const r = await execLocal(['node', kiln, 'completion', shell], { timeoutMs: 30_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    for (const word of ['serve', 'toe', '--endpoint-url', 'validate']) assert.ok(r.stdout.includes(`${word}`), `${shell}: ${word}`);
  }
  assert.match((await execLocal(['node', kiln, 'completion', 'zsh'], { timeoutMs: 30_000 })).stdout, /^#compdef kiln\n/);
  assert.equal((await execLocal(['node', kiln, 'completion', 'tcsh'], { timeoutMs: 30_000 })).exitCode, 2);
});
