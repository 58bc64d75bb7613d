/**
 * Nodes with roles over one PostgreSQL store, as a cluster runs them: two schedulers with a cron pipeline due
 * start exactly one run per due time (the leadership; a stopped leader hands over), a worker-only node serves no
 * public API but its node listener, and `kiln workers ls` (the real CLI over `GET /kiln/workers`) lists the
 * workers with their state and the images they hold leases on, to the admin account only.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateImagePipelineCommand,
  CreateInfrastructureConfigurationCommand,
  ListImagePipelineImagesCommand,
  type ImagebuilderClient,
} from '@aws-sdk/client-imagebuilder';
import { startServer, type ServeOptions } from '../../src/app/server-start.js';
import { kilnRequest } from '../../src/cli/kiln-client.js';
import { TestClock } from '../../src/domain/clock.js';
import { createAccount } from '../../src/service/accounts.js';
import { CONCURRENT_RUNS_TAG } from '../../src/pipelines/scheduler.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { execLocal } from '../../src/toe/instance/local.js';
import { bashComponent } from '../build/helpers.js';
import { postgresUnavailable, startPostgres, type LocalPostgres } from '../helpers/postgres.js';
import { startFixture, type Fixture } from './fixture.js';

const kiln = path.resolve('bin/kiln');
// Needs root and Debian's postgresql-15: the test starts its own throwaway cluster as the postgres user.
const skip = postgresUnavailable();
let pgServer: LocalPostgres | undefined;
before(async () => {
  if (!skip) pgServer = await startPostgres();
});
after(() => pgServer?.stop());

/** A database and key file every node of one test shares (each node keeps its own data directory). */
async function cluster(t: TestContext): Promise<{ store: string; secretKeyFile: string }> {
  const shared = mkdtempSync(path.join(tmpdir(), 'kiln-cluster-'));
  t.after(() => rmSync(shared, { recursive: true, force: true }));
  return { store: await pgServer!.createDatabase(), secretKeyFile: path.join(shared, 'secret.key') };
}

async function createHourlyPipeline(ib: ImagebuilderClient): Promise<string> {
  const componentArn = (await ib.send(new CreateComponentCommand({ name: 'hello', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['echo hi'] }) }))).componentBuildVersionArn!;
  const containerRecipeArn = (
    await ib.send(
      new CreateContainerRecipeCommand({
        containerType: 'DOCKER',
        name: 'app',
        semanticVersion: '1.0.0',
        parentImage: 'debian:12',
        targetRepository: { service: 'ECR', repositoryName: 'team/app' },
        components: [{ componentArn }],
        dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}\n',
      }),
    )
  ).containerRecipeArn!;
  const infrastructureConfigurationArn = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'infra', instanceProfileName: 'Profile', instanceTypes: ['ns.small'] }))).infrastructureConfigurationArn!;
  const out = await ib.send(
    new CreateImagePipelineCommand({
      name: 'hourly',
      containerRecipeArn,
      infrastructureConfigurationArn,
      schedule: { scheduleExpression: 'cron(0 * * * ? *)', pipelineExecutionStartCondition: 'EXPRESSION_MATCH_ONLY' },
      // Runs may overlap: every due time must start one, the images stay PENDING (no worker runs them).
      tags: { [CONCURRENT_RUNS_TAG]: 'true' },
    }),
  );
  return out.imagePipelineArn!;
}

