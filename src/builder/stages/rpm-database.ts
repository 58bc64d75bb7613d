/**
 * Reads rpm's SQLite database (`/var/lib/rpm/rpmdb.sqlite`, rpm 4.16 and later: Fedora 33+, RHEL/Rocky/Alma 9,
 * Amazon Linux 2023) out of an image's root filesystem. The older Berkeley DB (`Packages`) and SUSE's ndb
 * (`Packages.db`) formats are not read: such images get no rpm packages in their inventory.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { rpmPackages, type InventoryPackage } from '../../domain/package-inventory.js';

/** Where rpm keeps its SQLite database, relative to the root filesystem. */
export const RPMDB_SQLITE = 'var/lib/rpm/rpmdb.sqlite';

/**
 * The rpm packages of the rpmdb.sqlite file at `path` (a host path, resolved inside the image by the caller); empty
 * when there is none. The database is opened read-only and never written.
 */
export function rpmdbPackages(path: string): InventoryPackage[] {
  if (!existsSync(path)) return [];
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT blob FROM Packages ORDER BY hnum').all() as { blob: Buffer }[];
    return rpmPackages(rows.map((r) => r.blob));
  } finally {
    db.close();
  }
}
