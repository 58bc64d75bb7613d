// Distribution across regions through the stock SDK: a Kiln with two regions, `local` (Kiln's built-in registry)
// and `second` (a real docker-registry with basic auth), container images pushed to both with their tags; a
// region whose registry is down fails the image with the region and field named while the other region's URIs
// stay recorded; RetryImage after the registry is back distributes without rebuilding; DistributeImage sends an
// AVAILABLE image out with another distribution configuration. Machine images: launch permissions per region.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import {
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateDistributionConfigurationCommand,
  CreateImageCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  DistributeImageCommand,
  GetImageCommand,
  ListWorkflowExecutionsCommand,
  ListWorkflowStepExecutionsCommand,
  RetryImageCommand,
  type ImagebuilderClient,
} from '@aws-sdk/client-imagebuilder';
import { loadServerConfig } from '../../src/app/server-config.js';
import { regionTargets } from '../../src/builder/stages/registry-glue.js';
import { distributionTimeoutMinutes, outputResourcesOf } from '../../src/builder/stages/distribution-stage.js';
import { retryDistribution } from '../../src/domain/image-state.js';
import { isKilnError } from '../../src/domain/errors.js';
import { createAccount } from '../../src/service/accounts.js';
import type { ResourceRecord } from '../../src/store/store.js';
import { dockerRegistryUnavailable, freePort } from '../helpers/registry.js';
import { bashComponent, buildSkipReason, hostLeftovers, mirrorSkipReason, pushHostBase, run, startBuildServer, toolsSkipReason, waitForImage, type BuildServer } from './helpers.js';

const KILN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/kiln');
const TEMPLATE = ['FROM {{{ imagebuilder:parentImage }}}', '{{{ imagebuilder:components }}}'].join('\n');
const skip = buildSkipReason() ?? dockerRegistryUnavailable();

// ---- configuration and pure rules (no root needed) ----

function configFile(t: { after: (fn: () => void) => void }, text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'kiln.yaml');
  writeFileSync(file, text);
  return file;
}

test('regions name their container registry: a plain name is the built-in registry, {name, registry} an external one', (t) => {
  const config = loadServerConfig(
    configFile(t, ['regions:', '  - local', '  - name: second', '    registry: reg.example:5000', 'registries:', '  - host: reg.example:5000', '    username: u', '    password: p'].join('\n')),
  );
  assert.deepEqual(config.regions, ['local', 'second'], 'ServerConfig.regions stays a list of names');
  assert.deepEqual(config.regionRegistries, { second: 'reg.example:5000' });
  assert.deepEqual(loadServerConfig(undefined).regionRegistries, {});
});

