/**
 * Turns a machine image's root filesystem, a stack of overlay layers, into its bootable disk: the layers are
 * merged by a read-only overlay mount under the engine's work folder (swept at start-up if Kiln dies meanwhile),
 * the disk is assembled from the merged view without further mounts, and stored by content.
 */
import { execFile } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { assembleDisk, DEFAULT_ROOT_PART_UUID, ROOT_TYPE } from '../../artifacts/disk/assemble.js';
import type { BlobStore } from '../../artifacts/blob-store.js';
import { importBaseRootfs } from '../../artifacts/oci/base-rootfs.js';
import { MEDIA_TYPE_MANIFEST, writeImage } from '../../artifacts/oci/image.js';
import type { ContainerImageRef } from '../stages/image-record.js';
import type { DiskStore, StoredDisk } from '../../artifacts/disk/disk-store.js';
import { KilnError } from '../../domain/errors.js';
import { mountsUnder, umountLazy } from '../../drivers/ns/host-mounts.js';
import type { InstalledPackage } from '../bases/dpkg-status.js';
import { listedPackages, type ImageInventory } from '../../domain/package-inventory.js';
import { inventoryOfLayers } from '../stages/image-inventory.js';
import { KERNEL_CMDLINE_FILE } from '../bases/machine-root.js';

const run = promisify(execFile);
const MIB = 1024 * 1024;
/** The ESP, the BIOS boot partition and GPT headers, with room to spare. */
const DISK_OVERHEAD_MIB = 256;
const MIN_DISK_MIB = 2048;

/** A machine image's disk as recorded on the image and its machine images. */
export interface MachineDisk extends StoredDisk {
  format: 'raw';
  rootPartUuid: string;
  kernelVersion: string;
}

export interface DiskFromLayersOptions {
  /** Lower directories, top first (the ns driver's form: whiteouts as 0/0 devices, opaque by xattr). */
  layers: readonly string[];
  disks: DiskStore;
  /** A folder for this assembly alone, on the disk store's filesystem; removed afterwards. */
  workDir: string;
  /** Whole-disk size; by default the content with room to grow, at least 2 GiB. */
  sizeMiB?: number;
  signal?: AbortSignal;
  log?: (text: string) => void;
}

/** A stored disk and what its root filesystem holds (packages as ListImagePackages lists them). */
export interface AssembledRoot {
  disk: MachineDisk;
  inventory: ImageInventory;
  packages: InstalledPackage[];
}

/** Default disk size for `bytes` of content: half again for ext4 metadata and growth, rounded up to 256 MiB. */
export function defaultDiskMiB(bytes: number): number {
  const wanted = Math.ceil((bytes * 1.5) / MIB) + DISK_OVERHEAD_MIB;
  return Math.max(MIN_DISK_MIB, Math.ceil(wanted / 256) * 256);
}

async function usedBytes(dir: string, signal?: AbortSignal): Promise<number> {
  const { stdout } = await run('du', ['-s', '-B1', '-x', dir], { signal, maxBuffer: 1024 * 1024 });
  return Number(stdout.split(/\s/)[0]);
}

/**
 * Assembles and stores the disk of the root filesystem `layers` make; returns it with the packages installed
 * in it (from dpkg's status; empty for a root without dpkg). InvalidArgument when the root has no kernel or
 * does not fit `sizeMiB`.
 */
export async function diskFromLayers(options: DiskFromLayersOptions): Promise<AssembledRoot> {
  const { layers, workDir, signal, log } = options;
  if (layers.length === 0) throw new KilnError('Internal', 'diskFromLayers: no layers');
  await fsp.rm(workDir, { recursive: true, force: true });
  await fsp.mkdir(workDir, { recursive: true, mode: 0o700 });
  const merged = path.join(workDir, 'root');
  let root = layers[0]!;
  try {
    if (layers.length > 1) {
      await fsp.mkdir(merged);
      const options = `ro,lowerdir=${layers.join(':')}`;
      if (options.length > 4000) throw new KilnError('InvalidArgument', `the image has ${layers.length} layers, too many to merge into a disk`);
      await run('mount', ['-t', 'overlay', 'kiln-disk', '-o', options, merged], { signal });
      root = merged;
    }
    const inventory = await inventoryOfLayers([root]);
    const cmdline = (await fsp.readFile(path.join(root, KERNEL_CMDLINE_FILE), 'utf8').catch(() => '')).trim().replace(/\s+/g, ' ');
    const sizeMiB = options.sizeMiB ?? defaultDiskMiB(await usedBytes(root, signal));
    const t0 = Date.now();
    const assembled = await assembleDisk({ rootfs: root, out: path.join(workDir, 'disk.raw'), sizeMiB, rootPartUuid: DEFAULT_ROOT_PART_UUID, ...(cmdline ? { extraKernelArgs: cmdline } : {}), ...(signal ? { signal } : {}) }).catch((err: unknown) => {
      if (err instanceof KilnError && err.issues?.some((i) => i.path === 'extraKernelArgs')) {
        throw new KilnError('InvalidArgument', `/${KERNEL_CMDLINE_FILE} in the image: ${err.message}`, [{ path: `/${KERNEL_CMDLINE_FILE}`, message: err.message }], { cause: err });
      }
      throw err;
    });
    log?.(`disk assembled in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${sizeMiB} MiB, kernel ${assembled.kernelVersion}${cmdline ? `, kernel arguments "${cmdline}"` : ''}\n`);
    const stored = await options.disks.adopt(assembled.path, signal);
    log?.(`disk stored as ${stored.digest}\n`);
    return {
      disk: { ...stored, format: 'raw', rootPartUuid: assembled.rootPartUuid, kernelVersion: assembled.kernelVersion },
      inventory,
      packages: listedPackages(inventory),
    };
  } finally {
    for (const point of mountsUnder(path.resolve(workDir))) await umountLazy(point);
    await fsp.rm(workDir, { recursive: true, force: true });
  }
}