test('two schedulers over one store: exactly one run per due time; the other skips; a stopped leader hands over', { skip }, async (t) => {
  const config = await cluster(t);
  const clock = new TestClock('2026-06-01T09:30:00Z');
  const nodes: Fixture[] = [];
  for (let i = 0; i < 2; i++) nodes.push(await startFixture(t, { clock, config, roles: ['api', 'scheduler'] }));
  const [a, b] = nodes as [Fixture, Fixture];
  const arn = await createHourlyPipeline(a.client());
  // Asked of whichever node still runs at the end.
  let ib = a.client();
  const images = async () => (await ib.send(new ListImagePipelineImagesCommand({ imagePipelineArn: arn }))).imageSummaryList ?? [];
  const tickAt = async (at: string, on: Fixture[]) => {
    clock.set(at);
    await Promise.all(on.map((f) => f.server.scheduler!.waitForTick(new Date(at))));
  };

  await tickAt('2026-06-01T10:00:00Z', [a, b]);
  assert.equal((await images()).length, 1, 'one run for 10:00');
  await tickAt('2026-06-01T10:30:00Z', [a, b]);
  await tickAt('2026-06-01T11:00:00Z', [a, b]);
  assert.equal((await images()).length, 2, 'one run for 11:00');
  const counts = [a, b].map((f) => f.server.scheduler!.tickCounts);
  // Start-up ticks plus three: the leader ran every one of its ticks, the other skipped every one of its.
  const leader = counts[0]!.ran > 0 ? a : b;
  const follower = leader === a ? b : a;
  assert.deepEqual(
    counts.map((c) => (c.ran > 0 ? [c.ran >= 4, c.skipped] : [c.ran, c.skipped >= 4])),
    counts.map((c) => (c.ran > 0 ? [true, 0] : [0, true])),
    `one node runs the ticks, the other skips them: ${JSON.stringify(counts)}`,
  );

  await leader.server.close();
  ib = follower.client();
  await tickAt('2026-06-01T12:00:00Z', [follower]);
  assert.equal((await images()).length, 3, 'the remaining scheduler took the leadership the stopped one released');
  assert.ok(follower.server.scheduler!.tickCounts.ran >= 1);
});

/** Starts a node over the shared store, closed after the test. */
async function startNode(t: TestContext, options: Partial<ServeOptions> & { config: ServeOptions['config'] }) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-node-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const server = await startServer({ dataDir, listen: '127.0.0.1:0', ...options });
  t.after(() => server.close());
  return server;
}

