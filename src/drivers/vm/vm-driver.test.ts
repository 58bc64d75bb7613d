// The InstanceDriver conformance suite on the `vm` driver: a Debian disk booted under QEMU and driven through
// its guest agent. Under TCG a boot takes 20-60 s, so the suite boots one VM, which every test shares and the
// last one disposes; prepare's checks need no VM.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { DriverInstance, LaunchSpec } from '../driver.js';
import { driverConformanceSuite } from '../testsuite/driver-suite.js';
import { sharedTestDisk, whyNoTestDisk } from '../testsuite/test-disk.js';
import { detectAccel } from './accel.js';
import { vmHostIssues, VmDriver } from './vm-driver.js';
import type { VmInstance } from './vm-instance.js';

const BOOT_TIMEOUT_MS = 300_000;
const driver = new VmDriver({ accel: detectAccel().accel, bootTimeoutMs: BOOT_TIMEOUT_MS });
let disk = '';
let scratchRoot = '';

async function whyNot(): Promise<string | false> {
  if (process.getuid?.() !== 0) return 'needs root';
  const host = vmHostIssues('uefi', true);
  if (host.length > 0) return host.map((i) => i.message).join('; ');
  return whyNoTestDisk();
}
const skip = await whyNot();

function spec(): LaunchSpec {
  return { layers: [], disk: { path: disk, format: 'raw' }, resources: { vcpus: 2, memoryMiB: 1024 }, network: 'none', hostname: 'kiln-build', scratchRoot };
}

/** The instance's QEMU, if it still runs: dispose must have ended it. */
function leftovers(inst: DriverInstance): string[] {
  const pid = (inst as VmInstance).pid;
  let stat = '';
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return [];
  }
  // A zombie holds nothing; its parent (this process) reaps it when it gets to it.
  return /^Z/.test(stat.replace(/^.*\) /s, '')) ? [] : [`QEMU process ${pid} of ${inst.id}`];
}

driverConformanceSuite({
  name: 'vm',
  driver,
  capabilities: { root: 'disk', snapshotDir: false },
  spec,
  skip: () => skip,
  setup: async () => {
    disk = (await sharedTestDisk(AbortSignal.timeout(20 * 60_000))).path;
    scratchRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-vmd-'));
    return () => {
      assert.deepEqual(fs.readdirSync(scratchRoot), [], 'no instance folder is left');
      fs.rmSync(scratchRoot, { recursive: true, force: true });
    };
  },
  leftovers,
});

test('vm driver: prepare refuses layers, a missing disk and a scratch root too long for the agent socket', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-vmd-prep-'));
  try {
    const file = path.join(dir, 'disk.raw');
    fs.writeFileSync(file, '');
    const base: LaunchSpec = { layers: [], disk: { path: file, format: 'raw' }, resources: { vcpus: 1, memoryMiB: 512 }, network: 'nat', hostname: 'kiln-build', scratchRoot: dir };
    assert.deepEqual(await driver.prepare(base), []);
    const long = path.join(dir, 'x'.repeat(100));
    fs.mkdirSync(long);
    const issues = await driver.prepare({ ...base, layers: ['/'], disk: { path: path.join(dir, 'none.raw'), format: 'vmdk' as never }, scratchRoot: long, resources: { vcpus: 0, memoryMiB: 8 } });
    assert.deepEqual(issues.map((i) => i.path).sort(), ['disk.format', 'disk.path', 'layers', 'resources.memoryMiB', 'resources.vcpus', 'scratchRoot']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
