/** The packages installed in a Debian root filesystem, from dpkg's status database (no dpkg needed). */
import { dpkgPackages, listedPackages, type ListedPackage } from '../../domain/package-inventory.js';

/** One installed package, as ListImagePackages reports it. */
export type InstalledPackage = ListedPackage;

/**
 * Parses `/var/lib/dpkg/status` text: the packages whose Status is `install ok installed`, sorted by name
 * (a package installed for two architectures appears twice, once per architecture, with `:arch` appended to
 * the second).
 */
export function installedPackages(status: string): InstalledPackage[] {
  return listedPackages({ packages: dpkgPackages(status) });
}