test('a worker node serves only its node listener; kiln workers ls lists workers, their state and running images, to the admin only', { skip, timeout: 120_000 }, async (t) => {
  const config = await cluster(t);
  // Lost after 3 s (three heartbeats of the API node, whose route judges): room for the CLI to start between looks.
  const api = await startFixture(t, { config, roles: ['api', 'scheduler'], heartbeatMs: 1000 });
  const seenBy: string[] = [];
  const worker = await startNode(t, {
    config,
    roles: ['worker'],
    heartbeatMs: 100,
    advertise: 'http://worker-1.example:8421',
    registryHost: 'kiln.example:8420',
    // Where metrics and internal routes go: registered before the listener listens, with the node's identity.
    registerNodeRoutes: (app, node) => {
      seenBy.push(node.id);
      app.get('/internal/whoami', async () => ({ id: node.id, roles: node.roles }));
    },
  });
  assert.deepEqual(seenBy, [worker.node.id]);
  assert.deepEqual(await (await fetch(`${worker.endpoint}/internal/whoami`)).json(), { id: worker.node.id, roles: ['worker'] });
  assert.deepEqual(worker.node.roles, ['worker']);
  assert.equal(worker.node.endpoint, 'http://worker-1.example:8421');
  assert.equal(worker.registryHost, 'kiln.example:8420', 'image URIs name the API nodes');
  assert.equal(worker.credentialsPath, '', 'a worker makes no admin credentials');
  assert.deepEqual(await (await fetch(`${worker.endpoint}/healthz`)).json(), { status: 'ok' });
  for (const route of ['/kiln/workers', '/v2/', '/console/', '/images']) {
    assert.equal((await fetch(`${worker.endpoint}${route}`)).status, 404, `a worker serves no ${route}`);
  }
  assert.equal(api.server.engine, undefined, 'a node without the worker role runs no builds');
  const adminTarget = { endpoint: api.server.endpoint, region: 'local', credentials: { ...api.credentials, source: 'test' } };
  const launch = await kilnRequest(adminTarget, { method: 'POST', path: '/kiln/instances', body: { image: 'ami-0123456789abcdef0' } });
  assert.deepEqual([launch.status, launch.body.__type], [503, 'ServiceUnavailableException'], 'nor does it boot VMs');
  assert.match(String(launch.body.message), /no worker role/);
  assert.equal(worker.scheduler, undefined, 'a node without the scheduler role runs no scheduler');

  const env = { ...process.env, AWS_ACCESS_KEY_ID: api.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: api.credentials.secretAccessKey, KILN_ENDPOINT_URL: api.server.endpoint, AWS_REGION: 'local' };
  const workersLs = async (...args: string[]) => {
    const r = await execLocal(['node', kiln, 'workers', 'ls', ...args], { env, timeoutMs: 30_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    return r.stdout;
  };
  type Listed = { id: string; host: string; roles: string[]; state: string; lastSeen: string; runningImages: string[] };
  const listed = async () => JSON.parse(await workersLs('--json')) as Listed[];

  let workers = await listed();
  assert.deepEqual(workers.map((w) => [w.id, w.roles, w.state, w.runningImages]), [[worker.node.id, ['worker'], 'active', []]], 'the API node is not a worker');
  assert.deepEqual(Object.keys(workers[0]!), ['id', 'host', 'roles', 'state', 'lastSeen', 'runningImages']);
  const seen = workers[0]!.lastSeen;
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok((await listed())[0]!.lastSeen > seen, 'the heartbeat moves lastSeen');

  await worker.close();
  assert.deepEqual(await listed(), [], 'a node stopped cleanly is forgotten');

  // Two workers on other hosts, as their heartbeats record them: one holding leases on two builds, one gone quiet.
  const store = await PostgresStore.open({ connectionString: config.store, secrets: SecretBox.openKeyFile(config.secretKeyFile) });
  t.after(() => store.close());
  await store.heartbeatNode({ id: 'host-q/77/0000dead', host: 'host-q', roles: ['worker'] });
  await new Promise((resolve) => setTimeout(resolve, 3100));
  // host-b beats before each look, as a live worker would (a busy machine may take seconds to start the CLI).
  const beatB = () => store.heartbeatNode({ id: 'host-b/42/0000beef', host: 'host-b', roles: ['scheduler', 'worker'], endpoint: 'http://host-b:8421' });
  await beatB();
  const arns = ['arn:aws:imagebuilder:local:000000000001:image/a/1.0.0/1', 'arn:aws:imagebuilder:local:000000000001:image/b/1.0.0/1'];
  for (const arn of arns) {
    await store.enqueueJob('build-image', arn);
    await store.leaseJob(['build-image'], 'host-b/42/0000beef', 600_000);
  }
  await store.enqueueJob('lifecycle-execution', 'arn:aws:imagebuilder:local:000000000001:lifecycle-execution/x');
  await store.leaseJob(['lifecycle-execution'], 'host-b/42/0000beef', 600_000);
  await beatB();
  workers = await listed();
  assert.deepEqual(
    workers.map((w) => [w.id, w.host, w.roles, w.state, w.runningImages]),
    [
      ['host-q/77/0000dead', 'host-q', ['worker'], 'lost', []],
      ['host-b/42/0000beef', 'host-b', ['scheduler', 'worker'], 'active', arns],
    ],
    'lost after three missed heartbeats; running images are the build jobs it holds, not other jobs',
  );
  await beatB();
  const table = await workersLs();
  assert.match(table.split('\n')[0]!, /^ID\s+HOST\s+ROLES\s+STATE\s+LAST SEEN\s+RUNNING IMAGES$/);
  assert.match(table, new RegExp(`host-b/42/0000beef\\s+host-b\\s+scheduler,worker\\s+active\\s+\\S+\\s+${arns.join(',')}`));
  assert.match(table, /host-q\/77\/0000dead\s+host-q\s+worker\s+lost\s+\S+\s+-/);

  const { key } = await createAccount(store, 'team-a');
  const asTeam = await kilnRequest(
    { endpoint: api.server.endpoint, region: 'local', credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, source: 'test' } },
    { method: 'GET', path: '/kiln/workers' },
  );
  assert.equal(asTeam.status, 403);
  assert.equal(asTeam.body.__type, 'AccessDeniedException', JSON.stringify(asTeam.body));
  const unsigned = await fetch(`${api.server.endpoint}/kiln/workers`);
  assert.equal(unsigned.status, 403);
});
