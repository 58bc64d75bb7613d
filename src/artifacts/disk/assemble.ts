/**
 * Assembles a GPT raw disk that boots under both UEFI and BIOS from a root filesystem directory without loop
 * devices or mounts (this host has no vfat module and no loop partitions; machine.md §4): the ESP is a FAT image
 * filled with mtools and copied in; the root partition is written by `mkfs.ext4 -d` straight into the disk at its
 * offset; GRUB i386-pc is placed byte by byte in the MBR and a BIOS boot partition (bios-boot.ts).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { KilnError } from '../../domain/errors.js';
import { BIOS_BOOT_TYPE, installBiosBoot, makeCoreImage } from './bios-boot.js';
import { kernelCommandLine } from './kernel-cmdline.js';
import { runTool } from './run-tool.js';

/** The root partition's PARTUUID unless told otherwise; fixed so the loader entry never needs the disk. */
export const DEFAULT_ROOT_PART_UUID = '6b1e7b5e-3b9c-4a47-9c1f-1f0c2a5d8e01';
const SYSTEMD_BOOT = '/usr/lib/systemd/boot/efi/systemd-bootx64.efi';
const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
/** Where both loaders find the kernel and initrd on the ESP. */
const ESP_KERNEL = '/vmlinuz';
const ESP_INITRD = '/initrd.img';
/** "Linux root (x86-64)" from the Discoverable Partitions Specification. */
export const ROOT_TYPE = '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709';
const SECTOR = 512;
const MIB = 1024 * 1024;
/** FAT32 needs about 65525 clusters; below this mkfs.fat makes a volume firmware may refuse. */
const MIN_ESP_MIB = 40;
/** GRUB's core.img is about 140 KiB; 1 MiB is the usual size and keeps the ESP aligned. */
const BIOS_BOOT_MIB = 1;
/**
 * 1 MiB before the first partition (protective MBR, GPT, alignment), the BIOS boot partition and 1 MiB at the
 * end (backup GPT).
 */
const FIXED_MIB = 2 + BIOS_BOOT_MIB;
/** GPT partition numbers, in disk order. GRUB names the ESP `gpt2`. */
export const BIOS_BOOT_PARTITION_NUMBER = 1;
export const ESP_PARTITION_NUMBER = 2;
export const ROOT_PARTITION_NUMBER = 3;

export interface AssembleOptions {
  /** Root filesystem directory; must hold /boot/vmlinuz-* and the matching /boot/initrd.img-*. */
  rootfs: string;
  /** Where the raw disk is written; replaced only when the whole disk is ready. */
  out: string;
  /** Whole disk size. */
  sizeMiB: number;
  /** EFI system partition size; default 128. */
  espMiB?: number;
  /** Kernel arguments after root= and console=, for both loaders; no quotes, backslashes or control characters. */
  extraKernelArgs?: string;
  rootPartUuid?: string;
  signal?: AbortSignal;
}

export interface AssembledDisk {
  path: string;
  sizeBytes: number;
  rootPartUuid: string;
  kernelVersion: string;
  /** Where the root ext4 (partition ROOT_PARTITION_NUMBER) lies in the disk file, for reading it in place. */
  rootOffsetBytes: number;
  rootSizeBytes: number;
}

/** Compares Debian kernel versions well enough to pick the newest of a few (6.1.0-28 after 6.1.0-9). */
function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** The newest kernel in rootfs/boot that has an initrd, or an InvalidArgument naming `rootfs`. */
export async function findKernel(rootfs: string): Promise<{ version: string; kernel: string; initrd: string }> {
  const boot = path.join(rootfs, 'boot');
  let names: string[];
  try {
    names = await fsp.readdir(boot);
  } catch {
    throw new KilnError('InvalidArgument', `rootfs: ${boot} does not exist; the root filesystem has no kernel`, [{ path: 'rootfs', message: 'no /boot' }]);
  }
  const versions = names
    .filter((n) => n.startsWith('vmlinuz-') && names.includes(`initrd.img-${n.slice('vmlinuz-'.length)}`))
    .map((n) => n.slice('vmlinuz-'.length))
    .sort(compareVersions);
  const version = versions.at(-1);
  if (!version) {
    throw new KilnError('InvalidArgument', `rootfs: no /boot/vmlinuz-* with a matching /boot/initrd.img-* in ${rootfs}`, [{ path: 'rootfs', message: 'no kernel with an initrd' }]);
  }
  return { version, kernel: path.join(boot, `vmlinuz-${version}`), initrd: path.join(boot, `initrd.img-${version}`) };
}

