import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isLive } from '../../toe/instance/process-tree.js';
import { killQemuUnder, qemuProcessesUnder } from './vm-sweep.js';

test('the start-up sweep kills QEMU processes that name the work folder, and only those', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-vm-sweep-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // A stand-in QEMU: `tail -f` under a qemu-system name, with a file of the work folder on its command line,
  // as a VM names its agent socket there; it runs in its own process group as launchVm's QEMU does.
  const fake = path.join(dir, 'qemu-system-x86_64');
  symlinkSync('/usr/bin/tail', fake);
  mkdirSync(path.join(dir, 'work', 'vm'), { recursive: true });
  writeFileSync(path.join(dir, 'work', 'vm', 'serial.log'), '');
  writeFileSync(path.join(dir, 'other.log'), '');
  const ours = spawn(fake, ['-f', path.join(dir, 'work', 'vm', 'serial.log')], { detached: true, stdio: 'ignore' });
  const foreign = spawn(fake, ['-f', path.join(dir, 'other.log')], { detached: true, stdio: 'ignore' });
  t.after(() => {
    for (const child of [ours, foreign]) {
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(qemuProcessesUnder(path.join(dir, 'work')), [ours.pid]);
  assert.deepEqual(await killQemuUnder(path.join(dir, 'work')), [ours.pid]);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(isLive(ours.pid!), false);
  assert.equal(isLive(foreign.pid!), true, 'a QEMU outside the folder is not touched');
  assert.deepEqual(await killQemuUnder(path.join(dir, 'work')), []);
});