test('region problems name their field', (t) => {
  const problems = (text: string) => {
    try {
      loadServerConfig(configFile(t, text));
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };
  assert.match(problems('regions:\n  - name: second\n    registry: other:5000\n'), /regions\[0\]\.registry: other:5000 \(region second\) is not the host of an entry of registries/);
  assert.match(problems('regions:\n  - local\n  - name: Bad_Name\n'), /regions\[1\]\.name: must be a region name/);
  assert.match(problems('regions:\n  - local\n  - local\n'), /regions\[1\]: region local is listed twice/);
  assert.match(problems('regions:\n  - name: x\n    registry: 5\n'), /regions\[0\]\.registry: must be host or host:port/);
  assert.match(problems('regions:\n  - name: x\n    store: y\n'), /regions\[0\]\.store: unknown setting/);
  assert.match(problems('regions: []\n'), /regions: must be a non-empty list/);
});

function imageRecord(data: Record<string, unknown>): ResourceRecord {
  return { arn: 'arn:aws:imagebuilder:local:111122223333:image/web/1.2.3/4', accountId: '111122223333', region: 'local', type: 'image', name: 'web', version: '1.2.3', build: 4, data, createdAt: '' };
}

test('container targets carry the field to blame; a redistributed image leaves the recipe repository alone', () => {
  const data = {
    containerRecipe: { targetRepository: { service: 'ECR', repositoryName: 'team/web' } },
    distributionConfiguration: { timeoutMinutes: 720, distributions: [{ region: 'second', containerDistributionConfiguration: { targetRepository: { service: 'ECR', repositoryName: 'team/web' }, containerTags: ['latest'] } }] },
  };
  assert.deepEqual(regionTargets(imageRecord(data)), [
    { region: 'local', repositoryName: 'team/web', tags: ['1.2.3-4'], field: 'containerRecipe.targetRepository.repositoryName', regionField: 'region' },
    { region: 'second', repositoryName: 'team/web', tags: ['1.2.3-4', 'latest'], field: 'distributions[0].containerDistributionConfiguration.targetRepository', regionField: 'distributions[0].region' },
  ]);
  assert.deepEqual(regionTargets(imageRecord({ ...data, distributedFrom: 'arn:…' })).map((x) => x.region), ['second']);
  assert.equal(distributionTimeoutMinutes(imageRecord(data)), 720);
  assert.equal(distributionTimeoutMinutes(imageRecord({ distributionConfiguration: { timeoutMinutes: 30 } })), 30);
  assert.equal(distributionTimeoutMinutes(imageRecord({})), 720, "AWS's value when the image has no distribution configuration");
  const results = [
    { region: 'local', status: 'COMPLETED' as const, imageUris: ['h/a:1'] },
    { region: 'second', status: 'FAILED' as const, error: 'down' },
  ];
  assert.deepEqual(outputResourcesOf('DOCKER', results), { containers: [{ region: 'local', imageUris: ['h/a:1'] }] }, 'only the regions that succeeded');
});

test('RetryImage moves only a FAILED image back to DISTRIBUTING', () => {
  assert.deepEqual(retryDistribution({ status: 'FAILED', reason: 'x' }), { status: 'DISTRIBUTING' });
  for (const status of ['AVAILABLE', 'CANCELLED', 'BUILDING'] as const) assert.throws(() => retryDistribution({ status }), (e: unknown) => isKilnError(e, 'InvalidRequest'));
});

// ---- end to end ----

/** A docker-registry with basic auth on a fixed port that can be stopped and started again over the same data. */
async function restartableRegistry(t: { after: (fn: () => Promise<void> | void) => void }, user: string, password: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-region-registry-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const htpasswd = path.join(dir, 'htpasswd');
  writeFileSync(htpasswd, `${execFileSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' }).trim()}\n`);
  const config = path.join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: { level: error, accesslog: { disabled: true } }',
      `storage: { filesystem: { rootdirectory: ${JSON.stringify(path.join(dir, 'data'))} }, delete: { enabled: true } }`,
      `http: { addr: "127.0.0.1:${port}", secret: "${randomBytes(16).toString('hex')}" }`,
      `auth: { htpasswd: { realm: kiln-test, path: ${JSON.stringify(htpasswd)} } }`,
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    await exited;
  };
  const start = async () => {
    const c = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    let stderr = '';
    c.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
      const up = await fetch(`http://127.0.0.1:${port}/v2/`).then(
        (r) => r.status === 401,
        () => false,
      );
      if (up) return;
      if (Date.now() > deadline) throw new Error(`docker-registry did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  t.after(stop);
  await start();
  return { host: `127.0.0.1:${port}`, start, stop };
}

/** A TCP server that accepts connections and never answers: a registry that hangs. */
async function silentServer(t: { after: (fn: () => Promise<void> | void) => void }): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function skopeoDigest(uri: string, creds: string): Promise<string> {
  return (JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, `docker://${uri}`])) as { Digest: string }).Digest;
}

async function executions(client: ImagebuilderClient, arn: string): Promise<[string, string][]> {
  const list = (await client.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: arn }))).workflowExecutions ?? [];
  return list.map((e) => [e.type!, e.status!]);
}

