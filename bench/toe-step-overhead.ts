/**
 * Per-step overhead of `kiln toe run` over bash running the same commands, for a document of N steps of
 * `ExecuteBash: [true]`. Both sides run in this script, alternating, so machine noise hits them alike.
 *
 * - baseline: one bash that starts `bash step.sh` N times (each step runs in its own shell, as in AWSTOE);
 * - kiln (in-process): runDocuments on the local instance, with the full AWSTOE log folder;
 * - kiln (CLI): `kiln toe run` as a user runs it, Node start-up included.
 *
 * Prints medians, the ratio kiln/baseline and the overhead per step in milliseconds (target: under 5 ms).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { actionModules } from '../src/toe/actions/registry.js';
import { execLocal, LocalInstance } from '../src/toe/instance/local.js';
import { runDocuments } from '../src/toe/runner/run.js';

const STEPS = Number(process.env.STEPS ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const dir = await mkdtemp(join(tmpdir(), 'kiln-bench-'));
try {
  const steps = Array.from({ length: STEPS }, (_, i) => `      - name: Step${i}\n        action: ExecuteBash\n        inputs:\n          commands: ['true']\n`).join('');
  const text = `name: Bench\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n${steps}`;
  const docPath = join(dir, 'bench.yaml');
  await writeFile(docPath, text);
  await writeFile(join(dir, 'step.sh'), 'true\n');
  await writeFile(join(dir, 'baseline.sh'), `for i in $(seq ${STEPS}); do bash ${join(dir, 'step.sh')}; done\n`);
  const modules = actionModules();
  const kiln = resolve('bin/kiln');

  const baseline: number[] = [];
  const inProcess: number[] = [];
  const cli: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    baseline.push(await time(async () => {
      const r = await execLocal(['bash', join(dir, 'baseline.sh')]);
      if (r.exitCode !== 0) throw new Error(`baseline failed: ${r.stderr}`);
    }));
    inProcess.push(await time(async () => {
      const r = await runDocuments({ documents: [{ path: docPath, text, parameters: {} }], logDirectory: join(dir, 'logs'), instance: new LocalInstance(), modules });
      if (r.summary.status !== 'Success') throw new Error(`kiln failed: ${r.summary.failureMessage}`);
    }));
    cli.push(await time(async () => {
      const r = await execLocal(['node', kiln, 'toe', 'run', '-d', docPath, '-l', join(dir, 'logs')]);
      if (r.exitCode !== 0) throw new Error(`kiln toe run failed: ${r.stderr}`);
    }));
  }
  const b = median(baseline);
  const report = (label: string, ms: number) =>
    `${label.padEnd(22)} ${ms.toFixed(0).padStart(6)} ms  ratio ${(ms / b).toFixed(2)}x  overhead ${((ms - b) / STEPS).toFixed(2)} ms/step`;
  console.log(`kiln toe run: ${STEPS} steps of ExecuteBash [true], median of ${ROUNDS} rounds`);
  console.log(`${'bash baseline'.padEnd(22)} ${b.toFixed(0).padStart(6)} ms  (${(b / STEPS).toFixed(2)} ms/step)`);
  console.log(report('kiln (in-process)', median(inProcess)));
  console.log(report('kiln toe run (CLI)', median(cli)));
} finally {
  await rm(dir, { recursive: true, force: true });
}
