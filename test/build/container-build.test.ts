import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CancelImageCreationCommand,
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateDistributionConfigurationCommand,
  CreateImageCommand,
  CreateImagePipelineCommand,
  CreateInfrastructureConfigurationCommand,
  ListImagePipelineImagesCommand,
  StartImagePipelineExecutionCommand,
  GetWorkflowStepExecutionCommand,
  ListWorkflowExecutionsCommand,
  ListWorkflowStepExecutionsCommand,
} from '@aws-sdk/client-imagebuilder';
import { startDockerRegistry } from '../helpers/registry.js';
import { bashComponent, buildSkipReason, hostLeftovers, pushHostBase, run, startBuildServer, waitForImage, type BuildServer } from './helpers.js';

const skip = buildSkipReason();
const KILN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/kiln');
const TEMPLATE = ['FROM {{{ imagebuilder:parentImage }}}', '{{{ imagebuilder:components }}}', 'ENV GREETING_FILE=/opt/hello/greeting', 'CMD ["/bin/cat", "/opt/hello/greeting"]'].join('\n');
let counter = 0;

interface Setup {
  kiln: BuildServer;
  base: string;
  infra: string;
}

async function component(kiln: BuildServer, phases: Record<string, string[]>, parameters: Record<string, string> = {}): Promise<string> {
  const out = await kiln.client.send(new CreateComponentCommand({ name: `comp-${++counter}`, semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent(phases, parameters) }));
  assert.ok(out.componentBuildVersionArn);
  // A wildcard, as pipelines use: the build plan resolves it.
  return out.componentBuildVersionArn.replace(/\/1\.0\.0\/1$/, '/1.x.x');
}

async function recipe(setup: Setup, components: { componentArn: string; parameters?: { name: string; value: string[] }[] }[], repository = 'e2e/hello'): Promise<string> {
  const out = await setup.kiln.client.send(
    new CreateContainerRecipeCommand({
      containerType: 'DOCKER',
      name: `recipe-${++counter}`,
      semanticVersion: '1.0.0',
      parentImage: setup.base,
      targetRepository: { service: 'ECR', repositoryName: repository },
      components,
      dockerfileTemplateData: TEMPLATE,
    }),
  );
  return out.containerRecipeArn!;
}

async function infrastructure(kiln: BuildServer, extra: { terminateInstanceOnFailure?: boolean; subnetId?: string } = {}): Promise<string> {
  const out = await kiln.client.send(new CreateInfrastructureConfigurationCommand({ name: `infra-${++counter}`, instanceProfileName: 'kiln', instanceTypes: ['ns.small'], ...extra }));
  return out.infrastructureConfigurationArn!;
}

async function build(setup: Setup, recipeArn: string, options: { infra?: string; distribution?: string } = {}): Promise<string> {
  const out = await setup.kiln.client.send(
    new CreateImageCommand({
      containerRecipeArn: recipeArn,
      infrastructureConfigurationArn: options.infra ?? setup.infra,
      ...(options.distribution ? { distributionConfigurationArn: options.distribution } : {}),
    }),
  );
  return out.imageBuildVersionArn!;
}

async function skopeoInspect(uri: string, creds?: string): Promise<{ Digest: string; Layers: string[]; Env?: string[] }> {
  return JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', ...(creds ? ['--creds', creds] : []), `docker://${uri}`])) as { Digest: string; Layers: string[]; Env?: string[] };
}

/** Unpacks an image from a registry with skopeo + umoci and returns the bundle's rootfs path. */
async function unpack(t: { after: (fn: () => void) => void }, uri: string, creds?: string): Promise<string> {
  const work = mkdtempSync(path.join(tmpdir(), 'kiln-unpack-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', ...(creds ? ['--src-creds', creds] : []), `docker://${uri}`, `oci:${work}/layout:x`]);
  await run('umoci', ['unpack', '--image', `${work}/layout:x`, `${work}/bundle`]);
  return `${work}/bundle/rootfs`;
}

