import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateComponentCommand, ListComponentsCommand } from '@aws-sdk/client-imagebuilder';
import { postgresUnavailable, startPostgres, type LocalPostgres } from '../helpers/postgres.js';
import { scrape } from '../helpers/prometheus.js';
import { startLocalS3, type LocalS3 } from '../helpers/s3rver.js';
import { SAY_HI_DOCUMENT, startFixture } from './fixture.js';

// Needs root and Debian's postgresql-15 for the outage test: it stops and restarts its own throwaway cluster.
const skip = postgresUnavailable();
const dir = mkdtempSync(path.join(tmpdir(), 'kiln-health-'));
let pg: LocalPostgres | undefined;
let s3: LocalS3;
before(async () => {
  s3 = await startLocalS3(path.join(dir, 's3'), ['kiln']);
  if (!skip) pg = await startPostgres();
});
after(async () => {
  await s3.stop();
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function readiness(endpoint: string): Promise<{ status: number; body: { status: string; unreachable?: string[]; checks: Record<string, string> } }> {
  const res = await fetch(`${endpoint}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; unreachable?: string[]; checks: Record<string, string> } };
}

/** Polls /readyz until it answers `status` (a pool reconnecting, a server restarting take a moment). */
async function waitForReadiness(endpoint: string, status: number, timeoutMs = 15_000): Promise<{ status: number; body: { status: string; unreachable?: string[]; checks: Record<string, string> } }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await readiness(endpoint);
    if (r.status === status || Date.now() > deadline) return r;
    await sleep(200);
  }
}

test('an embedded server: /healthz, /readyz and /metrics answer unsigned; API requests are counted by operation and status', async (t) => {
  const f = await startFixture(t);
  assert.deepEqual(await (await fetch(`${f.server.endpoint}/healthz`)).json(), { status: 'ok' });
  assert.deepEqual(await readiness(f.server.endpoint), { status: 200, body: { status: 'ready', checks: { store: 'ok', objectStore: 'ok' } } });

  const before = await scrape(f.server.endpoint);
  const client = f.client();
  await client.send(new CreateComponentCommand({ name: 'hello', semanticVersion: '1.0.0', platform: 'Linux', data: SAY_HI_DOCUMENT }));
  await client.send(new ListComponentsCommand({}));
  await assert.rejects(client.send(new CreateComponentCommand({ name: 'hello', semanticVersion: '1.0.0', platform: 'Linux', data: SAY_HI_DOCUMENT })));
  await fetch(`${f.server.endpoint}/no/such/thing`);
  await fetch(`${f.server.endpoint}/v2/`);
  const s = await scrape(f.server.endpoint);
  const moved = (labels: Record<string, string>) => s.value('kiln_api_requests_total', labels) - before.value('kiln_api_requests_total', labels);
  assert.equal(moved({ operation: 'CreateComponent', status: '200' }), 1);
  assert.equal(moved({ operation: 'CreateComponent' }), 2, 'the refused duplicate too, under its own status');
  assert.equal(moved({ operation: 'ListComponents', status: '200' }), 1);
  assert.equal(moved({ operation: 'unknown', status: '404' }), 1, 'a path no operation has, under one label, not its URL');
  assert.equal(moved({ operation: '/v2/*', status: '401' }), 1, 'the registry (a plugin of its own) is counted by its route');
  assert.ok(s.count('kiln_api_request_duration_seconds', { operation: 'CreateComponent' }) >= 2);
  assert.ok(before.value('kiln_api_requests_total', { operation: '/metrics', status: '200' }) < s.value('kiln_api_requests_total', { operation: '/metrics', status: '200' }), 'scrapes are requests too');
  assert.equal(s.value('kiln_store_scrape_success'), 1);
  assert.equal(s.value('kiln_job_queue_depth', { kind: 'build-image' }), 0);
  assert.ok(s.has('process_cpu_user_seconds_total') && s.has('nodejs_eventloop_lag_seconds'), 'process default metrics are there');
  assert.equal([...s.families.keys()].some((name) => s.families.get(name)!.metrics.some((m) => Object.values(m.labels ?? {}).some((v) => v.includes('arn:aws')))), false, 'no ARN is a label value');
});

test('readiness follows the store and the object store: 503 naming PostgreSQL while it is stopped, the bucket while its server is closed, 200 again after', { skip }, async (t) => {
  const shared = mkdtempSync(path.join(dir, 'shared-'));
  const { endpoint, region, accessKeyId, secretAccessKey } = s3.settings;
  const f = await startFixture(t, {
    config: {
      store: await pg!.createDatabase(),
      secretKeyFile: path.join(shared, 'secret.key'),
      objectStore: { bucket: 'kiln', endpoint: endpoint!, region: region!, forcePathStyle: true, accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! },
    },
  });
  const url = f.server.endpoint;
  assert.deepEqual(await readiness(url), { status: 200, body: { status: 'ready', checks: { store: 'ok', objectStore: 'ok' } } });

  await pg!.down();
  const storeDown = await waitForReadiness(url, 503);
  assert.equal(storeDown.status, 503);
  assert.equal(storeDown.body.status, 'unready');
  assert.deepEqual(storeDown.body.unreachable, ['store']);
  assert.equal(storeDown.body.checks.objectStore, 'ok');
  assert.doesNotMatch(JSON.stringify(storeDown.body), /127\.0\.0\.1|postgres:\/\/|\/tmp\//, 'no address, URL or path in an unauthenticated answer');
  // Liveness does not depend on the store, and a scrape still answers, without the store's gauges.
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  const during = await scrape(url);
  assert.equal(during.value('kiln_store_scrape_success'), 0);
  assert.equal(during.has('kiln_job_queue_depth'), false);

  await pg!.up();
  assert.equal((await waitForReadiness(url, 200)).status, 200, 'ready again once PostgreSQL is back');
  assert.equal((await scrape(url)).value('kiln_store_scrape_success'), 1);

  await s3.down();
  const bucketDown = await waitForReadiness(url, 503);
  assert.equal(bucketDown.status, 503);
  assert.deepEqual(bucketDown.body.unreachable, ['objectStore']);
  assert.equal(bucketDown.body.checks.store, 'ok');
  assert.doesNotMatch(JSON.stringify(bucketDown.body), /127\.0\.0\.1|http:\/\//);

  await s3.up();
  assert.deepEqual(await waitForReadiness(url, 200), { status: 200, body: { status: 'ready', checks: { store: 'ok', objectStore: 'ok' } } });
});