function checkSizes(sizeMiB: number, espMiB: number): void {
  const bad = (field: string, message: string) => new KilnError('InvalidArgument', `${field}: ${message}`, [{ path: field, message }]);
  if (!Number.isInteger(espMiB) || espMiB < MIN_ESP_MIB) throw bad('espMiB', `must be an integer of at least ${MIN_ESP_MIB}, got ${espMiB}`);
  if (!Number.isInteger(sizeMiB) || sizeMiB < espMiB + FIXED_MIB + 16) {
    throw bad('sizeMiB', `must be an integer of at least ${espMiB + FIXED_MIB + 16} (ESP ${espMiB} MiB + GPT and BIOS boot ${FIXED_MIB} MiB + a 16 MiB root), got ${sizeMiB}`);
  }
}

/** The FAT image for the ESP: systemd-boot as the removable-media loader, the kernel, initrd and one entry. */
async function buildEsp(file: string, espMiB: number, kernel: { kernel: string; initrd: string }, options: string, signal?: AbortSignal): Promise<void> {
  const dir = path.dirname(file);
  await fsp.writeFile(path.join(dir, 'loader.conf'), 'default kiln.conf\ntimeout 0\nconsole-mode keep\n');
  await fsp.writeFile(path.join(dir, 'kiln.conf'), `title Kiln\nlinux ${ESP_KERNEL}\ninitrd ${ESP_INITRD}\noptions ${options}\n`);
  await runTool('mkfs.fat', ['-F', '32', '-n', 'ESP', '-C', file, String(espMiB * 1024)], { signal });
  const m = (tool: string, ...args: string[]) => runTool(tool, ['-i', file, ...args], { signal });
  await m('mmd', '::/EFI', '::/EFI/BOOT', '::/loader', '::/loader/entries');
  await m('mcopy', SYSTEMD_BOOT, '::/EFI/BOOT/BOOTX64.EFI');
  await m('mcopy', kernel.kernel, `::${ESP_KERNEL}`);
  await m('mcopy', kernel.initrd, `::${ESP_INITRD}`);
  await m('mcopy', path.join(dir, 'loader.conf'), '::/loader/loader.conf');
  await m('mcopy', path.join(dir, 'kiln.conf'), '::/loader/entries/kiln.conf');
}

/** mkfs.ext4 says this in several ways when the content does not fit. */
const NO_SPACE = /could not allocate|no space left|not enough space|too many|ext2_file_write|populat/i;

/**
 * Builds the disk at `out`: GPT with a 1 MiB BIOS boot partition (GRUB's core.img, 1 MiB onward), the ESP
 * (systemd-boot, kernel, initrd) and a root ext4 partition (the rest, number ROOT_PARTITION_NUMBER, PARTUUID
 * `rootPartUuid`). UEFI boots systemd-boot from the ESP; BIOS boots GRUB from the MBR, which loads the same kernel
 * and initrd from the ESP; both pass kernelCommandLine(). Temporary files live next to `out` and are removed
 * on success, failure and abort; `out` is left untouched unless the disk is complete. Needs read access to the
 * whole rootfs (root for a Debian rootfs) but no privileges beyond that.
 */