test('container builds end to end', { skip, timeout: 600_000 }, async (t) => {
  const external = await startDockerRegistry(t);
  const kiln = await startBuildServer(t, { registries: [{ host: external.host, insecure: true }] });
  const base = await pushHostBase(t, kiln, 'bases/hostbase');
  const setup: Setup = { kiln, base, infra: await infrastructure(kiln) };
  const creds = `${kiln.credentials.accessKeyId}:${kiln.credentials.secretAccessKey}`;

  await t.test('a component + container recipe + distribution produce an image that independent tools read and run', async (t) => {
    const hello = await component(kiln, {
      build: ['mkdir -p /opt/hello', 'echo "{{ greeting }}" > /opt/hello/greeting', 'rm -f /etc/os-release'],
      validate: ['grep -q . /opt/hello/greeting'],
      test: ['test "$(cat /opt/hello/greeting)" = "hello from kiln"'],
    }, { greeting: 'default' });
    const recipeArn = await recipe(setup, [{ componentArn: hello, parameters: [{ name: 'greeting', value: ['hello from kiln'] }] }]);
    const distribution = (
      await kiln.client.send(
        new CreateDistributionConfigurationCommand({
          name: `dist-${++counter}`,
          distributions: [{ region: 'local', containerDistributionConfiguration: { targetRepository: { service: 'ECR', repositoryName: `${external.host}/e2e/hello` }, containerTags: ['latest'] } }],
        }),
      )
    ).distributionConfigurationArn!;
    const arn = await build(setup, recipeArn, { distribution });
    const image = await waitForImage(kiln.client, arn);
    assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
    const uris = image.outputResources?.containers?.flatMap((c) => c.imageUris ?? []) ?? [];
    const builtin = `${kiln.server.registryHost}/e2e/hello:1.0.0-1`;
    assert.ok(uris.includes(builtin), `outputResources lists ${builtin}: ${uris.join(', ')}`);
    assert.ok(uris.includes(`${external.host}/e2e/hello:latest`), uris.join(', '));

    const fromKiln = await skopeoInspect(builtin, creds);
    const fromExternal = await skopeoInspect(`${external.host}/e2e/hello:latest`);
    assert.equal(fromExternal.Digest, fromKiln.Digest, 'the same image in both registries');
    assert.equal(fromKiln.Layers.length, 2, 'base layer + the build layer');
    assert.ok(fromKiln.Env?.includes('GREETING_FILE=/opt/hello/greeting'));

    for (const [uri, c] of [[builtin, creds], [`${external.host}/e2e/hello:latest`, undefined]] as const) {
      const rootfs = await unpack(t, uri, c);
      assert.equal(execFileSync('cat', [`${rootfs}/opt/hello/greeting`], { encoding: 'utf8' }), 'hello from kiln\n');
      assert.throws(() => execFileSync('test', ['-e', `${rootfs}/etc/os-release`]), 'the deleted file is whited out');
      // Run the image's CMD in its root, as a container runtime would.
      assert.equal(execFileSync('chroot', [rootfs, '/bin/cat', '/opt/hello/greeting'], { encoding: 'utf8' }), 'hello from kiln\n');
    }

    const executions = (await kiln.client.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: arn }))).workflowExecutions ?? [];
    assert.deepEqual(executions.map((e) => [e.type, e.status]).sort(), [['BUILD', 'COMPLETED'], ['DISTRIBUTION', 'COMPLETED'], ['TEST', 'COMPLETED']]);
    const buildWf = executions.find((e) => e.type === 'BUILD')!;
    const steps = (await kiln.client.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: buildWf.workflowExecutionId }))).steps ?? [];
    assert.deepEqual(steps.map((s) => s.name), ['LaunchBuildInstance', 'ApplyBuildComponents', 'CreateOutputImage', 'TerminateBuildInstance']);
    const apply = await kiln.client.send(new GetWorkflowStepExecutionCommand({ stepExecutionId: steps[1]!.stepExecutionId }));
    assert.equal(apply.status, 'COMPLETED');
    const logs = await run(KILN, ['logs', arn, '--endpoint', kiln.server.endpoint, '--data-dir', kiln.dataDir]);
    for (const step of ['LaunchBuildInstance', 'ApplyBuildComponents', 'CreateOutputImage', 'ApplyTestComponents', 'DistributeContainerImage']) assert.match(logs, new RegExp(`== \\w+ ${step} \\(COMPLETED\\) ==`));
    assert.match(logs, /buildStep/, 'the AWSTOE output of the component is in the step log');
    assert.deepEqual(hostLeftovers(kiln.dataDir), []);

    await t.test('StartImagePipelineExecution builds the same way, and ListImagePipelineImages lists the image', async () => {
      const pipeline = await kiln.client.send(new CreateImagePipelineCommand({ name: `pipe-${++counter}`, containerRecipeArn: recipeArn, infrastructureConfigurationArn: setup.infra, imageTestsConfiguration: { imageTestsEnabled: false } }));
      const started = await kiln.client.send(new StartImagePipelineExecutionCommand({ imagePipelineArn: pipeline.imagePipelineArn }));
      const built = await waitForImage(kiln.client, started.imageBuildVersionArn!);
      assert.equal(built.state?.status, 'AVAILABLE', built.state?.reason);
      assert.ok(built.outputResources?.containers?.[0]?.imageUris?.length);
      const listed = await kiln.client.send(new ListImagePipelineImagesCommand({ imagePipelineArn: pipeline.imagePipelineArn }));
      assert.deepEqual(listed.imageSummaryList?.map((i) => i.arn), [started.imageBuildVersionArn]);
      const tests = (await kiln.client.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: started.imageBuildVersionArn }))).workflowExecutions ?? [];
      assert.deepEqual(tests.map((e) => e.type).sort(), ['BUILD', 'DISTRIBUTION'], 'tests disabled: no TEST workflow');
    });

    await t.test('the same recipe built twice gives identical layer digests', async () => {
      const again = await waitForImage(kiln.client, await build(setup, recipeArn));
      assert.equal(again.state?.status, 'AVAILABLE', again.state?.reason);
      const uri = again.outputResources!.containers![0]!.imageUris![0]!;
      assert.match(uri, /:1\.0\.0-\d+$/);
      const second = await skopeoInspect(uri, creds);
      assert.deepEqual(second.Layers, fromKiln.Layers);
    });
  });

  await t.test('a failing build component fails the image in the build stage, with the step and nothing left behind', async () => {
    const broken = await component(kiln, { build: ['echo about to fail', 'exit 7'] });
    const arn = await build(setup, await recipe(setup, [{ componentArn: broken }], 'e2e/broken'));
    const image = await waitForImage(kiln.client, arn);
    assert.equal(image.state?.status, 'FAILED');
    assert.match(image.state?.reason ?? '', /ApplyBuildComponents/);
    assert.deepEqual(hostLeftovers(kiln.dataDir), []);
  });

  await t.test('a failing test component fails the image in the test stage with the step and its output', async () => {
    const flaky = await component(kiln, { build: ['echo built > /built'], test: ['echo "the check saw $(cat /built)"', 'exit 3'] });
    const arn = await build(setup, await recipe(setup, [{ componentArn: flaky }], 'e2e/flaky'));
    const image = await waitForImage(kiln.client, arn);
    assert.equal(image.state?.status, 'FAILED');
    assert.match(image.state?.reason ?? '', /ApplyTestComponents/);
    assert.match(image.state?.reason ?? '', /testStep/);
    assert.match(image.state?.reason ?? '', /the check saw built/, 'the reason carries the step\'s output');
    assert.deepEqual(hostLeftovers(kiln.dataDir), []);
  });

  await t.test('CancelImageCreation stops a running build and releases its instance', async () => {
    const slow = await component(kiln, { build: ['touch /started', 'sleep 60'] });
    const arn = await build(setup, await recipe(setup, [{ componentArn: slow }], 'e2e/slow'));
    await waitForImage(kiln.client, arn, { until: (i) => i.state?.status === 'BUILDING' });
    await new Promise((r) => setTimeout(r, 500));
    await kiln.client.send(new CancelImageCreationCommand({ imageBuildVersionArn: arn }));
    const image = await waitForImage(kiln.client, arn);
    assert.equal(image.state?.status, 'CANCELLED');
    const deadline = Date.now() + 10_000;
    while (kiln.server.engine!.worker!.active > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(hostLeftovers(kiln.dataDir), []);
  });

  await t.test('the build instance cannot read host files, see host processes or reach host loopback services', async (t) => {
    const secretDir = mkdtempSync(path.join(tmpdir(), 'kiln-planted-'));
    t.after(() => rmSync(secretDir, { recursive: true, force: true }));
    writeFileSync(path.join(secretDir, 'secret'), 'host secret\n');
    const listener = createServer((_req, res) => res.end('host service\n'));
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    t.after(() => listener.close());
    const port = (listener.address() as { port: number }).port;
    const probe = await component(kiln, {
      build: [
        `if cat ${secretDir}/secret; then echo READ-HOST-FILE; exit 1; fi`,
        `if ls /proc | grep -qx ${process.pid}; then echo SAW-HOST-PROCESS; exit 1; fi`,
        `if (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null; then echo REACHED-LOOPBACK; exit 1; fi`,
        `if (exec 3<>/dev/tcp/10.0.2.2/${port}) 2>/dev/null; then echo REACHED-HOST-VIA-GATEWAY; exit 1; fi`,
        'echo isolated > /isolation',
      ],
    });
    const arn = await build(setup, await recipe(setup, [{ componentArn: probe }], 'e2e/probe'));
    const image = await waitForImage(kiln.client, arn);
    assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
  });

  await t.test('terminateInstanceOnFailure: false keeps the failed instance until it is released', async () => {
    const broken = await component(kiln, { build: ['echo left for debugging > /debug-me', 'exit 1'] });
    const keep = await infrastructure(kiln, { terminateInstanceOnFailure: false });
    const arn = await build(setup, await recipe(setup, [{ componentArn: broken }], 'e2e/kept'), { infra: keep });
    const image = await waitForImage(kiln.client, arn);
    assert.equal(image.state?.status, 'FAILED');
    const cli = (...args: string[]) => run(KILN, [...args, '--endpoint', kiln.server.endpoint, '--data-dir', kiln.dataDir]);
    const kept = JSON.parse(await cli('instances', 'ls', '--json')) as { instanceId: string; imageBuildVersionArn: string }[];
    assert.equal(kept.length, 1);
    assert.equal(kept[0]!.imageBuildVersionArn, arn);
    const id = kept[0]!.instanceId;
    assert.equal(await run(KILN, ['instances', 'shell', id, '--endpoint', kiln.server.endpoint, '--data-dir', kiln.dataDir, '--', '/bin/cat', '/debug-me']), 'left for debugging\n');
    assert.notDeepEqual(hostLeftovers(kiln.dataDir), [], 'the kept instance holds its folder and processes');
    assert.match(await cli('instances', 'rm', id), /released/);
    assert.deepEqual(JSON.parse(await cli('instances', 'ls', '--json')), []);
    await assert.rejects(cli('instances', 'rm', id), /ResourceNotFoundException/);
    assert.deepEqual(hostLeftovers(kiln.dataDir), []);
  });
});

test('layerCompression: zstd stores the build layer as tar+zstd, and skopeo reads it', { skip, timeout: 120_000 }, async (t) => {
  const kiln = await startBuildServer(t, { layerCompression: 'zstd' });
  const base = await pushHostBase(t, kiln, 'bases/zstd');
  const setup: Setup = { kiln, base, infra: await infrastructure(kiln) };
  const files = await component(kiln, { build: ['mkdir -p /opt/z', 'echo compressed > /opt/z/file'] });
  const image = await waitForImage(kiln.client, await build(setup, await recipe(setup, [{ componentArn: files }], 'e2e/zstd')));
  assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
  const uri = image.outputResources!.containers![0]!.imageUris![0]!;
  const creds = `${kiln.credentials.accessKeyId}:${kiln.credentials.secretAccessKey}`;
  const raw = JSON.parse(await run('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', creds, `docker://${uri}`])) as { layers: { mediaType: string }[] };
  assert.deepEqual(raw.layers.map((l) => l.mediaType), ['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+zstd'], 'the parent layer is kept as it was; the new one is zstd');
});
