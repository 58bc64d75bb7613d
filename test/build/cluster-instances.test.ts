import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CreateComponentCommand, CreateContainerRecipeCommand, CreateImageCommand, CreateInfrastructureConfigurationCommand, ImagebuilderClient } from '@aws-sdk/client-imagebuilder';
import { nodeSigner } from '../../src/app/instance-cluster.js';
import { startServer, type RunningServer } from '../../src/app/server-start.js';
import { kilnFetch, kilnRequest } from '../../src/cli/kiln-client.js';
import type { NodeRecord } from '../../src/store/roles/cluster-nodes.js';
import { readCredentials } from '../api/fixture.js';
import { postgresUnavailable, startPostgres, type LocalPostgres } from '../helpers/postgres.js';
import { freePort } from '../helpers/registry.js';
import { bashComponent, buildSkipReason, hostLeftovers, pushHostBase, waitForImage } from './helpers.js';

const skip = buildSkipReason() ?? postgresUnavailable();
const KILN = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../src/cli/main.js');
const runCli = async (args: string[]) => (await promisify(execFile)(process.execPath, [KILN, ...args], { encoding: 'utf8' })).stdout;

let pg: LocalPostgres | undefined;
before(async () => {
  if (!skip) pg = await startPostgres();
});
after(() => pg?.stop());

/** A file's text, or '' when it is gone (a process that ended meanwhile). */
function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

const record = (id: string, endpoint: string): NodeRecord => ({ id, host: 'localhost', roles: ['api', 'worker'], endpoint, startedAt: '2026-01-01T00:00:00.000Z', lastSeen: '2026-01-01T00:00:00.000Z', state: 'active' });

