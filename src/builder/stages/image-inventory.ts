/**
 * Reads an image's inventory (ImageInventory: os-release and the package databases) out of its root filesystem,
 * given as overlay layer directories, top first, or one plain directory. Paths resolve inside the image (its
 * `/etc/os-release` is a symlink into `/usr/lib`), never on the host. The inventory is stored on the image
 * record (`data.inventory`) when it is built; scanning and SBOMs read it from there.
 */
import * as fsp from 'node:fs/promises';
import { apkPackages, dpkgPackages, osRelease, sortPackages, type ImageInventory } from '../../domain/package-inventory.js';
import type { ResourceRecord } from '../../store/store.js';
import { resolveInLayers } from '../../drivers/ns/layers.js';
import { RPMDB_SQLITE, rpmdbPackages } from './rpm-database.js';

/** The databases are plain text well under this; a larger one is not what it claims to be. */
const MAX_DATABASE_BYTES = 256 * 1024 * 1024;

async function readInImage(layers: readonly string[], file: string): Promise<string | undefined> {
  const found = await resolveInLayers(layers, file, { follow: true });
  if (!found || !found.stats.isFile() || found.stats.size > MAX_DATABASE_BYTES) return undefined;
  return fsp.readFile(found.hostPath, 'utf8');
}

/** The inventory of the root filesystem `layers` (top first) make; no packages when it has no database Kiln reads. */
export async function inventoryOfLayers(layers: readonly string[]): Promise<ImageInventory> {
  const os = osRelease((await readInImage(layers, '/etc/os-release')) ?? (await readInImage(layers, '/usr/lib/os-release')) ?? '');
  const dpkg = await readInImage(layers, '/var/lib/dpkg/status');
  const apk = await readInImage(layers, '/lib/apk/db/installed');
  const rpmdb = await resolveInLayers(layers, `/${RPMDB_SQLITE}`, { follow: true });
  const packages = [
    ...(dpkg ? dpkgPackages(dpkg) : []),
    ...(apk ? apkPackages(apk) : []),
    ...(rpmdb?.stats.isFile() ? rpmdbPackages(rpmdb.hostPath) : []),
  ];
  return { ...(os ? { os } : {}), packages: sortPackages(packages) };
}

/** The inventory recorded on an image when it was built or imported; undefined for images from before Kiln recorded one, or imported with a root it could not read. */
export function imageInventory(record: ResourceRecord): ImageInventory | undefined {
  const inventory = record.data.inventory as ImageInventory | undefined;
  return inventory && Array.isArray(inventory.packages) ? inventory : undefined;
}
