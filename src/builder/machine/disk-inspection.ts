/**
 * What a disk Kiln did not lay out holds, read without booting or mounting it (ext-reader.ts): whether a vm build
 * can reach it (cloud-init, to read Kiln's NoCloud seed, and/or the QEMU guest agent) and its inventory
 * (os-release and the package databases, as image-inventory.ts reads them from a root filesystem Kiln built).
 * Imports inspect their disk once; a vm build on an imported parent reads the inventory of its output the same way.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { findRootFilesystem, type ExtFilesystem } from '../../artifacts/disk/ext-reader.js';
import { listedPackages, type ImageInventory, type ListedPackage } from '../../domain/package-inventory.js';
import { INVENTORY_FILES, inventoryOf, type RootReader } from '../stages/image-inventory.js';
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

async function anyFile(fs: ExtFilesystem, files: readonly string[]): Promise<boolean> {
  for (const file of files) if (await fs.resolve(file)) return true;
  return false;
}

/** An ext filesystem as the shared inventory reads it; rpm's SQLite database is copied to `workDir` to be opened. */
function rootReader(fs: ExtFilesystem, workDir: string): RootReader {
  return {
    readText: (file, maxBytes) => fs.readText(file, maxBytes),
    withHostFile: async (file, maxBytes, read) => {
      if (!(await fs.resolve(file))) return undefined;
      await fsp.mkdir(workDir, { recursive: true, mode: 0o700 });
      try {
        const copy = path.join(workDir, path.basename(file));
        return (await fs.copyOut(file, copy, maxBytes)) ? read(copy) : undefined;
      } finally {
        await fsp.rm(workDir, { recursive: true, force: true });
      }
    },
  };
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
    await fs.prefetch([...CLOUD_INIT_FILES, ...AGENT_FILES, ...INVENTORY_FILES]);
    guest = { cloudInit: await anyFile(fs, CLOUD_INIT_FILES), agent: await anyFile(fs, AGENT_FILES) };
    inventory = await inventoryOf(rootReader(fs, workDir));
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