export async function assembleDisk(options: AssembleOptions): Promise<AssembledDisk> {
  const { rootfs, out, sizeMiB, espMiB = 128, signal, rootPartUuid = DEFAULT_ROOT_PART_UUID } = options;
  checkSizes(sizeMiB, espMiB);
  const cmdline = kernelCommandLine(rootPartUuid, options.extraKernelArgs);
  const st = await fsp.stat(rootfs).catch(() => undefined);
  if (!st?.isDirectory()) throw new KilnError('InvalidArgument', `rootfs: ${rootfs} is not a directory`, [{ path: 'rootfs', message: 'not a directory' }]);
  const kernel = await findKernel(rootfs);

  const work = await fsp.mkdtemp(path.join(path.dirname(path.resolve(out)), '.kiln-disk-'));
  try {
    const disk = path.join(work, 'disk.raw');
    const biosStart = MIB / SECTOR;
    const biosSectors = (BIOS_BOOT_MIB * MIB) / SECTOR;
    const espStart = biosStart + biosSectors;
    const espSectors = (espMiB * MIB) / SECTOR;
    const rootStart = espStart + espSectors;
    const rootMiB = sizeMiB - espMiB - FIXED_MIB;
    await fsp.writeFile(disk, '');
    await fsp.truncate(disk, sizeMiB * MIB);
    // Listed in partition-number order: BIOS_BOOT_PARTITION_NUMBER, ESP_PARTITION_NUMBER, ROOT_PARTITION_NUMBER.
    const table = [
      'label: gpt',
      `start=${biosStart}, size=${biosSectors}, type=${BIOS_BOOT_TYPE}, name="bios-boot"`,
      `start=${espStart}, size=${espSectors}, type=${ESP_TYPE}, name="esp"`,
      `start=${rootStart}, size=${(rootMiB * MIB) / SECTOR}, type=${ROOT_TYPE}, uuid=${rootPartUuid}, name="root"`,
    ].join('\n');
    await runTool('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', disk], { input: `${table}\n`, signal });

    try {
      // Writing at the partition's offset spares a second copy of the root filesystem and the dd.
      await runTool('mkfs.ext4', ['-q', '-F', '-L', 'root', '-E', `offset=${rootStart * SECTOR},nodiscard`, '-d', rootfs, disk, `${rootMiB}M`], { signal });
    } catch (err) {
      if (err instanceof KilnError && err.kind === 'Internal' && NO_SPACE.test(err.message)) {
        throw new KilnError('InvalidArgument', `sizeMiB: ${sizeMiB} MiB leaves a ${rootMiB} MiB root partition, too small for ${rootfs}`, [{ path: 'sizeMiB', message: 'too small for the root filesystem' }], { cause: err });
      }
      throw err;
    }

    const esp = path.join(work, 'esp.img');
    try {
      await buildEsp(esp, espMiB, kernel, cmdline, signal);
    } catch (err) {
      if (err instanceof KilnError && err.kind === 'Internal' && /disk full|no free/i.test(err.message)) {
        throw new KilnError('InvalidArgument', `espMiB: ${espMiB} MiB is too small for systemd-boot, the kernel and the initrd`, [{ path: 'espMiB', message: 'too small for the boot files' }], { cause: err });
      }
      throw err;
    }
    await runTool('dd', [`if=${esp}`, `of=${disk}`, 'bs=1M', `seek=${espStart * SECTOR}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none'], { signal });

    const core = await makeCoreImage(path.join(work, 'core.img'), { espPartition: ESP_PARTITION_NUMBER, kernel: ESP_KERNEL, initrd: ESP_INITRD, cmdline }, signal);
    await installBiosBoot(disk, core, { startLba: biosStart, sectors: biosSectors }, signal);
    if (signal?.aborted) throw new KilnError('Cancelled', `assembleDisk: cancelled before ${out} was written`);
    await fsp.rename(disk, out);
    return {
      path: out,
      sizeBytes: sizeMiB * MIB,
      rootPartUuid,
      kernelVersion: kernel.version,
      rootOffsetBytes: rootStart * SECTOR,
      rootSizeBytes: rootMiB * MIB,
    };
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}
