/**
 * Builds across workers (issue 15), on this 2-core machine: a cluster as test/cluster/cluster-fixture.ts starts
 * it (PostgreSQL, s3rver, one `kiln serve --roles api,scheduler`, `kiln worker`s, each its own process).
 *
 * 1. Lease-to-start: CreateImage to the image leaving PENDING (a worker leased and began it), on an idle
 *    cluster whose worker finds work by polling the store, against the baseline of one embedded `kiln serve`
 *    (SQLite, all roles in one process, woken in-process by CreateImage). SAMPLES alternating samples each;
 *    medians and the ratio cluster / embedded.
 * 2. Builds per minute: BUILDS container builds (one small component: a few commands and a 2 s sleep, standing
 *    in for package installs that wait on the network) submitted at once, with one worker, then two, alternating
 *    ROUNDS times; medians and the ratio two / one. Each worker runs one build at a time (buildConcurrency 1).
 * Needs root, postgresql-15, skopeo and runc (as the build tests).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { CreateComponentCommand, CreateContainerRecipeCommand, CreateImageCommand, CreateInfrastructureConfigurationCommand, GetImageCommand, ImagebuilderClient } from '@aws-sdk/client-imagebuilder';
import { startServer } from '../src/app/server-start.js';
import { readCredentials } from '../test/api/fixture.js';
import { bashComponent, buildSkipReason, pushHostBase, waitForImage } from '../test/build/helpers.js';
import { startCluster, type ClusterNode } from '../test/cluster/cluster-fixture.js';
import { postgresUnavailable } from '../test/helpers/postgres.js';
import { median } from './drive.js';

const SAMPLES = Number(process.env.SAMPLES ?? 7);
const BUILDS = Number(process.env.BUILDS ?? 6);
const ROUNDS = Number(process.env.ROUNDS ?? 2);

const skip = buildSkipReason() ?? postgresUnavailable();
if (skip) {
  console.log(`cluster-builds: skipped, ${skip}`);
  process.exit(0);
}

const cleanups: (() => unknown)[] = [];
// pushHostBase takes a test's context only to register its cleanup.
const context = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext;

/** A recipe and an infrastructure configuration on one Kiln, ready for CreateImage. */
async function prepare(client: ImagebuilderClient, registryHost: string, credentials: { accessKeyId: string; secretAccessKey: string }): Promise<() => Promise<string>> {
  const base = await pushHostBase(context, { server: { registryHost }, credentials }, 'bench/base');
  const componentArn = (await client.send(new CreateComponentCommand({ name: 'work', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['echo working', 'sleep 2', 'mkdir -p /opt/app && echo built > /opt/app/built'] }) }))).componentBuildVersionArn!;
  const containerRecipeArn = (
    await client.send(
      new CreateContainerRecipeCommand({ containerType: 'DOCKER', name: 'bench', semanticVersion: '1.0.0', parentImage: base, targetRepository: { service: 'ECR', repositoryName: 'bench/out' }, components: [{ componentArn }], dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}' }),
    )
  ).containerRecipeArn!;
  const infrastructureConfigurationArn = (await client.send(new CreateInfrastructureConfigurationCommand({ name: 'bench', instanceProfileName: 'kiln', instanceTypes: ['ns.small'] }))).infrastructureConfigurationArn!;
  return async () => (await client.send(new CreateImageCommand({ containerRecipeArn, infrastructureConfigurationArn }))).imageBuildVersionArn!;
}

/** Milliseconds from CreateImage to the image leaving PENDING; waits for the build to end before answering. */
async function leaseToStart(client: ImagebuilderClient, create: () => Promise<string>): Promise<number> {
  const t0 = performance.now();
  const arn = await create();
  for (;;) {
    const image = (await client.send(new GetImageCommand({ imageBuildVersionArn: arn }))).image!;
    if (image.state?.status !== 'PENDING') break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const ms = performance.now() - t0;
  const done = await waitForImage(client, arn, { timeoutMs: 300_000 });
  if (done.state?.status !== 'AVAILABLE') throw new Error(`${arn}: ${done.state?.status} ${done.state?.reason ?? ''}`);
  return ms;
}

const embeddedDir = mkdtempSync(path.join(tmpdir(), 'kiln-bench-embedded-'));
cleanups.push(() => rmSync(embeddedDir, { recursive: true, force: true }));
const cluster = await startCluster({ workers: 2 });
cleanups.push(() => cluster.stop());
try {
  const embedded = await startServer({ dataDir: embeddedDir, listen: '127.0.0.1:0', config: { buildConcurrency: 1 } });
  cleanups.push(() => embedded.close());
  const embeddedCredentials = readCredentials(embedded.credentialsPath);
  const embeddedClient = new ImagebuilderClient({ endpoint: embedded.endpoint, region: 'local', credentials: embeddedCredentials });
  cleanups.push(() => embeddedClient.destroy());
  const clusterClient = cluster.client();
  const createEmbedded = await prepare(embeddedClient, embedded.registryHost, embeddedCredentials);
  const createCluster = await prepare(clusterClient, new URL(cluster.api[0]!.endpoint).host, cluster.credentials);
  // Warm-up: unpack the base once on each side (and on both workers), so samples time the lease, not the cache.
  await leaseToStart(embeddedClient, createEmbedded);
  await Promise.all([createCluster(), createCluster()].map(async (arn) => waitForImage(clusterClient, await arn, { timeoutMs: 300_000 })));

  const starts: Record<'embedded' | 'cluster', number[]> = { embedded: [], cluster: [] };
  for (let i = 0; i < SAMPLES; i++) {
    const order: ('embedded' | 'cluster')[] = i % 2 ? ['cluster', 'embedded'] : ['embedded', 'cluster'];
    for (const which of order) starts[which].push(which === 'embedded' ? await leaseToStart(embeddedClient, createEmbedded) : await leaseToStart(clusterClient, createCluster));
  }
  const e = median(starts.embedded);
  const c = median(starts.cluster);
  console.log(`lease-to-start (CreateImage → leaves PENDING), median of ${SAMPLES}: embedded ${e.toFixed(0)} ms | cluster worker ${c.toFixed(0)} ms | cluster/embedded ${(c / e).toFixed(2)}`);

  let second: ClusterNode | undefined = cluster.workers[1];
  const perMinute: Record<1 | 2, number[]> = { 1: [], 2: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const workers of (round % 2 ? [2, 1] : [1, 2]) as (1 | 2)[]) {
      if (workers === 1 && second) {
        await second.stop();
        second = undefined;
      } else if (workers === 2 && !second) {
        second = await cluster.startNode(`worker2-r${round}`, ['worker'], cluster.workers[1]!.dataDir);
      }
      const t0 = performance.now();
      const arns = await Promise.all(Array.from({ length: BUILDS }, () => createCluster()));
      for (const arn of arns) {
        const image = await waitForImage(clusterClient, arn, { timeoutMs: 600_000 });
        if (image.state?.status !== 'AVAILABLE') throw new Error(`${arn}: ${image.state?.status} ${image.state?.reason ?? ''}`);
      }
      perMinute[workers].push(BUILDS / ((performance.now() - t0) / 60_000));
    }
  }
  const one = median(perMinute[1]);
  const two = median(perMinute[2]);
  console.log(`builds per minute (${BUILDS} at once, median of ${ROUNDS}): one worker ${one.toFixed(1)} | two workers ${two.toFixed(1)} | two/one ${(two / one).toFixed(2)} (2 cores shared by every node and PostgreSQL)`);
} finally {
  for (const undo of cleanups.reverse()) await undo();
}
