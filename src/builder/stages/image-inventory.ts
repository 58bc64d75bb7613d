/**
 * Reads an image's inventory (ImageInventory: os-release and the package databases) out of its root filesystem,
 * given as overlay layer directories, top first, or one plain directory. Paths resolve inside the image (its
 * `/etc/os-release` is a symlink into `/usr/lib`), never on the host. The inventory is stored on the image
 * record (`data.inventory`) when it is built; scanning and SBOMs read it from there.
 */
import * as fsp from 'node:fs/promises';
import { apkPackages, dpkgPackages, OS_RELEASE_FILES, osRelease, sortPackages, type ImageInventory } from '../../domain/package-inventory.js';
import type { ResourceRecord } from '../../store/store.js';
import { resolveInLayers } from '../../drivers/ns/layers.js';
import { RPMDB_SQLITE, rpmdbPackages } from './rpm-database.js';

/** The databases are plain text well under this; a larger one is not what it claims to be. */
export const MAX_DATABASE_BYTES = 256 * 1024 * 1024;
const MAX_OS_RELEASE_BYTES = 64 * 1024;
const DPKG_STATUS = '/var/lib/dpkg/status';
const APK_INSTALLED = '/lib/apk/db/installed';
/** Every file an inventory reads, for readers that look them up ahead (an ext filesystem read through debugfs). */
export const INVENTORY_FILES = [...OS_RELEASE_FILES, DPKG_STATUS, APK_INSTALLED, `/${RPMDB_SQLITE}`];

/** A root filesystem as an inventory reads it; paths are absolute in the image and symlinks are followed in it. */
export interface RootReader {
  /** The text of a regular file; undefined when there is none or it is over `maxBytes`. */
  readText(file: string, maxBytes: number): Promise<string | undefined>;
  /** `read` run on a host path holding the regular file's bytes (rpm's SQLite database); undefined when there is none. */
  withHostFile<T>(file: string, maxBytes: number, read: (hostPath: string) => T): Promise<T | undefined>;
}

/** The inventory of a root filesystem: os-release and the dpkg, apk and rpm databases; no packages without one. */
export async function inventoryOf(root: RootReader): Promise<ImageInventory> {
  let os: ImageInventory['os'];
  for (const file of OS_RELEASE_FILES) os ??= osRelease((await root.readText(file, MAX_OS_RELEASE_BYTES)) ?? '');
  const dpkg = await root.readText(DPKG_STATUS, MAX_DATABASE_BYTES);
  const apk = await root.readText(APK_INSTALLED, MAX_DATABASE_BYTES);
  const rpm = await root.withHostFile(`/${RPMDB_SQLITE}`, MAX_DATABASE_BYTES, rpmdbPackages);
  const packages = [...(dpkg ? dpkgPackages(dpkg) : []), ...(apk ? apkPackages(apk) : []), ...(rpm ?? [])];
  return { ...(os ? { os } : {}), packages: sortPackages(packages) };
}

/** The inventory of the root filesystem `layers` (top first) make. */
export function inventoryOfLayers(layers: readonly string[]): Promise<ImageInventory> {
  const regular = async (file: string, maxBytes: number) => {
    const found = await resolveInLayers(layers, file, { follow: true });
    return found && found.stats.isFile() && found.stats.size <= maxBytes ? found.hostPath : undefined;
  };
  return inventoryOf({
    readText: async (file, maxBytes) => {
      const hostPath = await regular(file, maxBytes);
      return hostPath === undefined ? undefined : fsp.readFile(hostPath, 'utf8');
    },
    withHostFile: async (file, maxBytes, read) => {
      const hostPath = await regular(file, maxBytes);
      return hostPath === undefined ? undefined : read(hostPath);
    },
  });
}

/** The inventory recorded on an image when it was built or imported; undefined for images from before Kiln recorded one, or imported with a root it could not read. */
export function imageInventory(record: ResourceRecord): ImageInventory | undefined {
  const inventory = record.data.inventory as ImageInventory | undefined;
  return inventory && Array.isArray(inventory.packages) ? inventory : undefined;
}