test('a kept instance on one node is listed, exec\'d into and released through another; the internal routes refuse all but the cluster', { skip, timeout: 600_000 }, async (t) => {
  const shared = mkdtempSync(path.join(tmpdir(), 'kiln-cluster-'));
  t.after(() => rmSync(shared, { recursive: true, force: true }));
  const config = { store: await pg!.createDatabase(), secretKeyFile: path.join(shared, 'secret.key') };
  // The port the store's ClusterNodes role fills in a real cluster: each node as it would heartbeat.
  const roster = new Map<string, NodeRecord>();
  const nodes = { listNodes: async () => [...roster.values()] };
  const start = async (id: string, builds: boolean): Promise<{ server: RunningServer; dataDir: string }> => {
    const dataDir = mkdtempSync(path.join(shared, `${id}-`));
    const server = await startServer({ dataDir, listen: '127.0.0.1:0', config, builds, cluster: { nodeId: id, nodes, askTimeoutMs: 1_000 } });
    t.after(() => server.close());
    roster.set(id, record(id, server.endpoint));
    return { server, dataDir };
  };
  // A is an API node (no builds); B runs them, so the build and its kept instance are B's.
  const a = await start('node-a', false);
  const b = await start('node-b', true);
  const credentials = readCredentials(a.server.credentialsPath);
  const target = (node: { server: RunningServer }) => ({ endpoint: node.server.endpoint, region: 'local', credentials: { ...credentials, source: 'test' } });
  const client = new ImagebuilderClient({ endpoint: a.server.endpoint, region: 'local', credentials, maxAttempts: 1 });
  t.after(() => client.destroy());

  const base = await pushHostBase(t, { server: b.server, credentials }, 'bases/hostbase');
  const component = await client.send(new CreateComponentCommand({ name: 'broken', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['echo left for debugging > /debug-me', 'exit 1'] }) }));
  const recipe = await client.send(
    new CreateContainerRecipeCommand({
      containerType: 'DOCKER',
      name: 'kept',
      semanticVersion: '1.0.0',
      parentImage: base,
      targetRepository: { service: 'ECR', repositoryName: 'e2e/kept' },
      components: [{ componentArn: component.componentBuildVersionArn! }],
      dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}',
    }),
  );
  const infra = await client.send(new CreateInfrastructureConfigurationCommand({ name: 'keep', instanceProfileName: 'kiln', instanceTypes: ['ns.small'], terminateInstanceOnFailure: false }));
  const arn = (await client.send(new CreateImageCommand({ containerRecipeArn: recipe.containerRecipeArn!, infrastructureConfigurationArn: infra.infrastructureConfigurationArn! }))).imageBuildVersionArn!;
  const image = await waitForImage(client, arn, { timeoutMs: 300_000 });
  assert.equal(image.state?.status, 'FAILED', image.state?.reason);
  const keptOnB = b.server.engine!.services.kept;
  assert.equal(keptOnB.list().length, 1, 'the build ran on B, which keeps the instance');

  await t.test('A lists B\'s instance, naming its node; the CLI through A too', async () => {
    const { status, body } = await kilnRequest(target(a), { method: 'GET', path: '/kiln/instances' });
    assert.equal(status, 200, JSON.stringify(body));
    const instances = body.instances as { instanceId: string; imageBuildVersionArn: string; node: string }[];
    assert.deepEqual(instances.map((i) => [i.imageBuildVersionArn, i.node]), [[arn, 'node-b']]);
    assert.deepEqual(body.unreachable, []);
    const cli = JSON.parse(await runCli(['instances', 'ls', '--json', '--endpoint', a.server.endpoint, '--data-dir', a.dataDir])) as { instanceId: string }[];
    assert.deepEqual(cli.map((i) => i.instanceId), [keptOnB.list()[0]!.instanceId]);
  });

  const id = keptOnB.list()[0]!.instanceId;
  const exec = async (argv: string[], signal?: AbortSignal) => kilnRequest(target(a), { method: 'POST', path: `/kiln/instances/${id}/exec`, body: { argv }, ...(signal ? { signal } : {}) });

  await t.test('a command runs in it through A, and a large output streams back whole', async (t) => {
    const { status, body } = await exec(['/bin/cat', '/debug-me']);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.stdout, 'left for debugging\n');
    assert.equal(body.exitCode, 0);
    const big = await exec(['/bin/bash', '-c', "head -c 3000000 /dev/zero | tr '\\0' x"]);
    assert.equal(big.status, 200);
    assert.equal((big.body.stdout as string).length, 3_000_000);
    // What forwarding costs: a command through A against the same command asked of B directly.
    const median = async (endpoint: { server: RunningServer }) => {
      const times: number[] = [];
      for (let i = 0; i < 15; i++) {
        const started = performance.now();
        assert.equal((await kilnRequest(target(endpoint), { method: 'POST', path: `/kiln/instances/${id}/exec`, body: { argv: ['/bin/true'] } })).body.exitCode, 0);
        times.push(performance.now() - started);
      }
      return times.sort((x, y) => x - y)[7]!;
    };
    t.diagnostic(`exec /bin/true, median of 15: ${(await median(b)).toFixed(1)} ms on B, ${(await median(a)).toFixed(1)} ms through A`);
    const bad = await exec([]);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.__type, 'InvalidParameterException');
  });

  await t.test('an error of B comes back through A as B answered it', async () => {
    const { status, body } = await kilnRequest(target(a), { method: 'GET', path: `/kiln/instances/${id}/console` });
    assert.equal(status, 400);
    assert.equal(body.__type, 'InvalidRequestException');
    assert.match(String(body.message), /has no serial console/);
  });

  await t.test('a client that goes away kills its command on B', async () => {
    // An instance runs one command at a time, so the command is watched from the host, by a name it takes.
    const marker = `kiln-forward-probe-${process.pid}`;
    const probes = () => readdirSync('/proc').filter((pid) => /^\d+$/.test(pid) && readFileSafe(`/proc/${pid}/cmdline`).startsWith(marker));
    const controller = new AbortController();
    const running = exec(['/bin/bash', '-c', `exec -a ${marker} sleep 300`], controller.signal).catch((err: unknown) => err);
    for (let i = 0; i < 100 && probes().length === 0; i++) await sleep(100);
    assert.equal(probes().length, 1, 'the command runs on the host of B');
    controller.abort();
    assert.ok((await running) instanceof Error);
    for (let i = 0; i < 100 && probes().length > 0; i++) await sleep(100);
    assert.deepEqual(probes(), [], 'the command was killed once the client went away');
    assert.equal((await exec(['/bin/true'])).body.exitCode, 0, 'and the instance takes the next one');
  });

  await t.test('a node that does not answer is reported, not left out silently', async () => {
    roster.set('node-c', { ...record('node-c', `http://127.0.0.1:${await freePort()}`), host: 'host-c' });
    try {
      const { status, body } = await kilnRequest(target(a), { method: 'GET', path: '/kiln/instances' });
      assert.equal(status, 200);
      assert.deepEqual((body.instances as { instanceId: string }[]).map((i) => i.instanceId), [id]);
      const unreachable = body.unreachable as { node: string; host: string; error: string }[];
      assert.deepEqual(unreachable.map((n) => [n.node, n.host]), [['node-c', 'host-c']]);
      assert.match(unreachable[0]!.error, /ECONNREFUSED/);
      // An instance no reachable node holds may be on the silent one: that is what the answer says.
      const maybe = await kilnRequest(target(a), { method: 'GET', path: '/kiln/instances/kiln-ns-0000/console' });
      assert.equal(maybe.status, 503);
      assert.equal(maybe.body.__type, 'ServiceUnavailableException');
      assert.match(String(maybe.body.message), /node-c on host-c \(ECONNREFUSED\)/);
      // A lost node is not asked at all.
      roster.set('node-c', { ...roster.get('node-c')!, state: 'lost' });
      assert.deepEqual((await kilnRequest(target(a), { method: 'GET', path: '/kiln/instances' })).body.unreachable, []);
      assert.equal((await kilnRequest(target(a), { method: 'GET', path: '/kiln/instances/kiln-ns-0000/console' })).body.__type, 'ResourceNotFoundException');
    } finally {
      roster.delete('node-c');
    }
  });

  await t.test('the internal routes refuse unsigned, tenant-signed, stale and replayed requests', async () => {
    const internal = `${b.server.endpoint}/internal/instances`;
    const unsigned = await fetch(internal);
    assert.equal(unsigned.status, 401);
    assert.match(((await unsigned.json()) as { message: string }).message, /must carry x-kiln-node-time/);
    assert.equal((await fetch(`${internal}/${id}`, { method: 'DELETE' })).status, 401);
    const tenant = await kilnFetch(target(b), { method: 'GET', path: '/internal/instances' });
    assert.equal(tenant.status, 401, 'an access key signs nothing here, not even the admin account\'s');
    const signer = nodeSigner(path.join(shared, 'some-node'), config, 'node-x');
    const headers = signer.sign({ method: 'GET', path: '/internal/instances', body: Buffer.alloc(0) });
    const signed = await fetch(internal, { headers });
    assert.equal(signed.status, 200, 'a node with the cluster key is answered');
    assert.equal(((await signed.json()) as { instances: unknown[] }).instances.length, 1);
    assert.equal((await fetch(internal, { headers })).status, 401, 'the same request again is a replay');
    const stale = nodeSigner(path.join(shared, 'some-node'), config, 'node-x', () => Date.now() - 6 * 60_000).sign({ method: 'GET', path: '/internal/instances', body: Buffer.alloc(0) });
    assert.equal((await fetch(internal, { headers: stale })).status, 401);
    assert.equal(keptOnB.list().length, 1, 'nothing refused touched the instance');
  });

  await t.test('A releases it on B; then it is gone everywhere', async () => {
    assert.match(await runCli(['instances', 'rm', id, '--endpoint', a.server.endpoint, '--data-dir', a.dataDir]), /released/);
    assert.deepEqual(keptOnB.list(), []);
    assert.deepEqual(hostLeftovers(b.dataDir), []);
    assert.deepEqual((await kilnRequest(target(a), { method: 'GET', path: '/kiln/instances' })).body.instances, []);
    const again = await kilnRequest(target(a), { method: 'DELETE', path: `/kiln/instances/${id}` });
    assert.equal(again.status, 404);
    assert.equal(again.body.__type, 'ResourceNotFoundException');
  });
});
