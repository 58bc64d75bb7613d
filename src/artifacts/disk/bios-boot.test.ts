import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isKilnError } from '../../domain/errors.js';
import { bootAndWait } from '../../drivers/vm/qemu.js';
import { assembleDisk } from './assemble.js';
import { GRUB_PC_DIR, grubEarlyConfig, installBiosBoot, makeCoreImage, readBiosBoot, type GrubBoot } from './bios-boot.js';

const BOOT: GrubBoot = { espPartition: 2, kernel: '/vmlinuz', initrd: '/initrd.img', cmdline: 'root=PARTUUID=x rw console=ttyS0 a=$b' };

function missing(tools: string[]): string | false {
  for (const tool of tools) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs ${tool}`;
    }
  }
  return fs.existsSync(path.join(GRUB_PC_DIR, 'boot.img')) ? false : 'needs grub-pc-bin';
}

test('the embedded config: serial console, then linux with each argument single-quoted, initrd and boot', () => {
  const lines = grubEarlyConfig(BOOT).split('\n');
  assert.ok(lines.indexOf('terminal_output serial console') < lines.findIndex((l) => l.startsWith('linux ')));
  assert.ok(lines.includes("linux /vmlinuz 'root=PARTUUID=x' 'rw' 'console=ttyS0' 'a=$b'"), lines.join('\n'));
  assert.ok(lines.includes('initrd /initrd.img'));
  assert.equal(lines.filter(Boolean).at(-1), 'boot');
});

describe('installBiosBoot', { skip: missing(['sfdisk', 'grub-mkimage']) }, () => {
  let dir = '';
  let core: Buffer;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bios-'));
    core = await makeCoreImage(path.join(dir, 'core.img'), BOOT);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A 4 MiB GPT disk with a BIOS boot partition at 1 MiB, as sfdisk writes it. */
  function gptDisk(name: string): string {
    const disk = path.join(dir, name);
    fs.writeFileSync(disk, '');
    fs.truncateSync(disk, 4 * 1024 * 1024);
    execFileSync('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', disk], { input: 'label: gpt\nstart=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649\n' });
    return disk;
  }
  const sector = (disk: string, lba: number, count = 1) => fs.readFileSync(disk).subarray(lba * 512, (lba + count) * 512);

  test('boot.img code into the MBR around its table, core.img into the partition, both pointers patched', async () => {
    const disk = gptDisk('ok.raw');
    const before0 = sector(disk, 0);
    const gptBefore = sector(disk, 1, 33);
    assert.equal(await readBiosBoot(disk), undefined, 'no GRUB before');
    const info = await installBiosBoot(disk, core, { startLba: 2048, sectors: 2048 });
    const sectors = Math.ceil(core.length / 512);
    assert.deepEqual(info, { kernelSector: 2048, blocklist: { start: 2049, len: sectors - 1, segment: 0x820 } });
    assert.deepEqual(await readBiosBoot(disk), info);

    const mbr = sector(disk, 0);
    assert.deepEqual(mbr.subarray(0x1b8), before0.subarray(0x1b8), 'disk signature, partition table and 55AA unchanged');
    assert.deepEqual(mbr.subarray(0x03, 0x5a), before0.subarray(0x03, 0x5a), 'BPB area kept from the disk');
    assert.equal(mbr.readBigUInt64LE(0x5c), 2048n);
    assert.equal(mbr[0x64], 0xff);
    assert.deepEqual(sector(disk, 1, 33), gptBefore, 'GPT header and entries untouched');

    const written = sector(disk, 2048, sectors);
    assert.deepEqual(written.subarray(512), Buffer.concat([core.subarray(512), Buffer.alloc(sectors * 512 - core.length)]), 'core.img after its first sector as built');
    assert.deepEqual(written.subarray(488, 500), Buffer.alloc(12), 'second blocklist is the terminator');
  });

  test('a core.img larger than the partition, or not GRUB\'s, is refused and nothing is written', async () => {
    const disk = gptDisk('small.raw');
    const pristine = fs.readFileSync(disk);
    await assert.rejects(installBiosBoot(disk, core, { startLba: 2048, sectors: 16 }), (e) => isKilnError(e, 'InvalidArgument') && e.issues[0]?.path === 'core.img');
    await assert.rejects(installBiosBoot(disk, Buffer.alloc(4096, 1), { startLba: 2048, sectors: 2048 }), (e) => isKilnError(e, 'Internal') && /diskboot/.test(e.message));
    assert.ok(fs.readFileSync(disk).equals(pristine));
  });
});

// SeaBIOS → boot.img → core.img → embedded config, on a disk whose "kernel" is text: GRUB names its root
// device, finds /vmlinuz on the ESP and refuses it. Seconds under TCG, no rootfs from the mirror needed.
describe('a Kiln disk under SeaBIOS', { skip: missing(['sfdisk', 'grub-mkimage', 'mkfs.fat', 'mcopy', 'qemu-system-x86_64']) }, () => {
  let dir = '';
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bios-boot-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('GRUB runs its embedded config with root (hd0,gpt2) and reads the kernel from the ESP', async () => {
    const rootfs = path.join(dir, 'root');
    fs.mkdirSync(path.join(rootfs, 'boot'), { recursive: true });
    fs.writeFileSync(path.join(rootfs, 'boot/vmlinuz-1'), 'not a kernel');
    fs.writeFileSync(path.join(rootfs, 'boot/initrd.img-1'), 'not an initrd');
    const disk = await assembleDisk({ rootfs, out: path.join(dir, 'disk.raw'), sizeMiB: 64, espMiB: 40 });
    const result = await bootAndWait({ disk: disk.path, memoryMiB: 256, vcpus: 1, accel: 'tcg', firmware: 'bios', until: /error: you need to load the kernel first/, timeoutMs: 60_000 });
    assert.equal(result.matched, true, result.serialTail);
    assert.match(result.serialTail, /kiln-grub: root=\(hd0,gpt2\), loading \/vmlinuz/);
    // Read and refused (too short for a bzImage), so GRUB found it on the FAT ESP.
    assert.match(result.serialTail, /premature end of file \/vmlinuz|invalid magic number/);
  });
});
