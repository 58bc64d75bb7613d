/**
 * `kiln store migrate` end to end: an embedded Kiln with a built container image, a pipeline and two accounts,
 * migrated by the real CLI into a throwaway PostgreSQL cluster and an S3-compatible server (s3rver), then served
 * by `kiln serve --config` from a new, empty data directory.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateImageCommand,
  CreateImagePipelineCommand,
  CreateInfrastructureConfigurationCommand,
  ImagebuilderClient,
  ListComponentsCommand,
  ListContainerRecipesCommand,
  ListImagePipelinesCommand,
  ListImagesCommand,
  ListInfrastructureConfigurationsCommand,
  ListWorkflowExecutionsCommand,
} from '@aws-sdk/client-imagebuilder';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import pg from 'pg';
import { postgresUnavailable, startPostgres, type LocalPostgres } from '../helpers/postgres.js';
import { startLocalS3, type LocalS3 } from '../helpers/s3rver.js';
import { readCredentials, SAY_HI_DOCUMENT } from '../api/fixture.js';
import { bashComponent, buildSkipReason, pushHostBase, run, startBuildServer, waitForImage } from '../build/helpers.js';
import { openStore } from '../../src/app/store-open.js';
import { hashFile, LocalDiskStore } from '../../src/artifacts/disk/disk-store.js';
import { registerMachineImage } from '../../src/builder/machine/machine-images.js';
import { kilnFetch } from '../../src/cli/kiln-client.js';

const kiln = path.resolve('bin/kiln');
const skip = buildSkipReason() ?? postgresUnavailable();
const dir = mkdtempSync(path.join(tmpdir(), 'kiln-migrate-'));
let postgres: LocalPostgres | undefined;
let s3: LocalS3 | undefined;
before(async () => {
  if (skip) return;
  postgres = await startPostgres();
  s3 = await startLocalS3(path.join(dir, 's3'), ['kiln']);
});
after(async () => {
  await s3?.stop();
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function kilnCli(args: string[]): Promise<CliResult> {
  return promisify(execFile)('node', [kiln, ...args], { encoding: 'utf8', env: { ...process.env, KILN_PREFETCH_BASES: '0' } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
}

/** `kiln serve --config … --json` in its own process; answers where it listens, and stops it after the test. */
async function serve(t: { after: (fn: () => unknown) => void }, dataDir: string, config: string): Promise<{ endpoint: string; registryHost: string; stop: () => Promise<void> }> {
  const child = spawn('node', [kiln, 'serve', '--data-dir', dataDir, '--config', config, '--listen', '127.0.0.1:0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KILN_PREFETCH_BASES: '0' } });
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  t.after(stop);
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += String(c)));
  const info = await new Promise<{ endpoint: string; registryHost: string }>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`kiln serve did not start:\n${out}\n${err}`)), 60_000);
    child.on('exit', (code) => rej(new Error(`kiln serve exited ${code}:\n${err}`)));
    child.stdout.on('data', (c: Buffer) => {
      out += String(c);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        res(JSON.parse(line) as { endpoint: string; registryHost: string });
      }
    });
  });
  return { ...info, stop };
}

/** What both accounts see through the AWS SDK, ARNs only (the order is the API's). */
async function listings(client: ImagebuilderClient): Promise<Record<string, string[]>> {
  return {
    components: ((await client.send(new ListComponentsCommand({}))).componentVersionList ?? []).map((c) => c.arn!),
    recipes: ((await client.send(new ListContainerRecipesCommand({}))).containerRecipeSummaryList ?? []).map((r) => r.arn!),
    infrastructure: ((await client.send(new ListInfrastructureConfigurationsCommand({}))).infrastructureConfigurationSummaryList ?? []).map((i) => i.arn!),
    pipelines: ((await client.send(new ListImagePipelinesCommand({}))).imagePipelineList ?? []).map((p) => p.arn!),
    images: ((await client.send(new ListImagesCommand({}))).imageVersionList ?? []).map((i) => i.arn!),
  };
}

