import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isKilnError } from '../../domain/errors.js';
import { assembleDisk, DEFAULT_ROOT_PART_UUID, findKernel, ROOT_PARTITION_NUMBER } from './assemble.js';
import { GRUB_PC_DIR, readBiosBoot } from './bios-boot.js';

function missingTool(): string | false {
  for (const tool of ['sfdisk', 'mkfs.ext4', 'mkfs.fat', 'mcopy', 'e2fsck', 'debugfs', 'grub-mkimage']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs ${tool}`;
    }
  }
  if (!fs.existsSync(path.join(GRUB_PC_DIR, 'boot.img'))) return 'needs grub-pc-bin';
  return fs.existsSync('/usr/lib/systemd/boot/efi/systemd-bootx64.efi') ? false : 'needs systemd-boot-efi';
}

/** A fake root: the boot files are placeholders, enough to check layout without booting. */
function fakeRootfs(dir: string, files: Record<string, string | Buffer>): string {
  const root = path.join(dir, `root-${Math.random().toString(16).slice(2)}`);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), content);
  }
  return root;
}

describe('assembleDisk', { skip: missingTool() }, () => {
  let dir = '';
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-assemble-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const leftovers = () => fs.readdirSync(dir).filter((n) => n.startsWith('.kiln-disk-'));

  test('GPT with BIOS boot, the ESP (systemd-boot, kernel, initrd, entry) and the root ext4 at its offset', async () => {
    const rootfs = fakeRootfs(dir, {
      'boot/vmlinuz-6.1.0-9-amd64': 'old kernel',
      'boot/initrd.img-6.1.0-9-amd64': 'old initrd',
      'boot/vmlinuz-6.1.0-28-amd64': 'new kernel',
      'boot/initrd.img-6.1.0-28-amd64': 'new initrd',
      'boot/vmlinuz-7.0-no-initrd': 'ignored',
      'etc/hostname': 'kiln\n',
    });
    const out = path.join(dir, 'disk.raw');
    const disk = await assembleDisk({ rootfs, out, sizeMiB: 200, espMiB: 64, extraKernelArgs: ' quiet  loglevel=3 ' });
    const rootStart = 2048 + 2048 + 64 * 2048;
    assert.deepEqual(disk, {
      path: out,
      sizeBytes: 200 * 1024 * 1024,
      rootPartUuid: DEFAULT_ROOT_PART_UUID,
      kernelVersion: '6.1.0-28-amd64',
      rootOffsetBytes: rootStart * 512,
      rootSizeBytes: (200 - 64 - 3) * 1024 * 1024,
    });
    assert.equal(fs.statSync(out).size, 200 * 1024 * 1024);

    const table = JSON.parse(execFileSync('sfdisk', ['--json', out], { encoding: 'utf8' })) as { partitiontable: { label: string; partitions: { node: string; start: number; size: number; type: string; uuid: string }[] } };
    assert.equal(table.partitiontable.label, 'gpt');
    assert.equal(table.partitiontable.partitions.length, 3);
    const [bios, esp, root] = table.partitiontable.partitions;
    assert.deepEqual([bios?.start, bios?.size, bios?.type], [2048, 2048, '21686148-6449-6E6F-744E-656564454649']);
    assert.deepEqual([esp?.start, esp?.size, esp?.type], [4096, 64 * 2048, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B']);
    assert.deepEqual([root?.start, root?.size, root?.type, root?.uuid.toLowerCase()], [rootStart, disk.rootSizeBytes / 512, '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709', DEFAULT_ROOT_PART_UUID]);
    assert.ok(root?.node.endsWith(String(ROOT_PARTITION_NUMBER)), root?.node);

    // MBR: GRUB's boot code pointing at core.img in the BIOS boot partition, sfdisk's protective entry intact.
    const sector0 = Buffer.alloc(512);
    const fd = fs.openSync(out, 'r');
    fs.readSync(fd, sector0, 0, 512, 0);
    fs.closeSync(fd);
    const bootImg = fs.readFileSync(path.join(GRUB_PC_DIR, 'boot.img'));
    assert.deepEqual(sector0.subarray(0x68, 0x1b8), bootImg.subarray(0x68, 0x1b8), 'boot.img code after the drive check');
    assert.deepEqual([sector0[0x66], sector0[0x67]], [0x90, 0x90], 'floppy probe jump replaced with NOPs');
    assert.equal(sector0[0x1c2], 0xee, 'protective MBR entry (type EE) kept');
    assert.equal(sector0.readUInt32LE(0x1c6), 1, 'protective entry starts at LBA 1');
    assert.equal(sector0.readUInt16LE(0x1fe), 0xaa55);
    const bootInfo = await readBiosBoot(out);
    assert.ok(bootInfo);
    assert.equal(bootInfo.kernelSector, 2048);
    assert.equal(bootInfo.blocklist.start, 2049);
    assert.equal(bootInfo.blocklist.segment, 0x820);
    assert.ok(bootInfo.blocklist.len > 100 && bootInfo.blocklist.len + 1 <= 2048, `core.img of ${bootInfo.blocklist.len + 1} sectors`);
    // core.img (diskboot.img, then the compressed kernel with the embedded config) fills the BIOS boot partition.
    const core = execFileSync('dd', [`if=${out}`, 'bs=512', 'skip=2048', `count=${bootInfo.blocklist.len + 1}`, 'status=none']);
    assert.equal(core.subarray(0, 0x1f4).equals(fs.readFileSync(path.join(GRUB_PC_DIR, 'diskboot.img')).subarray(0, 0x1f4)), true, 'diskboot.img heads core.img');

    const mtype = (file: string) => execFileSync('mtype', ['-i', `${out}@@2M`, file], { encoding: 'utf8' });
    const entry = mtype('::/loader/entries/kiln.conf');
    assert.match(entry, new RegExp(`options root=PARTUUID=${DEFAULT_ROOT_PART_UUID} rw console=ttyS0 quiet loglevel=3\n`));
    assert.equal(mtype('::/vmlinuz'), 'new kernel');
    assert.equal(mtype('::/initrd.img'), 'new initrd');
    const loader = execFileSync('mdir', ['-b', '-i', `${out}@@2M`, '::/EFI/BOOT'], { encoding: 'utf8' });
    assert.match(loader, /BOOTX64\.EFI/);

    // The root partition, cut out, is a clean ext4 holding the rootfs.
    const part = path.join(dir, 'root.img');
    execFileSync('dd', [`if=${out}`, `of=${part}`, 'bs=512', `skip=${root!.start}`, `count=${root!.size}`, 'status=none']);
    execFileSync('e2fsck', ['-fn', part], { stdio: 'ignore' });
    assert.equal(execFileSync('debugfs', ['-R', 'cat /etc/hostname', part], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }), 'kiln\n');
    fs.rmSync(part);
    assert.deepEqual(leftovers(), []);
  });

  test('a rootfs without a kernel is refused, naming rootfs', async () => {
    const rootfs = fakeRootfs(dir, { 'etc/hostname': 'x' });
    await assert.rejects(assembleDisk({ rootfs, out: path.join(dir, 'nokernel.raw'), sizeMiB: 200 }), (e) => isKilnError(e, 'InvalidArgument') && e.issues[0]?.path === 'rootfs');
    await assert.rejects(findKernel(fakeRootfs(dir, { 'boot/vmlinuz-1': 'k' })), (e) => isKilnError(e, 'InvalidArgument') && /initrd/.test(e.message));
    await assert.rejects(assembleDisk({ rootfs: path.join(dir, 'none'), out: path.join(dir, 'x.raw'), sizeMiB: 200 }), (e) => isKilnError(e, 'InvalidArgument') && e.issues[0]?.path === 'rootfs');
  });

  test('sizes that cannot work are refused, naming the field, and leave nothing behind', async () => {
    const rootfs = fakeRootfs(dir, { 'boot/vmlinuz-1': 'k', 'boot/initrd.img-1': 'i', 'big.bin': Buffer.alloc(40 * 1024 * 1024, 1) });
    const out = path.join(dir, 'small.raw');
    await assert.rejects(assembleDisk({ rootfs, out, sizeMiB: 64 + 3 + 20, espMiB: 64 }), (e) => isKilnError(e, 'InvalidArgument') && e.issues[0]?.path === 'sizeMiB');
    await assert.rejects(assembleDisk({ rootfs, out, sizeMiB: 50, espMiB: 40 }), (e) => isKilnError(e, 'InvalidArgument') && e.issues[0]?.path === 'sizeMiB');
    await assert.rejects(assembleDisk({ rootfs, out, sizeMiB: 500, espMiB: 8 }), (e) => isKilnError(e, 'InvalidArgument') && e.issues[0]?.path === 'espMiB');
    const hugeKernel = fakeRootfs(dir, { 'boot/vmlinuz-1': Buffer.alloc(45 * 1024 * 1024, 1), 'boot/initrd.img-1': 'i' });
    await assert.rejects(assembleDisk({ rootfs: hugeKernel, out, sizeMiB: 200, espMiB: 40 }), (e) => isKilnError(e, 'InvalidArgument') && e.issues[0]?.path === 'espMiB');
    await assert.rejects(assembleDisk({ rootfs, out, sizeMiB: 200, extraKernelArgs: 'init="/bin/sh"' }), (e) => isKilnError(e, 'InvalidArgument') && e.issues[0]?.path === 'extraKernelArgs');
    await assert.rejects(assembleDisk({ rootfs, out, sizeMiB: 200, rootPartUuid: 'not-a-uuid' }), (e) => isKilnError(e, 'InvalidArgument') && e.issues[0]?.path === 'rootPartUuid');
    assert.equal(fs.existsSync(out), false);
    assert.deepEqual(leftovers(), []);
  });

  test('abort rejects with Cancelled and removes the work files', async () => {
    const rootfs = fakeRootfs(dir, { 'boot/vmlinuz-1': 'k', 'boot/initrd.img-1': 'i' });
    const controller = new AbortController();
    const pending = assembleDisk({ rootfs, out: path.join(dir, 'aborted.raw'), sizeMiB: 300, signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(pending, (e) => isKilnError(e, 'Cancelled'));
    assert.equal(fs.existsSync(path.join(dir, 'aborted.raw')), false);
    assert.deepEqual(leftovers(), []);
  });
});
