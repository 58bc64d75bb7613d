/**
 * BIOS boot for Kiln's GPT disks with GRUB i386-pc, placed by writing bytes the way grub-bios-setup would
 * (grub-install needs a block device, and this host has no loop partitions): boot.img's code goes into the
 * MBR, core.img into the "BIOS boot" partition, and the two pointers that chain them are patched.
 *
 * Layout facts from GRUB 2.06 (include/grub/i386/pc/boot.h, boot/i386/pc/diskboot.S, util/setup.c):
 * - boot.img: the BPB at 0x03..0x5A is kept from the disk, the kernel sector (u64 LE) is at 0x5C, the boot drive
 *   byte at 0x64 (0xFF: use the drive the BIOS passed in DL), and the floppy-probe jump at 0x66 becomes two NOPs
 *   on hard disks. Code ends at 0x1B8 (440 bytes); the disk signature and partition table stay the disk's.
 * - core.img's first sector is diskboot.img, whose last 12 bytes are the first blocklist
 *   { start u64, len u16, segment u16 }, read backwards; the 12 bytes before it are the terminator.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { KilnError } from '../../domain/errors.js';
import { runTool } from './run-tool.js';

/** "BIOS boot" partition type GUID; GRUB's GPT embedding looks for it. */
export const BIOS_BOOT_TYPE = '21686148-6449-6E6F-744E-656564454649';
export const GRUB_PC_DIR = '/usr/lib/grub/i386-pc';

const SECTOR = 512;
const BPB_START = 0x03;
const BPB_END = 0x5a;
const KERNEL_SECTOR = 0x5c;
const BOOT_DRIVE = 0x64;
const DRIVE_CHECK = 0x66;
/** Boot code stops here: the disk signature (0x1B8) and partition table (0x1BE..0x1FF) are the disk's. */
const MBR_CODE_END = 0x1b8;
const BLOCKLIST_SIZE = 12;
const FIRST_BLOCKLIST = SECTOR - BLOCKLIST_SIZE;
/** diskboot.img loads the rest of core.img to 0x8200 (segment 0x820), right after itself at 0x8000. */
const CORE_SEGMENT = 0x820;
/** setup.c: core.img must end below 0x78000 once loaded at GRUB_KERNEL_I386_PC_LINK_ADDR (0x9000). */
const MAX_CORE_SECTORS = (0x78000 - 0x9000) / SECTOR;
/**
 * What the embedded config needs: BIOS disks, GPT, the ESP's FAT, the Linux loader and `boot`, plus the serial
 * terminal and echo so the console shows what GRUB did. grub-mkimage adds their dependencies.
 */
const MODULES = ['biosdisk', 'part_gpt', 'fat', 'linux', 'boot', 'serial', 'terminal', 'echo'];

export interface GrubBoot {
  /** GPT partition number of the ESP that holds the kernel and initrd (GRUB's `gptN`). */
  espPartition: number;
  /** Absolute paths on the ESP, e.g. /vmlinuz. */
  kernel: string;
  initrd: string;
  /** The kernel command line, as from kernelCommandLine(). */
  cmdline: string;
}

/**
 * The config embedded in core.img. It runs in GRUB's rescue parser (no normal.mod, hence no menu and no
 * timeout): serial console on, then linux, initrd and boot. `root` comes from the prefix `(,gptN)`, which GRUB
 * completes with the drive the BIOS booted from, so a second disk does not confuse it. Each argument is
 * single-quoted so GRUB expands nothing (`$` stays literal); GRUB joins the arguments with single spaces.
 */
export function grubEarlyConfig(boot: GrubBoot): string {
  const args = boot.cmdline.split(' ').filter(Boolean).map((a) => `'${a}'`).join(' ');
  return [
    'serial --unit=0 --speed=115200',
    'terminal_input serial console',
    'terminal_output serial console',
    `echo "kiln-grub: root=($root), loading ${boot.kernel}"`,
    `linux ${boot.kernel} ${args}`,
    `echo "kiln-grub: loading ${boot.initrd}"`,
    `initrd ${boot.initrd}`,
    'echo "kiln-grub: booting"',
    'boot',
    '',
  ].join('\n');
}

async function readGrubFile(name: string): Promise<Buffer> {
  const file = path.join(GRUB_PC_DIR, name);
  try {
    return await fsp.readFile(file);
  } catch {
    throw new KilnError('Unavailable', `${file} is missing; BIOS boot needs GRUB for i386-pc (Debian grub-pc-bin)`);
  }
}

/** Builds core.img for `boot` with grub-mkimage (its config file is written next to `out`); returns its bytes. */
export async function makeCoreImage(out: string, boot: GrubBoot, signal?: AbortSignal): Promise<Buffer> {
  const config = `${out}.cfg`;
  await fsp.writeFile(config, grubEarlyConfig(boot));
  await runTool('grub-mkimage', ['-O', 'i386-pc', '-d', GRUB_PC_DIR, '-o', out, '-p', `(,gpt${boot.espPartition})/`, '-c', config, ...MODULES], { signal });
  return fsp.readFile(out);
}

