/**
 * What a confined build instance costs: launch, one `true`, dispose, for the ns driver, against `podman run
 * --rm` of the same root filesystem (podman's default confinement, the one ns instances copy, on runc as this
 * host needs). With KILN_BASELINE_DIST naming the `dist/` of another Kiln build (say, the one before a change),
 * that build's ns driver runs too, so a change to the driver is measured against the driver it replaces.
 * Runs alternate, so machine noise hits every side alike; medians, and each side's ratio to Kiln's.
 *
 *   node dist/bench/ns-launch.js            ROUNDS=15 by default; run as root
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { InstanceDriver, LaunchSpec } from '../src/drivers/driver.js';
import { NsDriver } from '../src/drivers/ns/ns-driver.js';
import { buildTestRootfs } from '../src/drivers/testsuite/test-rootfs.js';

const ROUNDS = Number(process.env.ROUNDS ?? 15);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time(fn: () => Promise<void> | void): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function launchRunDispose(driver: InstanceDriver, spec: LaunchSpec): Promise<void> {
  const inst = await driver.launch(spec);
  try {
    const r = await inst.exec(['true']);
    if (r.exitCode !== 0) throw new Error(`true failed in the instance: ${r.stderr}`);
  } finally {
    await inst.dispose();
  }
}

const rootfs = buildTestRootfs();
const scratchRoot = mkdtempSync(join(tmpdir(), 'kiln-bench-scratch-'));
try {
  const spec: LaunchSpec = { layers: [rootfs.path], resources: { vcpus: 1, memoryMiB: 2048 }, network: 'none', hostname: 'bench', scratchRoot };
  const sides: { name: string; run: () => Promise<void> | void; times: number[] }[] = [];
  const kiln = new NsDriver();
  sides.push({ name: 'kiln ns (runc, confined)', run: () => launchRunDispose(kiln, spec), times: [] });
  const other = process.env.KILN_BASELINE_DIST;
  if (other) {
    const mod = (await import(join(resolve(other), 'src/drivers/ns/ns-driver.js'))) as { NsDriver: new () => InstanceDriver };
    const before = new mod.NsDriver();
    sides.push({ name: `kiln ns from ${other}`, run: () => launchRunDispose(before, { ...spec, resources: { vcpus: 1, memoryMiB: 2048 } }), times: [] });
  }
  // As machine.md found podman to work on this host: runc, and limits it may set without CAP_SYS_RESOURCE.
  const podman = ['--runtime', 'runc', 'run', '--rm', '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096', '--rootfs', rootfs.path, 'true'];
  sides.push({ name: 'podman run --rm --network none', run: () => void execFileSync('podman', podman, { stdio: 'ignore' }), times: [] });
  for (const side of sides) await side.run(); // warm-up: seccomp profile, page cache
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of sides) side.times.push(await time(side.run));
  }
  const base = median(sides[0]!.times);
  console.log(`launch + exec true + dispose, median of ${ROUNDS} interleaved rounds`);
  for (const side of sides) {
    const m = median(side.times);
    console.log(`${side.name.padEnd(40)} ${m.toFixed(0).padStart(6)} ms   kiln / this = ${(base / m).toFixed(2)}`);
  }
} finally {
  rmSync(scratchRoot, { recursive: true, force: true });
  rootfs.cleanup();
}
