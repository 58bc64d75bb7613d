/**
 * A cluster on this machine, each node its own process with its own data directory, sharing only PostgreSQL and
 * the S3 server: `kiln serve --roles api,scheduler` twice (two schedulers) and two `kiln worker`s. One test,
 * because the nodes are the fixture: starting them costs more than the checks.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateImageCommand,
  CreateImagePipelineCommand,
  CreateInfrastructureConfigurationCommand,
  CreateImageRecipeCommand,
  DeleteImageCommand,
  ListImagePipelineImagesCommand,
  ListWorkflowExecutionsCommand,
  ListWorkflowStepExecutionsCommand,
  UpdateImagePipelineCommand,
  type ImagebuilderClient,
} from '@aws-sdk/client-imagebuilder';
import { ObjectBucket } from '../../src/artifacts/s3/object-bucket.js';
import { imageLogFolder } from '../../src/builder/records/execution-records.js';
import { kilnLogs } from '../helpers/kiln-logs.js';
import { postgresUnavailable } from '../helpers/postgres.js';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { bashComponent, buildSkipReason, hostLeftovers, machineSkipReason, pushHostBase, waitForImage } from '../build/helpers.js';
import { startCluster, type Cluster, type WorkerView } from './cluster-fixture.js';

const run = promisify(execFile);
const KILN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/kiln');
const skip = buildSkipReason() ?? postgresUnavailable();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MANAGED_MACHINE_BASE = 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x';

let cluster: Cluster;
let ib: ImagebuilderClient;
let base: string;
let infrastructureConfigurationArn: string;
const work = mkdtempSync(path.join(tmpdir(), 'kiln-cluster-test-'));

before(async () => {
  if (skip) return;
  cluster = await startCluster({ apiRoles: ['api,scheduler', 'api,scheduler'], workers: 2 });
  ib = cluster.client();
  infrastructureConfigurationArn = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'cluster', instanceProfileName: 'kiln', instanceTypes: ['ns.small'] }))).infrastructureConfigurationArn!;
});
after(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** A container recipe whose one component runs `commands` in its build phase. */
async function recipe(name: string, commands: string[]): Promise<string> {
  const componentArn = (await ib.send(new CreateComponentCommand({ name, semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: commands }) }))).componentBuildVersionArn!;
  return (
    await ib.send(
      new CreateContainerRecipeCommand({
        containerType: 'DOCKER',
        name,
        semanticVersion: '1.0.0',
        parentImage: base,
        targetRepository: { service: 'ECR', repositoryName: `cluster/${name}` },
        components: [{ componentArn }],
        dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}',
      }),
    )
  ).containerRecipeArn!;
}

const createImage = async (containerRecipeArn: string) => (await ib.send(new CreateImageCommand({ containerRecipeArn, infrastructureConfigurationArn }))).imageBuildVersionArn!;

/** Polls the workers list until `until` holds, remembering which worker was seen running which image. */
async function watchWorkers(until: (workers: WorkerView[]) => boolean, seen: Map<string, string>, timeoutMs = 120_000): Promise<WorkerView[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const workers = await cluster.listWorkers();
    for (const w of workers) for (const arn of w.runningImages) seen.set(arn, w.id);
    if (until(workers)) return workers;
    if (Date.now() > deadline) throw new Error(`workers: ${JSON.stringify(workers)}`);
    await sleep(200);
  }
}

