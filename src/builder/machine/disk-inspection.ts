/**
 * What a disk Kiln did not lay out holds, read without booting or mounting it (ext-reader.ts): whether a vm build
 * can reach it (cloud-init, to read Kiln's NoCloud seed, and/or the QEMU guest agent) and its inventory
 * (os-release and the package databases, as image-inventory.ts reads them from a root filesystem Kiln built).
 * Imports inspect their disk once; a vm build on an imported parent reads the inventory of its output the same way.
 */
import * as fsp from 'node:fs/promises';
import { findRootFilesystem, OS_RELEASE_FILES, type ExtFilesystem } from '../../artifacts/disk/ext-reader.js';
import { apkPackages, dpkgPackages, listedPackages, osRelease, sortPackages, type ImageInventory, type ListedPackage } from '../../domain/package-inventory.js';
import { RPMDB_SQLITE, rpmdbPackages } from '../stages/rpm-database.js';
import { isKilnError } from '../../domain/errors.js';

/** How a vm build can reach the guest: cloud-init (which runs Kiln's seed) and the QEMU guest agent (qemu-ga). */
export interface GuestAccess {
  cloudInit: boolean;
  agent: boolean;
}

/** A disk's inspection: 'unknown' when its root filesystem is not one Kiln reads this way (then no inventory). */
export interface DiskInspection {
  guest: GuestAccess | 'unknown';
  inventory?: ImageInventory;
  /** The inventory's packages as ListImagePackages lists them (empty when unknown). */
  packages: ListedPackage[];
}

const CLOUD_INIT_FILES = ['/usr/bin/cloud-init', '/usr/local/bin/cloud-init'];
const AGENT_FILES = ['/usr/bin/qemu-ga', '/usr/sbin/qemu-ga', '/usr/local/bin/qemu-ga'];
const DPKG_STATUS = '/var/lib/dpkg/status';
const APK_INSTALLED = '/lib/apk/db/installed';
const DATABASE_FILES = [DPKG_STATUS, APK_INSTALLED, `/${RPMDB_SQLITE}`];
/** The databases are plain text well under this; a larger one is not what it claims to be. */
const MAX_DATABASE_BYTES = 256 * 1024 * 1024;
const MAX_OS_RELEASE_BYTES = 64 * 1024;

async function anyFile(fs: ExtFilesystem, files: readonly string[]): Promise<boolean> {
  for (const file of files) if (await fs.resolve(file)) return true;
  return false;
}

/** The inventory of a root filesystem; rpm's SQLite database is copied to `workDir` for its reader. */
async function inventoryOf(fs: ExtFilesystem, workDir: string): Promise<ImageInventory> {
  let os: ImageInventory['os'];
  for (const file of OS_RELEASE_FILES) {
    os ??= osRelease((await fs.readText(file, MAX_OS_RELEASE_BYTES)) ?? '');
  }
  const dpkg = await fs.readText(DPKG_STATUS, MAX_DATABASE_BYTES);
  const apk = await fs.readText(APK_INSTALLED, MAX_DATABASE_BYTES);
  const packages = [...(dpkg ? dpkgPackages(dpkg) : []), ...(apk ? apkPackages(apk) : [])];
  if (await fs.resolve(`/${RPMDB_SQLITE}`)) {
    await fsp.mkdir(workDir, { recursive: true, mode: 0o700 });
    try {
      const copy = `${workDir}/rpmdb.sqlite`;
      if (await fs.copyOut(`/${RPMDB_SQLITE}`, copy, MAX_DATABASE_BYTES)) packages.push(...rpmdbPackages(copy));
    } finally {
      await fsp.rm(workDir, { recursive: true, force: true });
    }
  }
  return { ...(os ? { os } : {}), packages: sortPackages(packages) };
}

/**
 * Inspects the raw disk at `disk`: its guest access and inventory. `workDir` (removed afterwards) holds a copy of
 * an rpm database while it is read. A disk whose root is not readable, or a host without debugfs, is 'unknown'.
 */
export async function inspectDisk(disk: string, workDir: string, signal?: AbortSignal, log?: (text: string) => void): Promise<DiskInspection> {
  const t0 = Date.now();
  let guest: GuestAccess;
  let inventory: ImageInventory;
  try {
    const fs = await findRootFilesystem(disk, signal);
    if (!fs) {
      log?.('no ext2/3/4 root filesystem with an os-release was found on the disk; its guest and packages are unknown\n');
      return { guest: 'unknown', packages: [] };
    }
    await fs.prefetch([...CLOUD_INIT_FILES, ...AGENT_FILES, ...DATABASE_FILES]);
    guest = { cloudInit: await anyFile(fs, CLOUD_INIT_FILES), agent: await anyFile(fs, AGENT_FILES) };
    inventory = await inventoryOf(fs, workDir);
  } catch (err) {
    // What cannot be read is unknown, as for a filesystem Kiln does not read: the import goes on as before.
    if (signal?.aborted) throw err;
    // Not the tool's message: it names host paths.
    log?.(`the disk's root filesystem could not be read (${isKilnError(err, 'Unavailable') ? 'debugfs is not installed' : 'debugfs failed'}); its guest and packages are unknown\n`);
    return { guest: 'unknown', packages: [] };
  }
  log?.(`disk inspected in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${inventory.os?.prettyName ?? 'no os-release'}, cloud-init ${guest.cloudInit ? 'yes' : 'no'}, qemu-ga ${guest.agent ? 'yes' : 'no'}, ${inventory.packages.length} packages\n`);
  return { guest, inventory, packages: listedPackages(inventory) };
}

/** The inventory part of inspectDisk, shaped as a build's output records it (`inventory`, `packages`). */
export async function diskInventory(disk: string, workDir: string, signal?: AbortSignal, log?: (text: string) => void): Promise<{ inventory?: ImageInventory; packages: ListedPackage[] }> {
  const { inventory, packages } = await inspectDisk(disk, workDir, signal, log);
  return { ...(inventory ? { inventory } : {}), packages };
}
