import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateComponentCommand, CreateContainerRecipeCommand, CreateImageCommand, CreateInfrastructureConfigurationCommand, ImagebuilderClient } from '@aws-sdk/client-imagebuilder';
import { readCredentials } from '../api/fixture.js';
import { bashComponent, buildSkipReason, hostLeftovers, pushHostBase, waitForImage } from './helpers.js';

const KILN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/kiln');

/** Starts `kiln serve` as its own process and waits for the endpoint it prints. */
async function serve(dataDir: string): Promise<{ child: ChildProcess; endpoint: string; registryHost: string }> {
  // The kill must land while mmdebstrap runs: no bootstrap from npm test's cache.
  // No prefetch either: the test stands in its own bootstrap mount where a prefetch would mount one.
  const { KILN_BOOTSTRAP_CACHE: _cache, ...env } = process.env;
  const child = spawn(KILN, ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, KILN_PREFETCH_BASES: '0' } });
  let out = '';
  child.stderr!.resume();
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /API at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`kiln serve exited with ${code}: ${out}`)));
  });
  return { child, endpoint, registryHost: endpoint.replace('http://', '') };
}

test('kill -9 of Kiln during a build: the next start fails the image as interrupted and releases what it held, bootstrap mounts too', { skip: buildSkipReason(), timeout: 180_000 }, async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-crash-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const first = await serve(dataDir);
  t.after(() => first.child.kill('SIGKILL'));
  const credentials = readCredentials(path.join(dataDir, 'credentials'));
  const client = (endpoint: string) => new ImagebuilderClient({ endpoint, region: 'local', credentials, maxAttempts: 1 });
  const ib = client(first.endpoint);
  t.after(() => ib.destroy());
  const base = await pushHostBase(t, { server: { registryHost: first.registryHost }, credentials }, 'bases/crash');
  const componentArn = (await ib.send(new CreateComponentCommand({ name: 'slow', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['touch /started', 'sleep 300'] }) }))).componentBuildVersionArn!;
  const recipe = await ib.send(
    new CreateContainerRecipeCommand({
      containerType: 'DOCKER',
      name: 'crash',
      semanticVersion: '1.0.0',
      parentImage: base,
      targetRepository: { service: 'ECR', repositoryName: 'e2e/crash' },
      components: [{ componentArn }],
      dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}',
    }),
  );
  const infra = await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'crash', instanceProfileName: 'kiln', instanceTypes: ['ns.small'] }));
  const arn = (await ib.send(new CreateImageCommand({ containerRecipeArn: recipe.containerRecipeArn, infrastructureConfigurationArn: infra.infrastructureConfigurationArn }))).imageBuildVersionArn!;
  await waitForImage(ib, arn, { until: (i) => i.state?.status === 'BUILDING' });
  // Wait until the component runs inside the instance, so there is something to leave behind.
  const deadline = Date.now() + 30_000;
  while (!hostLeftovers(dataDir).some((l) => l.startsWith('process')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 500));
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  assert.ok(hostLeftovers(dataDir).length > 0, 'the killed build left its instance behind');
  // A bootstrap of a managed base killed with Kiln leaves its tmpfs mounted on the host: stand one in.
  const bootstrapDir = path.join(dataDir, 'work', 'bootstrap-debian-12-container-x86');
  mkdirSync(bootstrapDir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'kiln-bootstrap', bootstrapDir]);
  assert.ok(hostLeftovers(dataDir).some((l) => l === `mount ${bootstrapDir}`));

  const second = await serve(dataDir);
  t.after(() => second.child.kill('SIGTERM'));
  const ib2 = client(second.endpoint);
  t.after(() => ib2.destroy());
  const image = await waitForImage(ib2, arn, { timeoutMs: 20_000 });
  assert.equal(image.state?.status, 'FAILED');
  assert.match(image.state?.reason ?? '', /interrupted/);
  assert.deepEqual(hostLeftovers(dataDir), []);
  second.child.kill('SIGTERM');
  await new Promise((r) => second.child.once('exit', r));
  assert.deepEqual(hostLeftovers(dataDir), []);
});