/** Where core.img goes: the BIOS boot partition's first sector and its size, in 512-byte sectors. */
export interface CoreArea {
  startLba: number;
  sectors: number;
}

export interface Blocklist {
  start: number;
  len: number;
  segment: number;
}

export interface BiosBootInfo {
  /** Where boot.img looks for core.img's first sector. */
  kernelSector: number;
  /** The first blocklist in that sector: where diskboot.img reads the rest of core.img from. */
  blocklist: Blocklist;
}

/**
 * Makes `disk` (a GPT disk file whose protective MBR sfdisk wrote) BIOS-bootable: core.img into `area`, its
 * blocklist pointing at the sectors after its first, and boot.img's code into the MBR pointing at
 * `area.startLba`. Throws InvalidArgument when core.img does not fit `area`, Unavailable when grub-pc-bin's
 * boot.img is missing, Internal when core.img is not a GRUB i386-pc disk image.
 */
export async function installBiosBoot(disk: string, core: Buffer, area: CoreArea, signal?: AbortSignal): Promise<BiosBootInfo> {
  const sectors = Math.ceil(core.length / SECTOR);
  if (sectors < 2 || core.readUInt16LE(FIRST_BLOCKLIST + 10) !== CORE_SEGMENT) {
    throw new KilnError('Internal', `core.img (${core.length} bytes) does not start with GRUB's diskboot.img for i386-pc`);
  }
  if (sectors > Math.min(area.sectors, MAX_CORE_SECTORS)) {
    throw new KilnError('InvalidArgument', `core.img: ${sectors} sectors do not fit the ${area.sectors}-sector BIOS boot partition (GRUB loads at most ${MAX_CORE_SECTORS})`, [{ path: 'core.img', message: 'too large' }]);
  }
  const bootImg = await readGrubFile('boot.img');
  if (bootImg.length !== SECTOR) throw new KilnError('Internal', `${GRUB_PC_DIR}/boot.img is ${bootImg.length} bytes, not ${SECTOR}`);
  if (signal?.aborted) throw new KilnError('Cancelled', 'installBiosBoot: cancelled');

  const blocklist: Blocklist = { start: area.startLba + 1, len: sectors - 1, segment: CORE_SEGMENT };
  const image = Buffer.alloc(sectors * SECTOR);
  core.copy(image);
  image.writeBigUInt64LE(BigInt(blocklist.start), FIRST_BLOCKLIST);
  image.writeUInt16LE(blocklist.len, FIRST_BLOCKLIST + 8);
  image.writeUInt16LE(blocklist.segment, FIRST_BLOCKLIST + 10);
  image.fill(0, FIRST_BLOCKLIST - BLOCKLIST_SIZE, FIRST_BLOCKLIST);

  const handle = await fsp.open(disk, 'r+');
  try {
    const mbr = Buffer.alloc(SECTOR);
    await handle.read(mbr, 0, SECTOR, 0);
    if (mbr.readUInt16LE(0x1fe) !== 0xaa55) throw new KilnError('Internal', `${disk}: sector 0 has no MBR signature; write the partition table first`);
    const code = Buffer.from(bootImg.subarray(0, MBR_CODE_END));
    mbr.copy(code, BPB_START, BPB_START, BPB_END);
    code.writeBigUInt64LE(BigInt(area.startLba), KERNEL_SECTOR);
    code[BOOT_DRIVE] = 0xff;
    code[DRIVE_CHECK] = 0x90;
    code[DRIVE_CHECK + 1] = 0x90;
    await handle.write(image, 0, image.length, area.startLba * SECTOR);
    await handle.write(code, 0, code.length, 0);
  } finally {
    await handle.close();
  }
  return { kernelSector: area.startLba, blocklist };
}

/**
 * Reads back what installBiosBoot wrote: the kernel sector from the MBR and the first blocklist of the sector it
 * names. Undefined when sector 0 carries no GRUB boot code (compared with grub-pc-bin's boot.img past the BPB).
 */
export async function readBiosBoot(disk: string): Promise<BiosBootInfo | undefined> {
  const bootImg = await readGrubFile('boot.img');
  const handle = await fsp.open(disk, 'r');
  try {
    const mbr = Buffer.alloc(SECTOR);
    await handle.read(mbr, 0, SECTOR, 0);
    // The drive check is patched; the rest of the code after it must be boot.img's.
    if (!mbr.subarray(DRIVE_CHECK + 2, MBR_CODE_END).equals(bootImg.subarray(DRIVE_CHECK + 2, MBR_CODE_END))) return undefined;
    const kernelSector = Number(mbr.readBigUInt64LE(KERNEL_SECTOR));
    const first = Buffer.alloc(SECTOR);
    await handle.read(first, 0, SECTOR, kernelSector * SECTOR);
    const blocklist = {
      start: Number(first.readBigUInt64LE(FIRST_BLOCKLIST)),
      len: first.readUInt16LE(FIRST_BLOCKLIST + 8),
      segment: first.readUInt16LE(FIRST_BLOCKLIST + 10),
    };
    return { kernelSector, blocklist };
  } finally {
    await handle.close();
  }
}