async function awsError(promise: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    return { name: (err as Error).name, message: (err as Error).message };
  }
  assert.fail('the call succeeded');
}

test('container images distributed to two regions; a failed region, RetryImage and DistributeImage', { skip, timeout: 300_000 }, async (t) => {
  const user = 'kiln-push';
  const password = randomBytes(8).toString('hex');
  const second = await restartableRegistry(t, user, password);
  const secondCreds = `${user}:${password}`;
  const slow = await silentServer(t);
  const kiln: BuildServer = await startBuildServer(t, {
    regions: ['local', 'second', 'slow'],
    regionRegistries: { second: second.host, slow },
    registries: [
      { host: second.host, insecure: true, username: user, password },
      { host: slow, insecure: true },
    ],
  });
  const { client } = kiln;
  const localCreds = `${kiln.credentials.accessKeyId}:${kiln.credentials.secretAccessKey}`;
  const base = await pushHostBase(t, kiln, 'bases/dist');
  const componentArn = (await client.send(new CreateComponentCommand({ name: 'dist-comp', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['echo distributed > /distributed'], test: ['grep -q distributed /distributed'] }) }))).componentBuildVersionArn!;
  const recipeArn = (
    await client.send(new CreateContainerRecipeCommand({ containerType: 'DOCKER', name: 'dist-app', semanticVersion: '1.0.0', parentImage: base, targetRepository: { service: 'ECR', repositoryName: 'dist/app' }, components: [{ componentArn }], dockerfileTemplateData: TEMPLATE }))
  ).containerRecipeArn!;
  const infra = (await client.send(new CreateInfrastructureConfigurationCommand({ name: 'dist-infra', instanceProfileName: 'kiln', instanceTypes: ['ns.small'] }))).infrastructureConfigurationArn!;
  const repository = { service: 'ECR' as const, repositoryName: 'dist/app' };
  const distribution = (
    await client.send(
      new CreateDistributionConfigurationCommand({
        name: 'two-regions',
        distributions: [
          { region: 'local', containerDistributionConfiguration: { targetRepository: repository, containerTags: ['latest'] } },
          { region: 'second', containerDistributionConfiguration: { targetRepository: repository, containerTags: ['latest', 'stable'] } },
        ],
      }),
    )
  ).distributionConfigurationArn!;
  const create = async () => (await client.send(new CreateImageCommand({ containerRecipeArn: recipeArn, infrastructureConfigurationArn: infra, distributionConfigurationArn: distribution }))).imageBuildVersionArn!;

  let firstArn = '';
  let firstDigest = '';
  await t.test('the image lands in both regions with its tags', async () => {
    firstArn = await create();
    const t0 = Date.now();
    const image = await waitForImage(client, firstArn);
    assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
    t.diagnostic(`build, test and two-region distribution: ${Date.now() - t0} ms`);
    const uris = Object.fromEntries((image.outputResources?.containers ?? []).map((c) => [c.region, c.imageUris]));
    assert.deepEqual(uris, {
      local: [`${kiln.server.registryHost}/dist/app:1.0.0-1`, `${kiln.server.registryHost}/dist/app:latest`],
      second: [`${second.host}/dist/app:1.0.0-1`, `${second.host}/dist/app:latest`, `${second.host}/dist/app:stable`],
    });
    firstDigest = await skopeoDigest(`${kiln.server.registryHost}/dist/app:latest`, localCreds);
    for (const tag of ['1.0.0-1', 'latest', 'stable']) assert.equal(await skopeoDigest(`${second.host}/dist/app:${tag}`, secondCreds), firstDigest, `second has :${tag}`);
    await assert.rejects(run('skopeo', ['inspect', '--tls-verify=false', `docker://${second.host}/dist/app:latest`]), 'the second registry wants the credentials Kiln pushed with');
  });

  await t.test('a region whose registry is down fails the image, naming it; the other region is recorded; RetryImage completes it without a rebuild', async () => {
    await second.stop();
    const arn = await create();
    const failed = await waitForImage(client, arn);
    assert.equal(failed.state?.status, 'FAILED');
    const reason = failed.state?.reason ?? '';
    assert.match(reason, /^Workflow Execution ID: wf-[0-9a-f-]+ failed with reason: Step DistributeContainerImage failed: distribution failed in 1 of 2 regions: region second: /);
    assert.match(reason, /distributions\[1\]\.containerDistributionConfiguration\.targetRepository: push to 127\.0\.0\.1:\d+\/dist\/app:1\.0\.0-2 failed: cannot reach registry/);
    assert.doesNotMatch(reason, /region local/);
    assert.deepEqual(failed.outputResources?.containers, [{ region: 'local', imageUris: [`${kiln.server.registryHost}/dist/app:1.0.0-2`, `${kiln.server.registryHost}/dist/app:latest`] }]);
    const digest = await skopeoDigest(`${kiln.server.registryHost}/dist/app:1.0.0-2`, localCreds);
    assert.deepEqual(await executions(client, arn), [['BUILD', 'COMPLETED'], ['TEST', 'COMPLETED'], ['DISTRIBUTION', 'FAILED']]);

    // Nothing to retry on an available image, nor on one that failed before distribution.
    assert.equal((await awsError(client.send(new RetryImageCommand({ imageBuildVersionArn: firstArn })))).name, 'InvalidRequestException');
    assert.equal((await awsError(client.send(new RetryImageCommand({ imageBuildVersionArn: firstArn.replace(/\/1$/, '/99') })))).name, 'ResourceNotFoundException');

    await second.start();
    const t0 = Date.now();
    const retried = await client.send(new RetryImageCommand({ imageBuildVersionArn: arn }));
    assert.equal(retried.imageBuildVersionArn, arn, 'RetryImage retries the image in place');
    const image = await waitForImage(client, arn, { until: (i) => i.state?.status === 'AVAILABLE' || i.state?.status === 'FAILED' });
    assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
    t.diagnostic(`RetryImage to AVAILABLE: ${Date.now() - t0} ms`);
    assert.equal(image.state?.reason, undefined, 'no stale failure reason');
    assert.deepEqual(
      image.outputResources?.containers?.map((c) => c.region),
      ['local', 'second'],
    );
    for (const tag of ['1.0.0-2', 'latest', 'stable']) assert.equal(await skopeoDigest(`${second.host}/dist/app:${tag}`, secondCreds), digest, `the same manifest in second as :${tag}`);
    assert.equal(await skopeoDigest(`${kiln.server.registryHost}/dist/app:1.0.0-2`, localCreds), digest, 'nothing was rebuilt');
    const runs = await executions(client, arn);
    assert.deepEqual(runs, [['BUILD', 'COMPLETED'], ['TEST', 'COMPLETED'], ['DISTRIBUTION', 'FAILED'], ['DISTRIBUTION', 'COMPLETED']], 'no new build or test workflow');
    const list = (await client.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: arn }))).workflowExecutions!;
    const steps = (await client.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: list[3]!.workflowExecutionId }))).steps ?? [];
    assert.deepEqual(steps.map((s) => [s.name, s.status]), [['DistributeContainerImage', 'COMPLETED']]);
    const logs = await run(KILN, ['logs', arn, '--endpoint', kiln.server.endpoint, '--data-dir', kiln.dataDir]);
    assert.match(logs, /local: distributed by an earlier attempt, kept/, 'the retry resumed at the failed region');
    assert.equal((await awsError(client.send(new RetryImageCommand({ imageBuildVersionArn: arn })))).name, 'InvalidRequestException', 'an AVAILABLE image has nothing to retry');
    assert.deepEqual(hostLeftovers(kiln.dataDir), []);
  });

  await t.test('DistributeImage sends an AVAILABLE image out with another distribution configuration as a new build version', async () => {
    const copy = (
      await client.send(
        new CreateDistributionConfigurationCommand({
          name: 'copy-to-second',
          distributions: [{ region: 'second', containerDistributionConfiguration: { targetRepository: { service: 'ECR', repositoryName: 'dist/copy' }, containerTags: ['copied'] } }],
        }),
      )
    ).distributionConfigurationArn!;
    const t0 = Date.now();
    const out = await client.send(new DistributeImageCommand({ sourceImage: firstArn, distributionConfigurationArn: copy, executionRole: 'arn:aws:iam::123456789012:role/kiln-distribution', tags: { origin: 'distribute-image' } }));
    const arn = out.imageBuildVersionArn!;
    assert.match(arn, /:image\/dist-app\/1\.0\.0\/3$/, 'the next build version of the same image');
    const image = await waitForImage(client, arn);
    assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
    t.diagnostic(`DistributeImage to AVAILABLE: ${Date.now() - t0} ms`);
    assert.equal(image.distributionConfiguration?.arn, copy);
    assert.equal(image.executionRole, 'arn:aws:iam::123456789012:role/kiln-distribution');
    assert.deepEqual(image.tags, { origin: 'distribute-image' });
    assert.deepEqual(image.outputResources?.containers, [{ region: 'second', imageUris: [`${second.host}/dist/copy:1.0.0-3`, `${second.host}/dist/copy:copied`] }]);
    assert.equal(await skopeoDigest(`${second.host}/dist/copy:copied`, secondCreds), firstDigest, 'the source image, not a rebuild');
    await assert.rejects(run('skopeo', ['inspect', '--tls-verify=false', '--creds', localCreds, `docker://${kiln.server.registryHost}/dist/app:1.0.0-3`]), "the recipe's repository is not tagged again");
    assert.deepEqual(await executions(client, arn), [['DISTRIBUTION', 'COMPLETED']]);
    const source = (await client.send(new GetImageCommand({ imageBuildVersionArn: firstArn }))).image!;
    assert.equal(source.state?.status, 'AVAILABLE', 'the source image is untouched');

    const refused = await awsError(client.send(new DistributeImageCommand({ sourceImage: 'ssm:/kiln/latest', distributionConfigurationArn: copy, executionRole: 'kiln' })));
    assert.equal(refused.name, 'InvalidParameterValueException');
    assert.match(refused.message, /sourceImage: Kiln has no Systems Manager Parameter Store/);
    const broken = (await client.send(new CreateComponentCommand({ name: 'dist-broken', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['exit 5'] }) }))).componentBuildVersionArn!;
    const brokenRecipe = (
      await client.send(new CreateContainerRecipeCommand({ containerType: 'DOCKER', name: 'dist-broken', semanticVersion: '1.0.0', parentImage: base, targetRepository: repository, components: [{ componentArn: broken }], dockerfileTemplateData: TEMPLATE }))
    ).containerRecipeArn!;
    const brokenArn = (await client.send(new CreateImageCommand({ containerRecipeArn: brokenRecipe, infrastructureConfigurationArn: infra }))).imageBuildVersionArn!;
    assert.equal((await waitForImage(client, brokenArn)).state?.status, 'FAILED');
    const notAvailable = await awsError(client.send(new DistributeImageCommand({ sourceImage: brokenArn, distributionConfigurationArn: copy, executionRole: 'kiln' })));
    assert.equal(notAvailable.name, 'InvalidRequestException');
    assert.match(notAvailable.message, /is FAILED; DistributeImage distributes an AVAILABLE image/);
    const retryBuildFailure = await awsError(client.send(new RetryImageCommand({ imageBuildVersionArn: brokenArn })));
    assert.equal(retryBuildFailure.name, 'InvalidRequestException');
    assert.match(retryBuildFailure.message, /failed before its distribution/);
  });

  await t.test("timeoutMinutes bounds the distribution: a region whose registry never answers fails when the time is up", async () => {
    // AWS reports timeoutMinutes (720) but lets nobody set it, so this image is written with a short one directly.
    const store = kiln.server.engine!.services.store;
    const source = (await store.getResource(firstArn))!;
    const { outputResources: _output, ...kept } = source.data;
    const data = {
      ...kept,
      state: { status: 'DISTRIBUTING' },
      distributionConfiguration: { name: 'slow', timeoutMinutes: 0.01, distributions: [{ region: 'slow', containerDistributionConfiguration: { targetRepository: { service: 'ECR', repositoryName: 'dist/slow' } } }] },
      distribution: { attempts: 0, regions: [] },
      distributedFrom: firstArn,
    };
    const { record } = await store.createResource(
      { accountId: source.accountId, region: source.region, type: 'image', name: source.name, version: source.version, arn: `arn:aws:imagebuilder:${source.region}:${source.accountId}:image/${source.name}/${source.version}`, data, build: 'assign' },
      undefined,
      { enqueue: 'distribute-image' },
    );
    const t0 = Date.now();
    kiln.server.engine!.worker!.notify();
    const image = await waitForImage(client, record.arn, { timeoutMs: 30_000 });
    const elapsed = Date.now() - t0;
    t.diagnostic(`timed-out distribution (timeoutMinutes 0.01 = 600 ms) failed after ${elapsed} ms`);
    assert.equal(image.state?.status, 'FAILED');
    assert.match(image.state?.reason ?? '', /region slow: the distribution ran out of time \(timeoutMinutes 0\.01 of the distribution configuration\)/);
    assert.ok(elapsed < 10_000, `${elapsed} ms`);
  });
});

