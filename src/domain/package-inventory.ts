/**
 * What an image holds, as scanning and SBOMs need it: the operating system (from os-release) and every package
 * its package managers record, with the source package each binary package was built from (OSV and Debian's
 * security tracker name source packages). Pure parsers of the databases' text; reading them out of an image is
 * the builder's job.
 */

/** The package managers whose databases Kiln reads. */
export type PackageManager = 'dpkg' | 'apk' | 'rpm';

/** One installed package. */
export interface InventoryPackage {
  manager: PackageManager;
  /** The binary package's name (`libc6`). */
  name: string;
  /** The installed version as the manager writes it, epoch included (`1:2.36-9+deb12u4`). */
  version: string;
  /** The manager's own architecture word (`amd64`, `all`, `x86_64`, `noarch`); empty when it records none. */
  architecture: string;
  /** The source package (`glibc`); the binary package's own name when the database names none. */
  source: string;
  /** The source package's version; the binary version when the database names none. */
  sourceVersion: string;
}

/** The operating system of an image, from `/etc/os-release` (`ID`, `VERSION_ID`, `PRETTY_NAME`). */
export interface InventoryOs {
  id: string;
  versionId: string;
  prettyName: string;
}

/** An image's packages, sorted by manager, name and architecture, and its operating system when it says. */
export interface ImageInventory {
  os?: InventoryOs;
  packages: InventoryPackage[];
}

/** Splits a Debian control-style database (dpkg status, apk installed) into stanzas of field → value. */
function stanzas(text: string, fieldPattern: RegExp): Map<string, string>[] {
  const out: Map<string, string>[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      const m = fieldPattern.exec(line);
      if (m) fields.set(m[1]!, m[2]!.trim());
    }
    if (fields.size > 0) out.push(fields);
  }
  return out;
}

/**
 * The packages of dpkg's `/var/lib/dpkg/status` whose Status is `install ok installed`. `Source: name (version)`
 * gives the source package and its version when they differ from the binary's (binNMUs, renamed binaries).
 */
export function dpkgPackages(status: string): InventoryPackage[] {
  const out: InventoryPackage[] = [];
  for (const stanza of stanzas(status, /^([A-Za-z0-9-]+):\s*(.*)$/)) {
    const field = (name: string): string | undefined => {
      for (const [k, v] of stanza) if (k.toLowerCase() === name) return v;
      return undefined;
    };
    const name = field('package');
    const version = field('version');
    if (!name || !version || field('status') !== 'install ok installed') continue;
    const source = /^(\S+)(?:\s+\(([^)]+)\))?$/.exec(field('source') ?? '');
    out.push({
      manager: 'dpkg',
      name,
      version,
      architecture: field('architecture') ?? '',
      source: source?.[1] ?? name,
      sourceVersion: source?.[2] ?? version,
    });
  }
  return sortPackages(out);
}

/** `/etc/os-release` (or `/usr/lib/os-release`) text; undefined without an `ID`. */
export function osRelease(text: string): InventoryOs | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let value = m[2]!;
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1).replace(/\\(["'$`\\])/g, '$1');
    fields.set(m[1]!, value);
  }
  const id = fields.get('ID');
  if (!id) return undefined;
  return { id, versionId: fields.get('VERSION_ID') ?? '', prettyName: fields.get('PRETTY_NAME') ?? id };
}

/** Orders packages by manager, name, then architecture, so an inventory's JSON is stable. */
export function sortPackages(packages: InventoryPackage[]): InventoryPackage[] {
  const key = (p: InventoryPackage): string => `${p.manager}\u0000${p.name}\u0000${p.architecture}`;
  return packages.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** One package as ListImagePackages reports it. */
export interface ListedPackage {
  packageName: string;
  packageVersion: string;
}

/**
 * The inventory's packages as ListImagePackages lists them: by name, and a package installed for a second
 * architecture named `name:arch` the second time.
 */
export function listedPackages(inventory: Pick<ImageInventory, 'packages'>): ListedPackage[] {
  const seen = new Set<string>();
  const out: ListedPackage[] = [];
  for (const p of inventory.packages) {
    const key = seen.has(p.name) ? `${p.name}:${p.architecture}` : p.name;
    seen.add(p.name);
    out.push({ packageName: key, packageVersion: p.version });
  }
  return out.sort((a, b) => (a.packageName < b.packageName ? -1 : a.packageName > b.packageName ? 1 : 0));
}
