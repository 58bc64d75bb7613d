/**
 * Scheduler cost with nothing to build: 10,000 pipelines on `rate(1 minute)` with the default start condition,
 * whose recipes resolve to exactly what their last successful build used, so every tick skips every pipeline.
 *
 * - baseline: reading the 10,000 pipeline rows from the store (listResourcesOfType), the least any tick does;
 * - tick: one scheduler tick: read the rows, resolve each recipe's parent image (x.x.x) and components (1.x.x)
 *   as a build would, compare with the last successful build, and record every skip (one transaction).
 *
 * Target (issue 6): a tick under 2 s on these machines. Measured in the same process, alternating, median of
 * ROUNDS. PIPELINES and ROUNDS override the defaults.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../src/app/server-start.js';
import { TestClock } from '../src/domain/clock.js';
import { dependencyKey } from '../src/pipelines/run-state.js';
import { PipelineScheduler } from '../src/pipelines/scheduler.js';
import { pipelineRunStarter } from '../src/service/pipeline-runs.js';
import type { Store } from '../src/store/store.js';

const PIPELINES = Number(process.env.PIPELINES ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const COMPONENTS = 10;
const ACCOUNT = '111122223333';
const REGION = 'local';
const base = `arn:aws:imagebuilder:${REGION}:${ACCOUNT}`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function seed(store: Store, created: string): Promise<void> {
  const put = (type: string, name: string, version: string, data: Record<string, unknown>, build: 'none' | 'first') =>
    store.createResource({ accountId: ACCOUNT, region: REGION, type, name, version, arn: `${base}:${type}/${name}${version ? `/${version}` : ''}`, data, build });
  const parent = (await put('image', 'base', '1.0.0', { name: 'base', type: 'DOCKER', state: { status: 'AVAILABLE' }, dateCreated: created }, 'first')).record.arn;
  const components: string[] = [];
  for (let c = 0; c < COMPONENTS; c++) components.push((await put('component', `step-${c}`, '1.0.0', { name: `step-${c}`, type: 'BUILD', platform: 'Linux', data: 'x' }, 'first')).record.arn);
  const infrastructureConfigurationArn = (await put('infrastructure-configuration', 'infra', '', { name: 'infra' }, 'none')).record.arn;
  for (let i = 0; i < PIPELINES; i++) {
    // Each pipeline builds its own recipe, with three of the shared components through a 1.x.x wildcard.
    const picked = [0, 1, 2].map((k) => `step-${(i + k) % COMPONENTS}`);
    const recipe = await put('container-recipe', `app-${i}`, '1.0.0', { name: `app-${i}`, parentImage: `${base}:image/base/x.x.x`, components: picked.map((n) => ({ componentArn: `${base}:component/${n}/1.x.x` })) }, 'none');
    const resolved = picked.map((n) => components[Number(n.slice(5))]!);
    await put(
      'image-pipeline',
      `pipeline-${i}`,
      '',
      {
        name: `pipeline-${i}`,
        containerRecipeArn: recipe.record.arn,
        infrastructureConfigurationArn,
        status: 'ENABLED',
        schedule: { scheduleExpression: 'rate(1 minute)', pipelineExecutionStartCondition: 'EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE' },
        dateCreated: created,
        consecutiveFailures: 0,
        lastSuccessfulRun: { imageBuildVersionArn: `${base}:image/app-${i}/1.0.0/1`, dependencies: dependencyKey(recipe.record.arn, parent, resolved) },
      },
      'none',
    );
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'kiln-bench-tick-'));
const store = openStore(dir);
try {
  const clock = new TestClock('2026-06-01T00:00:00Z');
  let t0 = performance.now();
  await seed(store, clock.now().toISOString());
  process.stdout.write(`seeded ${PIPELINES} pipelines in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  const scheduler = new PipelineScheduler({ store, clock, runs: pipelineRunStarter(store), resolveTag: () => Promise.reject(new Error('no registry parents in this benchmark')) });
  const reads: number[] = [];
  const ticks: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    t0 = performance.now();
    const rows = await store.listResourcesOfType('image-pipeline');
    reads.push(performance.now() - t0);
    if (rows.length !== PIPELINES) throw new Error(`read ${rows.length} pipelines`);
    clock.advance(60_000);
    t0 = performance.now();
    const report = await scheduler.tick(clock.now());
    ticks.push(performance.now() - t0);
    if (report.due !== PIPELINES || report.skipped !== PIPELINES || report.started.length !== 0) throw new Error(`unexpected tick: ${JSON.stringify({ ...report, started: report.started.length })}`);
  }
  const read = median(reads);
  const tick = median(ticks);
  process.stdout.write(`read ${PIPELINES} rows: ${read.toFixed(0)} ms (median of ${ROUNDS})\n`);
  process.stdout.write(`tick, all skipped: ${tick.toFixed(0)} ms (median of ${ROUNDS}) = ${(tick / read).toFixed(1)}x the read, ${((tick * 1000) / PIPELINES).toFixed(0)} µs per pipeline\n`);
  process.stdout.write(`target: under 2000 ms per tick: ${tick < 2000 ? 'met' : 'NOT met'}\n`);
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