// ---- machine images: launch permissions across regions ----

async function machineSkipReason(): Promise<string | undefined> {
  return skip ?? (await toolsSkipReason(['mmdebstrap', 'sfdisk', 'mcopy', 'qemu-img'])) ?? mirrorSkipReason();
}

test('a machine image distributed to two regions: a failed export retried without a rebuild; the account named in launchPermission may export it in the second region, another may not', { skip: await machineSkipReason(), timeout: 900_000 }, async (t) => {
  const bucketDir = mkdtempSync(path.join(tmpdir(), 'kiln-dist-bucket-'));
  t.after(() => rmSync(bucketDir, { recursive: true, force: true }));
  const kiln = await startBuildServer(t, { regions: ['local', 'second'], exportBuckets: { 'kiln-exports': bucketDir } });
  const { client } = kiln;
  const store = kiln.server.engine!.services.store;
  const allowed = await createAccount(store, 'allowed');
  const stranger = await createAccount(store, 'stranger');
  const componentArn = (await client.send(new CreateComponentCommand({ name: 'dist-machine-c', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['echo machine > /etc/kiln-distributed'] }) }))).componentBuildVersionArn!;
  const recipe = await client.send(new CreateImageRecipeCommand({ name: 'dist-machine', semanticVersion: '1.0.0', parentImage: 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x', components: [{ componentArn }] }));
  const infra = await client.send(new CreateInfrastructureConfigurationCommand({ name: 'dist-machine', instanceProfileName: 'kiln', instanceTypes: ['ns.medium'] }));
  const ami = { name: 'dist-machine {{ imagebuilder:buildDate }}', amiTags: { spread: 'both' }, launchPermission: { userIds: [allowed.account.accountId] } };
  const dist = await client.send(
    new CreateDistributionConfigurationCommand({
      name: 'machine-two-regions',
      distributions: [
        { region: 'local', amiDistributionConfiguration: ami },
        { region: 'second', amiDistributionConfiguration: ami, s3ExportConfiguration: { roleName: 'kiln', diskImageFormat: 'RAW', s3Bucket: 'kiln-exports', s3Prefix: 'second' } },
      ],
    }),
  );
  // A file where the export's folder goes: the second region's export fails until it is removed.
  writeFileSync(path.join(bucketDir, 'second'), 'in the way\n');
  const t0 = Date.now();
  const created = await client.send(new CreateImageCommand({ imageRecipeArn: recipe.imageRecipeArn, infrastructureConfigurationArn: infra.infrastructureConfigurationArn, distributionConfigurationArn: dist.distributionConfigurationArn, imageTestsConfiguration: { imageTestsEnabled: false } }));
  const arn = created.imageBuildVersionArn!;
  const failed = await waitForImage(client, arn, { timeoutMs: 14 * 60_000 });
  t.diagnostic(`machine build (base bootstrap included) and two-region distribution: ${Date.now() - t0} ms`);
  assert.equal(failed.state?.status, 'FAILED');
  assert.match(failed.state?.reason ?? '', /Step DistributeImage failed: distribution failed in 1 of 2 regions: region second: distributions\[1\]\.s3ExportConfiguration: exporting to s3:\/\/kiln-exports\/second\/ami-[0-9a-f]{17}\.raw failed/);
  assert.deepEqual(failed.outputResources?.amis?.map((a) => a.region), ['local']);

  rmSync(path.join(bucketDir, 'second'));
  const t1 = Date.now();
  await client.send(new RetryImageCommand({ imageBuildVersionArn: arn }));
  const image = await waitForImage(client, arn, { until: (i) => i.state?.status === 'AVAILABLE' || i.state?.status === 'FAILED' });
  assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
  t.diagnostic(`RetryImage of the machine image to AVAILABLE: ${Date.now() - t1} ms`);
  assert.deepEqual(await executions(client, arn), [['BUILD', 'COMPLETED'], ['DISTRIBUTION', 'FAILED'], ['DISTRIBUTION', 'COMPLETED']]);
  const amis = image.outputResources?.amis ?? [];
  assert.deepEqual(amis.map((a) => a.region), ['local', 'second']);
  const inSecond = amis.find((a) => a.region === 'second')!;
  assert.notEqual(inSecond.image, amis[0]!.image, 'each region has its own machine image id');
  const ownInSecond = await store.listResources({ accountId: image.arn!.split(':')[4]!, region: 'second', type: 'machine-image' });
  assert.deepEqual(ownInSecond.map((r) => r.name), [inSecond.image], 'the retry kept the machine image the failed attempt registered');
  assert.equal((JSON.parse(await run('qemu-img', ['info', '--output=json', path.join(bucketDir, 'second', `${inSecond.image}.raw`)])) as { format: string }).format, 'raw');

  const work = mkdtempSync(path.join(tmpdir(), 'kiln-dist-export-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const exportAs = (key: { accessKeyId: string; secretAccessKey: string }, region: string, file: string) =>
    run('env', [`AWS_ACCESS_KEY_ID=${key.accessKeyId}`, `AWS_SECRET_ACCESS_KEY=${key.secretAccessKey}`, KILN, 'images', 'export', inSecond.image!, '--region', region, '--format', 'raw', '-o', path.join(work, file), '--endpoint', kiln.server.endpoint]);
  await exportAs(allowed.key, 'second', 'allowed.raw');
  const info = JSON.parse(await run('qemu-img', ['info', '--output=json', path.join(work, 'allowed.raw')])) as { format: string; 'virtual-size': number };
  assert.equal(info.format, 'raw');
  assert.ok(info['virtual-size'] > 0);
  await assert.rejects(exportAs(stranger.key, 'second', 'stranger.raw'), /may launch in second/, 'an account without launch permission cannot export it');
  await assert.rejects(exportAs(allowed.key, 'local', 'wrong-region.raw'), /may launch in local/, "the second region's machine image id means nothing in local");
  assert.deepEqual(hostLeftovers(kiln.dataDir), []);
});
