// End to end: a Debian rootfs from the mirror → a GPT disk assembled without mounts → the same disk booted under
// QEMU with OVMF (systemd-boot) and with SeaBIOS (GRUB i386-pc), each by its own bootloader with no injected kernel
// → the marker unit's line on the serial console → qcow2.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { assembleDisk } from '../../artifacts/disk/assemble.js';
import { convertDisk } from '../../artifacts/disk/convert.js';
import { runTool } from '../../artifacts/disk/run-tool.js';
import { detectAccel } from './accel.js';
import { BIOS_FIRMWARE, bootAndWait, OVMF_FIRMWARE, type Firmware } from './qemu.js';

const MIRROR = process.env.KILN_TEST_MIRROR ?? 'http://deb.debian.org/debian';
const MARKER = 'KILN-BOOT-OK';

const MARKER_UNIT = `[Unit]
Description=Kiln boot marker
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo ${MARKER} > /dev/ttyS0'
ExecStartPost=/bin/systemctl poweroff --no-block

[Install]
WantedBy=multi-user.target
`;

async function whyNot(): Promise<string | false> {
  if (process.getuid?.() !== 0) return 'needs root (mmdebstrap and a root-owned rootfs)';
  for (const tool of ['mmdebstrap', 'qemu-system-x86_64', 'qemu-img', 'sfdisk', 'mkfs.ext4', 'mkfs.fat', 'mcopy']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs ${tool}`;
    }
  }
  if (!fs.existsSync(OVMF_FIRMWARE)) return `needs ${OVMF_FIRMWARE} (ovmf)`;
  try {
    const res = await fetch(`${MIRROR}/dists/bookworm/Release`, { method: 'HEAD', signal: AbortSignal.timeout(10_000) });
    if (!res.ok) return `needs the Debian mirror: ${MIRROR} answered ${res.status}`;
  } catch (err) {
    return `needs the network: ${MIRROR} is unreachable (${(err as Error).message})`;
  }
  return false;
}

const skip = await whyNot();
let scratch = '';
before(() => {
  if (!skip) scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-vm-boot-'));
});
// The rootfs is root-owned; this runs as root (or skipped), so a plain recursive rm removes it.
after(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

test('a disk assembled from an mmdebstrap rootfs boots under QEMU with OVMF and with SeaBIOS and converts to qcow2', { skip, timeout: 15 * 60_000 }, async (t) => {
  const signal = AbortSignal.timeout(14 * 60_000);
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const start = Date.now();
    try {
      return await fn();
    } finally {
      timings[name] = Date.now() - start;
    }
  };

  const rootfs = path.join(scratch, 'rootfs');
  await timed('mmdebstrap', () =>
    runTool('mmdebstrap', [
      '--quiet', '--variant=minbase', '--include=linux-image-cloud-amd64,systemd-sysv,udev,initramfs-tools',
      // MODULES=dep keeps the initrd small (13 MB instead of 36 MB, machine.md §4).
      `--customize-hook=echo MODULES=dep > "$1"/etc/initramfs-tools/conf.d/dep`,
      'bookworm', rootfs, MIRROR,
    ], { signal }),
  );
  fs.writeFileSync(path.join(rootfs, 'etc/systemd/system/kiln-boot-ok.service'), MARKER_UNIT);
  fs.mkdirSync(path.join(rootfs, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
  fs.symlinkSync('/etc/systemd/system/kiln-boot-ok.service', path.join(rootfs, 'etc/systemd/system/multi-user.target.wants/kiln-boot-ok.service'));

  const raw = path.join(scratch, 'disk.raw');
  const disk = await timed('assemble', () => assembleDisk({ rootfs, out: raw, sizeMiB: 1024, signal }));
  assert.match(disk.kernelVersion, /cloud-amd64/);
  const before = fs.statSync(raw);

  const accel = detectAccel();
  t.diagnostic(`accel ${accel.accel}: ${accel.reason}`);
  // One disk, two firmwares, one after the other (with 2 vCPUs, one TCG VM at a time).
  const boots: [string, Firmware][] = [['uefi', OVMF_FIRMWARE], ['bios', BIOS_FIRMWARE]];
  for (const [name, firmware] of boots) {
    const boot = await timed(`boot-${name}`, () =>
      bootAndWait({ disk: raw, memoryMiB: 1024, vcpus: 2, accel: accel.accel, firmware, until: new RegExp(MARKER), timeoutMs: 240_000, signal }),
    );
    assert.equal(boot.matched, true, `${name}: no ${MARKER} (${boot.ended} after ${boot.ms} ms); console tail:\n${boot.serialTail}`);
    const afterBoot = fs.statSync(raw);
    assert.deepEqual([afterBoot.size, afterBoot.mtimeMs], [before.size, before.mtimeMs], `${name}: snapshot=on must leave the disk unchanged`);
    assert.throws(() => process.kill(boot.pid!, 0), /ESRCH/);
  }

  const qcow2 = path.join(scratch, 'disk.qcow2');
  await timed('qcow2', () => convertDisk(raw, qcow2, 'qcow2', signal));
  execFileSync('qemu-img', ['check', '-q', qcow2]);
  execFileSync('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'qcow2', raw, qcow2]);

  t.diagnostic(`timings ms: ${JSON.stringify(timings)}; raw ${(fs.statSync(raw).blocks * 512 / 1e6).toFixed(0)} MB allocated, qcow2 ${(fs.statSync(qcow2).size / 1e6).toFixed(0)} MB`);
});