test('kiln store migrate: an embedded Kiln moves to PostgreSQL and an object store, and serves from there as before', { skip, timeout: 600_000 }, async (t) => {
  // The embedded installation: one container build (the host's files as base), a pipeline, two accounts, and a
  // machine image (below).
  const source = await startBuildServer(t);
  const base = await pushHostBase(t, source, 'bases/migrate');
  const component = await source.client.send(new CreateComponentCommand({ name: 'greeting', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['mkdir -p /opt/m', 'echo migrated > /opt/m/file'] }) }));
  const recipe = await source.client.send(
    new CreateContainerRecipeCommand({
      containerType: 'DOCKER',
      name: 'migrated',
      semanticVersion: '1.0.0',
      parentImage: base,
      targetRepository: { service: 'ECR', repositoryName: 'e2e/migrated' },
      components: [{ componentArn: component.componentBuildVersionArn! }],
      dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}',
    }),
  );
  const infra = await source.client.send(new CreateInfrastructureConfigurationCommand({ name: 'ns-small', instanceProfileName: 'kiln', instanceTypes: ['ns.small'] }));
  const created = await source.client.send(new CreateImageCommand({ containerRecipeArn: recipe.containerRecipeArn!, infrastructureConfigurationArn: infra.infrastructureConfigurationArn! }));
  const image = await waitForImage(source.client, created.imageBuildVersionArn!);
  assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
  await source.client.send(new CreateImagePipelineCommand({ name: 'nightly', containerRecipeArn: recipe.containerRecipeArn!, infrastructureConfigurationArn: infra.infrastructureConfigurationArn!, imageTestsConfiguration: { imageTestsEnabled: false } }));

  const created2 = await kilnCli(['accounts', 'create', 'team', '--json', '--data-dir', source.dataDir]);
  assert.equal(created2.code, 0, created2.stderr);
  const team = JSON.parse(created2.stdout) as { accessKeyId: string; secretAccessKey: string };
  const teamClient = new ImagebuilderClient({ endpoint: source.server.endpoint, region: 'local', credentials: team, maxAttempts: 1 });
  t.after(() => teamClient.destroy());
  await teamClient.send(new CreateComponentCommand({ name: 'team-hello', semanticVersion: '2.0.0', platform: 'Linux', data: SAY_HI_DOCUMENT }));
  const executions = async (client: ImagebuilderClient) =>
    ((await client.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: created.imageBuildVersionArn! }))).workflowExecutions ?? []).map((w) => `${w.workflowExecutionId} ${w.type} ${w.status}`);
  const executionsBefore = await executions(source.client);
  assert.ok(executionsBefore.length > 0, 'the build recorded its workflow executions');
  const adminBefore = await listings(source.client);
  const teamBefore = await listings(teamClient);
  assert.equal(adminBefore.images?.length, 1);
  assert.equal(teamBefore.components?.length, 1);
  const uri = image.outputResources!.containers![0]!.imageUris![0]!;
  const repoAndTag = uri.slice(uri.indexOf('/') + 1);

  const configFile = path.join(dir, 'kiln.yaml');
  const storeUrl = await postgres!.createDatabase();
  const { endpoint, region, accessKeyId, secretAccessKey } = s3!.settings;
  writeFileSync(
    configFile,
    [
      `store: ${JSON.stringify(storeUrl)}`,
      `secretKeyFile: ${JSON.stringify(path.join(dir, 'shared.key'))}`,
      'objectStore:',
      '  bucket: kiln',
      '  prefix: site/',
      `  endpoint: ${endpoint}`,
      `  region: ${region}`,
      '  forcePathStyle: true',
      `  accessKeyId: ${accessKeyId}`,
      `  secretAccessKey: ${secretAccessKey}`,
      '',
    ].join('\n'),
  );

  await t.test('refused while a server has the data directory open, naming the process', async () => {
    const refused = await kilnCli(['store', 'migrate', '--data-dir', source.dataDir, '--config', configFile]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`in use by process ${process.pid}\\b`));
  });
  await source.server.close();
  // A machine image beside the container one: a sparse raw disk in the data directory's disks/, registered as
  // machine builds register theirs (a build of one would add minutes of VM boots to what this test checks).
  const raw = path.join(source.dataDir, 'made.raw');
  const fd = await open(raw, 'w');
  await fd.truncate(64 * 1024 * 1024);
  await fd.write(Buffer.alloc(1024 * 1024, 'a machine disk '), 0, 1024 * 1024, 8 * 1024 * 1024);
  await fd.close();
  const disk = await new LocalDiskStore(path.join(source.dataDir, 'disks')).adopt(raw);
  const embedded = openStore(source.dataDir);
  const machineImage = await registerMachineImage(embedded, {
    accountId: (await embedded.listAccounts()).find((a) => a.admin)!.accountId,
    region: 'local',
    name: 'migrated machine',
    sourceImageArn: created.imageBuildVersionArn!,
    disk: { ...disk, format: 'raw', rootPartUuid: '00000000-0000-0000-0000-000000000000', kernelVersion: '6.1.0' },
  });
  await embedded.close();
  const amiId = (machineImage.data as { amiId: string }).amiId;

  let first: { steps: { name: string; items: number; skipped?: number; bytes?: number; detail?: Record<string, number> }[]; secrets: string; target: { store: string } };
  await t.test('migrates: progress lines, then a JSON summary of every step', async () => {
    const migrated = await kilnCli(['store', 'migrate', '--data-dir', source.dataDir, '--config', configFile, '--json']);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stderr, /^blobs: (\d+)\/\1, \d+(\.\d)? (B|KiB|MiB)$/m);
    assert.match(migrated.stderr, /^rows: (\d+)\/\1$/m);
    first = JSON.parse(migrated.stdout) as typeof first;
    assert.deepEqual(first.steps.map((s) => s.name), ['blobs', 'disks', 'logs', 'rows']);
    const blobs = first.steps[0]!;
    assert.ok(blobs.items >= 3, 'a manifest, a config and layers');
    assert.equal(blobs.skipped, 0);
    assert.deepEqual([first.steps[1]!.items, first.steps[1]!.skipped], [1, 0], 'the machine image disk');
    assert.ok(first.steps[2]!.items >= 3, `the build's step logs: ${JSON.stringify(first.steps[2])}`);
    const rows = first.steps[3]!.detail!;
    assert.equal(rows.accounts, 2);
    assert.ok(rows.access_keys! >= 2 && rows.resources! >= 5 && rows.registry_manifests! >= 2 && rows.jobs! >= 1, JSON.stringify(rows));
    assert.doesNotMatch(migrated.stdout, /search_path%3D|S3RVER/, 'the summary names the target without credentials');
    const listed = await s3!.client.send(new ListObjectsV2Command({ Bucket: 'kiln', Prefix: 'site/sha256/' }));
    assert.equal(listed.KeyCount, blobs.items);
  });

  await t.test('kiln serve on the target (a new, empty data directory) lists the same, signs with both keys; skopeo pulls the image, the machine image exports byte for byte, the step logs read', async (t) => {
    const node = await serve(t, path.join(dir, 'node-data'), configFile);
    const admin = new ImagebuilderClient({ endpoint: node.endpoint, region: 'local', credentials: readCredentials(path.join(source.dataDir, 'credentials')), maxAttempts: 1 });
    const teamThere = new ImagebuilderClient({ endpoint: node.endpoint, region: 'local', credentials: team, maxAttempts: 1 });
    t.after(() => (admin.destroy(), teamThere.destroy()));
    assert.deepEqual(await listings(admin), adminBefore);
    assert.deepEqual(await listings(teamThere), teamBefore);
    assert.deepEqual(await executions(admin), executionsBefore);
    const out = path.join(dir, 'pulled');
    const creds = `${source.credentials.accessKeyId}:${source.credentials.secretAccessKey}`;
    await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--src-creds', creds, `docker://${node.registryHost}/${repoAndTag}`, `oci:${out}:x`]);
    const inspected = JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, `docker://${node.registryHost}/${repoAndTag}`])) as { Layers: string[] };
    assert.equal(inspected.Layers.length, 2, 'the base layer and the build layer');

    const target = { endpoint: node.endpoint, region: 'local', credentials: { ...readCredentials(path.join(source.dataDir, 'credentials')), source: 'the test' } };
    const machines = (await (await kilnFetch(target, { method: 'GET', path: '/kiln/machine-images' })).json()) as { images: { imageId: string }[] };
    assert.deepEqual(machines.images.map((i) => i.imageId), [amiId]);
    const exported = await kilnFetch(target, { method: 'GET', path: '/kiln/machine-images/export', query: { image: amiId, format: 'raw' } });
    assert.equal(exported.status, 200);
    const exportedFile = path.join(dir, 'exported.raw');
    writeFileSync(exportedFile, Buffer.from(await exported.arrayBuffer()));
    assert.equal(await hashFile(exportedFile), disk.digest, 'the disk comes back from the bucket byte for byte');

    const logs = await kilnCli(['logs', created.imageBuildVersionArn!, '--endpoint-url', node.endpoint, '--data-dir', source.dataDir]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /== BUILD LaunchBuildInstance \(COMPLETED\) ==/, 'the step logs read through the target');
    await node.stop();
  });

  await t.test('a non-empty target is refused, naming what it holds; --force migrates again over it', async () => {
    const refused = await kilnCli(['store', 'migrate', '--data-dir', source.dataDir, '--config', configFile]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /the target is not empty: bucket kiln under prefix site\/ holds objects \(e\.g\. site\/\S+\); PostgreSQL table access_keys holds \d+ row\(s\)/);
    assert.match(refused.stderr, /--force/);

    const forced = await kilnCli(['store', 'migrate', '--data-dir', source.dataDir, '--config', configFile, '--force', '--json']);
    assert.equal(forced.code, 0, forced.stderr);
    const again = JSON.parse(forced.stdout) as typeof first;
    assert.equal(again.steps[0]!.skipped, first.steps[0]!.items, 'every blob was already in the bucket');
    assert.equal(again.steps[1]!.skipped, 1, 'and the disk');
    assert.deepEqual(again.steps[3], first.steps[3], 'the same rows, replaced');
    const client = new pg.Client({ connectionString: storeUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>('SELECT COUNT(*) AS n FROM accounts');
      assert.equal(Number(rows[0]!.n), 2);
    } finally {
      await client.end();
    }
  });
});
