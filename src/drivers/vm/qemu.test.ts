import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isKilnError } from '../../domain/errors.js';
import { BIOS_FIRMWARE, bootAndWait, firmwareArgs, OVMF_FIRMWARE, qemuArgs, type BootOptions } from './qemu.js';

function missing(): string | false {
  try {
    execFileSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'needs qemu-system-x86_64 (qemu-system-x86)';
  }
  return fs.existsSync(OVMF_FIRMWARE) ? false : `needs ${OVMF_FIRMWARE} (ovmf)`;
}

function gone(pid: number | undefined): boolean {
  assert.ok(pid);
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

// An empty disk: OVMF finds nothing to boot and sits in its boot manager, printing to the serial console,
// which is enough to exercise matching, timeouts and the kill without a root filesystem.
describe('bootAndWait on an empty disk (firmware only)', { skip: missing() }, () => {
  let dir = '';
  let base: BootOptions;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-qemu-'));
    const disk = path.join(dir, 'empty.raw');
    fs.writeFileSync(disk, Buffer.alloc(1024 * 1024));
    base = { disk, memoryMiB: 256, vcpus: 1, accel: 'tcg', firmware: OVMF_FIRMWARE, until: /will never appear/, timeoutMs: 3000 };
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a timeout ends the wait unmatched and QEMU is gone', async () => {
    const result = await bootAndWait(base);
    assert.equal(result.matched, false);
    assert.equal(result.ended, 'timeout');
    assert.ok(result.ms >= 3000 && result.ms < 10_000, `took ${result.ms} ms`);
    assert.ok(gone(result.pid), 'qemu still running');
  });

  test('the wait ends as soon as the console matches', async () => {
    const result = await bootAndWait({ ...base, until: /BdsDxe|Shell>/, timeoutMs: 120_000 });
    assert.equal(result.matched, true, result.serialTail);
    assert.match(result.serialTail, /BdsDxe|Shell>/);
    assert.ok(gone(result.pid), 'qemu still running');
  });

  test('abort rejects with Cancelled and leaves no QEMU', async () => {
    const controller = new AbortController();
    const pending = bootAndWait({ ...base, timeoutMs: 60_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 500);
    await assert.rejects(pending, (e) => isKilnError(e, 'Cancelled'));
    const leftover = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(base.disk));
    assert.deepEqual(leftover, []);
  });

  test('bad arguments reject with QEMU\'s message', async () => {
    await assert.rejects(bootAndWait({ ...base, firmware: path.join(dir, 'no-such-firmware.fd') }), (e) => isKilnError(e, 'Internal') && /no-such-firmware/.test(e.message));
  });
});

test('firmwareArgs: -bios with a UEFI image, nothing for SeaBIOS; qemuArgs uses it', () => {
  assert.deepEqual(firmwareArgs(OVMF_FIRMWARE), ['-bios', OVMF_FIRMWARE]);
  assert.deepEqual(firmwareArgs(BIOS_FIRMWARE), []);
  const args = qemuArgs({ disk: '/d.raw', memoryMiB: 512, vcpus: 1, accel: 'tcg', firmware: 'bios' });
  assert.equal(args.includes('-bios'), false);
  assert.ok(args.includes('file=/d.raw,if=virtio,format=raw,snapshot=on'));
  assert.deepEqual(qemuArgs({ disk: '/d.raw', memoryMiB: 512, vcpus: 1, accel: 'tcg', firmware: OVMF_FIRMWARE }).filter((a) => a !== '-bios' && a !== OVMF_FIRMWARE), args);
});

describe('bootAndWait with SeaBIOS on an empty disk', { skip: missing() }, () => {
  test('SeaBIOS tries the disk and says there is nothing to boot', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-qemu-bios-'));
    try {
      const disk = path.join(dir, 'empty.raw');
      fs.writeFileSync(disk, Buffer.alloc(1024 * 1024));
      const result = await bootAndWait({ disk, memoryMiB: 256, vcpus: 1, accel: 'tcg', firmware: BIOS_FIRMWARE, until: /No bootable device|not a bootable disk/, timeoutMs: 60_000 });
      assert.equal(result.matched, true, result.serialTail);
      assert.match(result.serialTail, /SeaBIOS/);
      assert.ok(gone(result.pid), 'qemu still running');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
