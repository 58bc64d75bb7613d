/**
 * What a Prometheus scrape of /metrics costs a node: the whole exposition (process metrics, Kiln's counters and
 * histograms with a realistic spread of label values, and the store-read job gauges) over a SQLite store holding
 * DONE finished jobs (history that accumulates and must not be read), QUEUED queued and LEASED leased ones.
 *
 * - baseline: the exposition without the store-read gauges;
 * - scrape: the same with them (two indexed reads of the jobs table per scrape).
 *
 * Measured in one process, alternating, median of ROUNDS. DONE, QUEUED, LEASED and ROUNDS override the defaults
 * (seeding is one transaction per job: DONE=100000 takes about 100 s to seed on these machines).
 *
 * Measured (2 shared cores, DONE=100000, QUEUED=500, LEASED=8): baseline 1.5 ms, scrape 3.5 ms, 60 kB of text.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../src/app/server-start.js';
import { registerClusterGauges } from '../src/metrics/cluster-gauges.js';
import { KilnMetrics } from '../src/metrics/kiln-metrics.js';

const DONE = Number(process.env.DONE ?? 20_000);
const QUEUED = Number(process.env.QUEUED ?? 500);
const LEASED = Number(process.env.LEASED ?? 8);
const ROUNDS = Number(process.env.ROUNDS ?? 21);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Label values as a busy node would have them: every operation a console uses, every step action and state. */
function fill(metrics: KilnMetrics): void {
  const operations = ['CreateImage', 'GetImage', 'ListImages', 'ListImagePipelines', 'GetComponent', 'ListComponents', 'ListWorkflowExecutions', 'ListWorkflowStepExecutions', '/v2/*', '/kiln/events', '/kiln/logs', '/console/*'];
  for (const operation of operations) for (const status of [200, 400, 403, 404]) metrics.apiRequest({ operation, status, seconds: 0.01 });
  for (const state of ['PENDING', 'CREATING', 'BUILDING', 'TESTING', 'DISTRIBUTING', 'INTEGRATING', 'AVAILABLE', 'FAILED', 'CANCELLED']) metrics.imageStateChanged({ status: state });
  for (const workflow of ['BUILD', 'TEST', 'DISTRIBUTION']) {
    metrics.workflowEnded({ workflow, status: 'COMPLETED', seconds: 60 });
    for (const action of ['LaunchInstance', 'ExecuteComponents', 'CreateImage', 'TerminateInstance', 'DistributeImage']) metrics.stepEnded({ workflow, action, status: 'COMPLETED', seconds: 5 });
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-bench-metrics-'));
  const store = openStore(dir);
  try {
    for (let i = 0; i < DONE + QUEUED + LEASED; i++) {
      const job = await store.enqueueJob('build-image', `arn:aws:imagebuilder:local:111122223333:image/b/1.0.0/${i}`);
      if (i < DONE) await store.finishJob(job.id, undefined, 'cancelled');
    }
    for (let i = 0; i < LEASED; i++) await store.leaseJob(['build-image'], `w/${i}`, 60_000);
    const bare = new KilnMetrics();
    const full = new KilnMetrics();
    fill(bare);
    fill(full);
    registerClusterGauges(full.registry, { jobs: store });
    const time = async (m: KilnMetrics): Promise<{ ms: number; bytes: number }> => {
      const t0 = performance.now();
      const { text } = await m.exposition();
      return { ms: performance.now() - t0, bytes: text.length };
    };
    const baseline: number[] = [];
    const scrape: number[] = [];
    let bytes = 0;
    for (let r = 0; r < ROUNDS; r++) {
      baseline.push((await time(bare)).ms);
      const s = await time(full);
      scrape.push(s.ms);
      bytes = s.bytes;
    }
    const b = median(baseline);
    const s = median(scrape);
    console.log(`jobs: ${DONE} finished, ${QUEUED} queued, ${LEASED} leased; ${ROUNDS} rounds, median`);
    console.log(`baseline (no store gauges): ${b.toFixed(2)} ms`);
    console.log(`scrape (with store gauges):  ${s.toFixed(2)} ms, ${bytes} bytes of text (store reads: ${(s - b).toFixed(2)} ms)`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