/** The byte range of a disk's Linux root partition, from its GPT (sfdisk --json). */
export async function rootPartitionOf(disk: string, signal?: AbortSignal): Promise<{ offset: number; size: number }> {
  const { stdout } = await run('sfdisk', ['--json', disk], { signal, maxBuffer: 1024 * 1024 });
  const table = (JSON.parse(stdout) as { partitiontable: { sectorsize?: number; partitions?: { start: number; size: number; type: string }[] } }).partitiontable;
  const root = table.partitions?.find((p) => p.type.toUpperCase() === ROOT_TYPE);
  if (!root) throw new KilnError('InvalidArgument', `the disk ${disk} has no Linux root partition (type ${ROOT_TYPE})`);
  const sector = table.sectorsize ?? 512;
  return { offset: root.start * sector, size: root.size * sector };
}

/**
 * The PARTUUID of the disk's Linux root partition (type ROOT_TYPE), or '' when it has none or no partition table
 * at all: an imported disk need not be laid out as Kiln lays its own.
 */
export async function rootPartitionUuid(disk: string, signal?: AbortSignal): Promise<string> {
  const listed = await run('sfdisk', ['--json', disk], { signal, maxBuffer: 1024 * 1024 }).catch(() => undefined);
  if (!listed) return '';
  const table = (JSON.parse(listed.stdout) as { partitiontable?: { partitions?: { type: string; uuid?: string }[] } }).partitiontable;
  return table?.partitions?.find((p) => p.type.toUpperCase() === ROOT_TYPE)?.uuid?.toLowerCase() ?? '';
}

/**
 * Runs `fn` with the root partition of `disk` mounted read-only at `<mountDir>/root` through a loop device at its
 * offset (autoclear: the unmount frees the device); unmounts and removes `mountDir` afterwards, on failure too.
 * `mountDir` lies under the engine's work folder, which the start-up sweep unmounts after a crash.
 */
async function withRootPartition<T>(disk: string, mountDir: string, signal: AbortSignal | undefined, fn: (root: string) => Promise<T>): Promise<T> {
  const part = await rootPartitionOf(disk, signal);
  await fsp.rm(mountDir, { recursive: true, force: true });
  const mnt = path.join(mountDir, 'root');
  await fsp.mkdir(mnt, { recursive: true, mode: 0o700 });
  try {
    await run('mount', ['-t', 'ext4', '-o', `ro,noload,loop,offset=${part.offset},sizelimit=${part.size}`, disk, mnt], { signal });
    return await fn(mnt);
  } finally {
    for (const point of mountsUnder(path.resolve(mountDir))) await umountLazy(point);
    await fsp.rm(mountDir, { recursive: true, force: true });
  }
}

/**
 * The root filesystem of a disk as a one-layer OCI image, for ns builds on a machine image that a vm build made
 * (times clamped to `sourceDateEpoch`).
 */
export function rootfsFromDisk(disk: string, blobs: BlobStore, workDir: string, sourceDateEpoch: number, signal?: AbortSignal): Promise<ContainerImageRef> {
  return withRootPartition(disk, workDir, signal, async (root) => {
    const layer = await importBaseRootfs(blobs, { dir: root }, { sourceDateEpoch, compression: 'zstd', exclude: (p) => p.startsWith('lost+found'), ...(signal ? { signal } : {}) });
    const created = new Date(sourceDateEpoch * 1000).toISOString();
    const image = await writeImage(blobs, { layers: [layer], config: {}, history: [{ created, created_by: 'kiln: root filesystem of a machine image disk', comment: 'kiln' }], created });
    return { manifestDigest: image.manifestDigest, mediaType: MEDIA_TYPE_MANIFEST, configDigest: image.configDigest };
  });
}

/**
 * A new disk assembled from the root filesystem of `disk` (what a vm build leaves): the boot files on the ESP
 * then match the kernel the build installed, and the size is the one asked for. `disk` is left as it is.
 */
export function reassembleDisk(disk: string, options: Omit<DiskFromLayersOptions, 'layers'>): Promise<AssembledRoot> {
  return withRootPartition(disk, `${options.workDir}-source`, options.signal, (root) => diskFromLayers({ ...options, layers: [root] }));
}