test('a cluster of two API nodes and two workers over PostgreSQL and an S3 server', { skip, timeout: 600_000 }, async (t) => {
  base = await pushHostBase(t, { server: { registryHost: new URL(cluster.api[0]!.endpoint).host }, credentials: cluster.credentials }, 'bases/cluster');
  // Created first, so its minute comes while the rest runs: both API nodes run a scheduler.
  const pipelineRecipe = await recipe('scheduled', ['echo scheduled']);
  const pipelineArn = (
    await ib.send(
      new CreateImagePipelineCommand({ name: 'every-minute', containerRecipeArn: pipelineRecipe, infrastructureConfigurationArn, schedule: { scheduleExpression: 'cron(* * * * ? *)', pipelineExecutionStartCondition: 'EXPRESSION_MATCH_ONLY' } }),
    )
  ).imagePipelineArn!;

  await t.test('workers ls shows both workers active, with their roles', async () => {
    const workers = await cluster.listWorkers();
    assert.equal(workers.length, 2, JSON.stringify(workers));
    for (const w of workers) {
      assert.equal(w.state, 'active');
      assert.deepEqual(w.roles, ['worker']);
      assert.deepEqual(w.runningImages, []);
    }
    const { stdout } = await run(KILN, ['workers', 'ls', '--json', '--endpoint-url', cluster.api[1]!.endpoint], { env: { ...process.env, AWS_ACCESS_KEY_ID: cluster.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: cluster.credentials.secretAccessKey } });
    const listed = JSON.parse(stdout) as WorkerView[] | { workers: WorkerView[] };
    assert.deepEqual((Array.isArray(listed) ? listed : listed.workers).map((w) => w.id).sort(), workers.map((w) => w.id).sort());
  });

  const seen = new Map<string, string>();
  let built: string[] = [];
  await t.test('concurrent builds land on both workers; kiln logs --follow on the other API node shows them live; skopeo pulls them from the first', async (t) => {
    const r = await recipe('together', ['for i in 1 2 3; do echo "worker line $i"; sleep 2; done']);
    built = [await createImage(r), await createImage(r)];
    const follow = await kilnLogs(t, [built[0]!, '--follow', '--endpoint-url', cluster.api[1]!.endpoint], { AWS_ACCESS_KEY_ID: cluster.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: cluster.credentials.secretAccessKey });
    await watchWorkers(() => built.every((arn) => seen.has(arn)), seen);
    assert.notEqual(seen.get(built[0]!), seen.get(built[1]!), 'each worker took one build');
    await follow.waitFor(/worker line 1\n/, 120_000);
    assert.doesNotMatch(follow.output(), /worker line 3/, 'the first line arrives before the component is done');
    assert.equal(await follow.exited, 0, follow.errors());
    assert.match(follow.output(), /worker line 1\n(.*\n)*worker line 2\n(.*\n)*worker line 3\n/);
    for (const arn of built) {
      const image = await waitForImage(ib, arn, { timeoutMs: 180_000 });
      assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
      const uri = image.outputResources!.containers![0]!.imageUris![0]!;
      assert.ok(uri.startsWith(new URL(cluster.api[0]!.endpoint).host), uri);
      const out = path.join(work, path.basename(arn));
      await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--src-creds', `${cluster.credentials.accessKeyId}:${cluster.credentials.secretAccessKey}`, `docker://${uri}`, `oci:${out}:x`]);
      assert.ok(readdirSync(path.join(out, 'blobs', 'sha256')).length >= 3, 'manifest, config and layers pulled');
    }
  });

  await t.test('step logs live in the bucket, not on the worker; DeleteImage on the other API node deletes them there', async () => {
    const { stdout } = await run(KILN, ['logs', built[0]!, '--endpoint-url', cluster.api[1]!.endpoint], { env: { ...process.env, AWS_ACCESS_KEY_ID: cluster.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: cluster.credentials.secretAccessKey } });
    assert.match(stdout, /== BUILD LaunchBuildInstance \(COMPLETED\) ==/);
    const folder = imageLogFolder(built[1]!);
    for (const worker of cluster.workers) {
      const local = path.join(worker.dataDir, 'logs', folder);
      assert.deepEqual(existsSync(local) ? readdirSync(local).filter((n) => n.endsWith('.log')) : [], [], `${worker.name} keeps no step log`);
    }
    const logs = new ObjectBucket({ client: cluster.s3.client, bucket: 'kiln', prefix: 'cluster/logs/' });
    assert.ok((await logs.list(`${folder}/`)).length > 0);
    await cluster.client(1).send(new DeleteImageCommand({ imageBuildVersionArn: built[1]! }));
    assert.deepEqual(await logs.list(`${folder}/`), [], 'deleted from the bucket');
  });

  await t.test('kill -9 of a worker mid-build: its image fails naming the lost worker, the other build finishes, the worker sweeps on return', async () => {
    const slow = await createImage(await recipe('doomed', ['echo started', 'sleep 300']));
    const fast = await createImage(await recipe('survivor', ['sleep 4', 'echo survived']));
    await watchWorkers(() => seen.has(slow) && seen.has(fast), seen);
    const doomed = cluster.workers.find((w) => seen.get(slow)!.includes(`/${w.child.pid}/`))!;
    assert.ok(doomed, `the worker running ${slow} is one of ours`);
    await waitForImage(ib, slow, { until: (i) => i.state?.status === 'BUILDING' });
    await sleep(1000);
    await doomed.kill();
    assert.ok(hostLeftovers(doomed.dataDir).length > 0, 'the killed build left its instance behind');

    const survivor = await waitForImage(ib, fast, { timeoutMs: 180_000 });
    assert.equal(survivor.state?.status, 'AVAILABLE', survivor.state?.reason);
    const failed = await waitForImage(ib, slow, { timeoutMs: 120_000 });
    assert.equal(failed.state?.status, 'FAILED');
    assert.ok(failed.state?.reason?.includes(seen.get(slow)!), `the reason names the lost worker: ${failed.state?.reason}`);
    const lost = await watchWorkers((ws) => ws.some((w) => w.id === seen.get(slow) && w.state === 'lost'), seen, 60_000);
    assert.equal(lost.filter((w) => w.state === 'active').length, 1);

    const back = await cluster.startNode(`${doomed.name}-again`, ['worker'], doomed.dataDir);
    const deadline = Date.now() + 30_000;
    while (hostLeftovers(back.dataDir).length > 0 && Date.now() < deadline) await sleep(200);
    assert.deepEqual(hostLeftovers(back.dataDir), []);
  });

  await t.test('the scheduled pipeline ran once in its minute, with two schedulers', async () => {
    const images = async () => (await ib.send(new ListImagePipelineImagesCommand({ imagePipelineArn: pipelineArn }))).imageSummaryList ?? [];
    const deadline = Date.now() + 75_000;
    while ((await images()).length === 0 && Date.now() < deadline) await sleep(500);
    // Stop further minutes, then give a second scheduler time to fire the same minute if it were going to.
    await ib.send(new UpdateImagePipelineCommand({ imagePipelineArn: pipelineArn, containerRecipeArn: pipelineRecipe, infrastructureConfigurationArn, status: 'DISABLED', schedule: { scheduleExpression: 'cron(* * * * ? *)', pipelineExecutionStartCondition: 'EXPRESSION_MATCH_ONLY' } }));
    const fired = await images();
    await sleep(5000);
    assert.equal(fired.length, 1, `one image for the minute: ${JSON.stringify(fired.map((i) => i.arn))}`);
    assert.equal((await images()).length, 1);
  });

  await t.test('a machine image build on a worker: its disk goes to the bucket, its test VM boots on that worker', { skip: await machineSkipReason() }, async () => {
    const componentArn = (
      await ib.send(new CreateComponentCommand({ name: 'machine-hello', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['echo "built on a worker" > /etc/kiln-hello'], test: ['grep -q "built on a worker" /etc/kiln-hello'] }) }))
    ).componentBuildVersionArn!;
    const imageRecipeArn = (await ib.send(new CreateImageRecipeCommand({ name: 'cluster-machine', semanticVersion: '1.0.0', parentImage: MANAGED_MACHINE_BASE, components: [{ componentArn }] }))).imageRecipeArn!;
    const machineInfra = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'cluster-machine', instanceProfileName: 'kiln', instanceTypes: ['ns.medium'] }))).infrastructureConfigurationArn!;
    const arn = (await ib.send(new CreateImageCommand({ imageRecipeArn, infrastructureConfigurationArn: machineInfra }))).imageBuildVersionArn!;
    await watchWorkers(() => seen.has(arn), seen, 300_000);
    const builder = cluster.nodes().find((n) => seen.get(arn)!.includes(`/${n.child.pid}/`))!;
    assert.ok(builder, `the worker running ${arn} is one of ours`);
    const image = await waitForImage(ib, arn, { timeoutMs: 20 * 60_000 });
    assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
    const executions = (await ib.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: arn }))).workflowExecutions ?? [];
    const testRun = executions.find((e) => e.type === 'TEST');
    assert.equal(testRun?.status, 'COMPLETED');
    const steps = (await ib.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: testRun!.workflowExecutionId }))).steps ?? [];
    assert.deepEqual(steps.map((s) => [s.name, s.status]), [['LaunchTestInstance', 'COMPLETED'], ['ApplyTestComponents', 'COMPLETED'], ['TerminateTestInstance', 'COMPLETED']]);
    // The VM booted from the disk in the builder's own cache; the bucket holds the disk for every other node.
    const cached = readdirSync(path.join(builder.dataDir, 'disks', 'sha256'));
    assert.ok(cached.length > 0, 'the built disk is in the worker’s cache');
    const inBucket = await cluster.s3.client.send(new ListObjectsV2Command({ Bucket: 'kiln', Prefix: 'cluster/disks/' }));
    assert.ok((inBucket.Contents ?? []).length > 0, 'and in the bucket');
  });

  await t.test('a worker stopped cleanly leaves the list at once; nothing of a node is left behind after they stop', async () => {
    const leaving = cluster.nodes().find((n) => n.name.startsWith('worker') && n.child.exitCode === null && n.child.signalCode === null)!;
    await leaving.stop();
    assert.equal(leaving.child.exitCode, 0, leaving.log());
    const left = await cluster.listWorkers();
    assert.ok(!left.some((w) => w.id.includes(`/${leaving.child.pid}/`)), JSON.stringify(left));
    assert.ok(left.some((w) => w.state === 'active'), 'the other worker is still there');
    await Promise.all(cluster.nodes().map((n) => n.stop()));
    for (const n of cluster.nodes()) assert.deepEqual(hostLeftovers(n.dataDir), [], n.name);
    assert.ok(!existsSync(path.join(cluster.workers[0]!.dataDir, 'scratch')) || readdirSync(path.join(cluster.workers[0]!.dataDir, 'scratch')).length === 0);
  });
});
