import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateComponentCommand, CreateContainerRecipeCommand, CreateImageCommand, CreateInfrastructureConfigurationCommand } from '@aws-sdk/client-imagebuilder';
import { scrape, type Scrape } from '../helpers/prometheus.js';
import { bashComponent, buildSkipReason, pushHostBase, run, startBuildServer, waitForImage } from './helpers.js';

const skip = buildSkipReason();
const TEMPLATE = ['FROM {{{ imagebuilder:parentImage }}}', '{{{ imagebuilder:components }}}'].join('\n');

test('/metrics moves with container builds: state changes, stage and step durations, queue and running builds, registry bytes, API requests', { skip, timeout: 300_000 }, async (t) => {
  const kiln = await startBuildServer(t);
  const url = kiln.server.endpoint;
  const start = await scrape(url);
  const delta = (now: Scrape, then: Scrape, name: string, labels: Record<string, string> = {}) => now.value(name, labels) - then.value(name, labels);

  const base = await pushHostBase(t, kiln, 'bases/metrics');
  const pushed = await scrape(url);
  assert.ok(delta(pushed, start, 'kiln_registry_bytes_total', { direction: 'in', kind: 'blob' }) > 100_000, 'the base layer pushed with skopeo came in');
  assert.ok(delta(pushed, start, 'kiln_registry_bytes_total', { direction: 'in', kind: 'manifest' }) > 100, 'its manifest too');

  // The build step waits a little, so a scrape can see the first build running and the second one queued.
  const component = await kiln.client.send(new CreateComponentCommand({ name: 'slow', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['sleep 4', 'echo done > /built'] }) }));
  const recipe = await kiln.client.send(
    new CreateContainerRecipeCommand({
      containerType: 'DOCKER',
      name: 'metrics',
      semanticVersion: '1.0.0',
      parentImage: base,
      targetRepository: { service: 'ECR', repositoryName: 'e2e/metrics' },
      components: [{ componentArn: component.componentBuildVersionArn! }],
      dockerfileTemplateData: TEMPLATE,
    }),
  );
  const infra = await kiln.client.send(new CreateInfrastructureConfigurationCommand({ name: 'metrics', instanceProfileName: 'kiln', instanceTypes: ['ns.small'] }));
  const create = () => kiln.client.send(new CreateImageCommand({ containerRecipeArn: recipe.containerRecipeArn!, infrastructureConfigurationArn: infra.infrastructureConfigurationArn! })).then((out) => out.imageBuildVersionArn!);
  const first = await create();
  const second = await create();

  await waitForImage(kiln.client, first, { until: (image) => image.state?.status === 'BUILDING' });
  const busy = await scrape(url);
  assert.equal(busy.value('kiln_builds_running', { kind: 'build-image' }), 1, 'one build at a time (buildConcurrency 1)');
  assert.equal(busy.value('kiln_job_queue_depth', { kind: 'build-image' }), 1, 'the second waits in the queue');
  assert.ok(busy.value('kiln_job_oldest_age_seconds', { kind: 'build-image', state: 'leased' }) > 0);
  assert.ok(busy.value('kiln_job_lease_age_seconds', { kind: 'build-image' }) < 60, 'the running build\'s lease is fresh');
  assert.equal(busy.value('kiln_job_leases_expired'), 0);

  for (const arn of [first, second]) {
    const image = await waitForImage(kiln.client, arn, { timeoutMs: 240_000 });
    assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
  }
  const built = await scrape(url);
  for (const state of ['PENDING', 'BUILDING', 'TESTING', 'AVAILABLE']) {
    assert.equal(delta(built, start, 'kiln_image_state_changes_total', { state }), 2, `both images entered ${state}`);
  }
  assert.equal(delta(built, start, 'kiln_image_state_changes_total', { state: 'FAILED' }), 0);
  assert.equal(built.count('kiln_workflow_duration_seconds', { workflow: 'BUILD', status: 'COMPLETED' }) - start.count('kiln_workflow_duration_seconds', { workflow: 'BUILD', status: 'COMPLETED' }), 2);
  assert.equal(built.count('kiln_workflow_duration_seconds', { workflow: 'TEST', status: 'COMPLETED' }), 2);
  // Steps are labelled by their workflow action (a fixed set), never by their free-form names.
  assert.equal(built.count('kiln_workflow_step_duration_seconds', { workflow: 'BUILD', action: 'LaunchInstance', status: 'COMPLETED' }), 2);
  assert.equal(built.count('kiln_workflow_step_duration_seconds', { workflow: 'BUILD', action: 'ExecuteComponents', status: 'COMPLETED' }), 2);
  assert.equal(built.count('kiln_workflow_step_duration_seconds', { workflow: 'BUILD', action: 'CreateImage', status: 'COMPLETED' }), 2);
  // The components step ran `sleep 4`: its durations add up to at least that, twice.
  const componentsSum = built.value('kiln_workflow_step_duration_seconds_sum', { workflow: 'BUILD', action: 'ExecuteComponents' });
  assert.ok(componentsSum >= 8, `the components steps took ${componentsSum} s in all`);
  assert.equal(built.value('kiln_builds_running'), 0);
  assert.equal(built.value('kiln_job_queue_depth', { kind: 'build-image' }), 0);
  assert.equal(delta(built, start, 'kiln_api_requests_total', { operation: 'CreateImage', status: '200' }), 2);

  // Pulling the output with skopeo is bytes out of the registry.
  const out = mkdtempSync(path.join(tmpdir(), 'kiln-metrics-pull-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--src-creds', `${kiln.credentials.accessKeyId}:${kiln.credentials.secretAccessKey}`, `docker://${kiln.server.registryHost}/e2e/metrics:1.0.0-1`, `dir:${out}`]);
  const pulled = await scrape(url);
  assert.ok(delta(pulled, built, 'kiln_registry_bytes_total', { direction: 'out', kind: 'blob' }) > 100_000, 'the layers went out');
  assert.ok(delta(pulled, built, 'kiln_registry_bytes_total', { direction: 'out', kind: 'manifest' }) > 100, 'the manifest went out');
});
