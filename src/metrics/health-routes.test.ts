import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { Scrape, scrape } from '../../test/helpers/prometheus.js';
import type { Job } from '../store/roles/job-queue.js';
import type { NodeRecord } from '../store/roles/cluster-nodes.js';
import { registerClusterGauges, type ClusterGaugeDeps } from './cluster-gauges.js';
import { registerHealthAndMetrics } from './health-routes.js';
import { KilnMetrics } from './kiln-metrics.js';
import { Readiness, type Pingable } from './readiness.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();

function job(id: number, kind: string, state: Job['state'], createdSecondsAgo: number, fields: Partial<Job> = {}): Job {
  return { id, kind, resourceArn: `arn:${id}`, state, leaseOwner: undefined, leaseUntil: undefined, previousOwner: undefined, attempts: 0, createdAt: ago(createdSecondsAgo), updatedAt: ago(createdSecondsAgo), ...fields };
}

function node(id: string, roles: NodeRecord['roles'], state: NodeRecord['state']): NodeRecord {
  return { id, host: 'h', roles, endpoint: undefined, startedAt: ago(100), lastSeen: ago(1), state };
}

async function serve(t: TestContext, setup: { checks?: Record<string, Pingable>; token?: string; gauges?: Omit<ClusterGaugeDeps, 'now'>; timeoutMs?: number } = {}) {
  const metrics = new KilnMetrics({ defaultMetrics: false });
  if (setup.gauges) registerClusterGauges(metrics.registry, { ...setup.gauges, now: () => NOW });
  const logged: string[] = [];
  const readiness = new Readiness(setup.checks ?? {}, { timeoutMs: setup.timeoutMs ?? 2_000, log: (line) => logged.push(line) });
  const app = Fastify();
  registerHealthAndMetrics(app, { metrics, readiness, ...(setup.token === undefined ? {} : { token: setup.token }) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const { port } = app.server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, metrics, logged };
}

test('/metrics: what the callbacks were told, in the text format a Prometheus parser reads', async (t) => {
  const { url, metrics } = await serve(t);
  metrics.apiRequest({ operation: 'CreateImage', status: 200, seconds: 0.02 });
  metrics.apiRequest({ operation: 'CreateImage', status: 400, seconds: 0.001 });
  metrics.apiRequest({ operation: '/v2/*', status: 201, seconds: 0.3 });
  metrics.imageStateChanged({ status: 'BUILDING' });
  metrics.imageStateChanged({ status: 'AVAILABLE' });
  metrics.stepEnded({ workflow: 'BUILD', action: 'LaunchBuildInstance', status: 'COMPLETED', seconds: 1.5 });
  metrics.workflowEnded({ workflow: 'BUILD', status: 'COMPLETED', seconds: 12 });
  metrics.registryBytes('in', 'blob', 1000);
  metrics.registryBytes('out', 'manifest', 300);
  metrics.schedulerTick({ ok: true, report: { started: ['arn:a'], skipped: 2, failed: 0 } });
  metrics.schedulerTick({ ok: false, error: new Error('store down') });
  metrics.notificationDelivered({ outcome: { delivered: true } });
  metrics.notificationDelivered({ outcome: { delivered: false, error: 'HTTP 500' } });
  metrics.notificationDelivered({ outcome: { delivered: false, error: 'stopped' } });

  const s = await scrape(url);
  assert.equal(s.value('kiln_api_requests_total', { operation: 'CreateImage', status: '200' }), 1);
  assert.equal(s.value('kiln_api_requests_total', { operation: 'CreateImage' }), 2);
  assert.equal(s.count('kiln_api_request_duration_seconds', { operation: 'CreateImage' }), 2);
  // This scrape's own request was not counted: the server has no onResponse hook in this test.
  assert.equal(s.value('kiln_api_requests_total', { operation: '/v2/*', status: '201' }), 1);
  assert.equal(s.value('kiln_image_state_changes_total', { state: 'AVAILABLE' }), 1);
  assert.equal(s.count('kiln_workflow_step_duration_seconds', { workflow: 'BUILD', action: 'LaunchBuildInstance', status: 'COMPLETED' }), 1);
  assert.equal(s.count('kiln_workflow_duration_seconds', { workflow: 'BUILD' }), 1);
  assert.equal(s.value('kiln_registry_bytes_total', { direction: 'in', kind: 'blob' }), 1000);
  assert.equal(s.value('kiln_registry_bytes_total', { direction: 'out', kind: 'manifest' }), 300);
  assert.equal(s.value('kiln_scheduler_ticks_total', { outcome: 'ok' }), 1);
  assert.equal(s.value('kiln_scheduler_ticks_total', { outcome: 'failed' }), 1);
  assert.equal(s.value('kiln_scheduler_due_pipelines_total', { outcome: 'started' }), 1);
  assert.equal(s.value('kiln_scheduler_due_pipelines_total', { outcome: 'skipped' }), 2);
  assert.deepEqual(['delivered', 'failed', 'abandoned'].map((outcome) => s.value('kiln_notification_deliveries_total', { outcome })), [1, 1, 1]);
  assert.equal(s.families.get('kiln_api_request_duration_seconds')?.type, 'HISTOGRAM');
});

test('/metrics: queue depth, ages, expired leases, running builds and workers are read from the store at scrape time', async (t) => {
  let jobs: Job[] = [
    job(1, 'build-image', 'queued', 30),
    job(2, 'build-image', 'queued', 5),
    job(3, 'build-image', 'leased', 600, { leaseOwner: 'w1', updatedAt: ago(4), leaseUntil: new Date(NOW + 56_000).toISOString() }),
    job(4, 'distribute-image', 'leased', 90, { leaseOwner: 'w2', updatedAt: ago(75), leaseUntil: ago(15) }),
    job(5, 'lifecycle-execution', 'leased', 10, { leaseOwner: 'w1', updatedAt: ago(1), leaseUntil: new Date(NOW + 59_000).toISOString() }),
  ];
  const asked: number[] = [];
  const gauges: Omit<ClusterGaugeDeps, 'now'> = {
    jobs: { listJobs: async (q) => jobs.filter((j) => q.state === undefined || j.state === q.state) },
    nodes: {
      listNodes: async (lostAfterMs) => {
        asked.push(lostAfterMs);
        return [node('api', ['api', 'scheduler'], 'active'), node('w1', ['worker'], 'active'), node('w2', ['worker'], 'lost')];
      },
    },
    lostAfterMs: 20_000,
  };
  const { url } = await serve(t, { gauges });
  let s = await scrape(url);
  assert.equal(s.value('kiln_store_scrape_success'), 1);
  assert.equal(s.value('kiln_job_queue_depth', { kind: 'build-image' }), 2);
  assert.equal(s.value('kiln_job_queue_depth', { kind: 'distribute-image' }), 0, 'a kind with nothing queued reads 0, not absent');
  assert.equal(s.value('kiln_job_oldest_age_seconds', { kind: 'build-image', state: 'queued' }), 30);
  assert.equal(s.value('kiln_job_oldest_age_seconds', { kind: 'build-image', state: 'leased' }), 600);
  assert.equal(s.value('kiln_job_lease_age_seconds', { kind: 'distribute-image' }), 75);
  assert.equal(s.value('kiln_job_leases_expired', { kind: 'distribute-image' }), 1);
  assert.equal(s.value('kiln_job_leases_expired', { kind: 'build-image' }), 0);
  assert.equal(s.value('kiln_builds_running'), 2, 'the lifecycle job is not a build');
  assert.equal(s.value('kiln_workers', { state: 'active' }), 1, 'the API node is no worker');
  assert.equal(s.value('kiln_workers', { state: 'lost' }), 1);
  assert.deepEqual(asked, [20_000], 'one read of the nodes per scrape, with the configured limit');

  // The next scrape reads again: the queue drained.
  jobs = [];
  s = await scrape(url);
  assert.equal(s.value('kiln_job_queue_depth', { kind: 'build-image' }), 0);
  assert.equal(s.value('kiln_builds_running'), 0);
  assert.equal(s.has('kiln_job_lease_age_seconds'), false, 'no lease, no age');
});

test('/metrics: a store that does not answer leaves the store gauges out instead of holding the scrape', async (t) => {
  const { url } = await serve(t, { gauges: { jobs: { listJobs: () => new Promise(() => undefined) }, timeoutMs: 200 } });
  const started = Date.now();
  const s = await scrape(url);
  assert.ok(Date.now() - started < 2_000, 'the scrape waited for the timeout only');
  assert.equal(s.value('kiln_store_scrape_success'), 0);
  assert.equal(s.families.get('kiln_store_scrape_success')?.metrics.length, 1);
  assert.equal(s.has('kiln_job_queue_depth'), false);
  assert.equal(s.has('kiln_builds_running'), false);
});

test('/metrics with metrics.token: 401 without the bearer token or with another, 200 with it; probes stay open', async (t) => {
  const token = 'scrape-0123456789abcdef';
  const { url } = await serve(t, { token });
  const none = await fetch(`${url}/metrics`);
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
  assert.equal((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer scrape-0123456789abcdeX' } })).status, 401);
  assert.equal((await fetch(`${url}/metrics`, { headers: { authorization: `Basic ${token}` } })).status, 401);
  assert.ok((await scrape(url, { authorization: `Bearer ${token}` })) instanceof Scrape);
  assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' });
  assert.equal((await fetch(`${url}/readyz`)).status, 200);
});

test('/readyz: 503 naming what is unreachable, with a short reason and no address; a hanging ping is not asked twice', async (t) => {
  let storeUp = true;
  let blobPings = 0;
  let release: () => void = () => undefined;
  const hanging = new Promise<void>((resolve) => (release = resolve));
  let objectStore: Pingable = { ping: async () => undefined };
  const { url, logged } = await serve(t, {
    timeoutMs: 150,
    checks: {
      store: {
        ping: async () => {
          if (!storeUp) throw Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:5432'), { code: 'ECONNREFUSED' });
        },
      },
      objectStore: { ping: () => objectStore.ping() },
    },
  });
  const ready = await fetch(`${url}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: 'ready', checks: { store: 'ok', objectStore: 'ok' } });

  storeUp = false;
  const down = await fetch(`${url}/readyz`);
  assert.equal(down.status, 503);
  const body = (await down.json()) as { status: string; unreachable: string[]; checks: Record<string, string> };
  assert.deepEqual(body, { status: 'unready', unreachable: ['store'], checks: { store: 'ECONNREFUSED', objectStore: 'ok' } });
  assert.equal(JSON.stringify(body).includes('10.1.2.3'), false);
  assert.ok(logged.some((l) => l.includes('store is unreachable: connect ECONNREFUSED')), 'the full error goes to the log');

  storeUp = true;
  objectStore = {
    ping: () => {
      blobPings++;
      return hanging;
    },
  };
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${url}/readyz`);
    assert.equal(res.status, 503);
    assert.deepEqual(((await res.json()) as { unreachable: string[] }).unreachable, ['objectStore']);
  }
  assert.equal(blobPings, 1, 'the second probe waited on the first ping still under way');
  release();
  await hanging;
  await new Promise((resolve) => setImmediate(resolve));
  objectStore = { ping: async () => undefined };
  assert.equal((await fetch(`${url}/readyz`)).status, 200);
  assert.ok(logged.some((l) => l === 'readiness: store is reachable again'));
});
