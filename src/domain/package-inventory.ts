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

/**
 * The packages of apk's `/lib/apk/db/installed`: `P:` name, `V:` version, `A:` architecture, `o:` origin (the
 * source package; apk builds every subpackage of an origin at the origin's version).
 */
export function apkPackages(installed: string): InventoryPackage[] {
  const out: InventoryPackage[] = [];
  for (const stanza of stanzas(installed, /^([A-Za-z]):(.*)$/)) {
    const name = stanza.get('P');
    const version = stanza.get('V');
    if (!name || !version) continue;
    out.push({
      manager: 'apk',
      name,
      version,
      architecture: stanza.get('A') ?? '',
      source: stanza.get('o') || name,
      sourceVersion: version,
    });
  }
  return sortPackages(out);
}

/** rpm header tags Kiln reads (rpmtag.h). */
const RPMTAG = { NAME: 1000, VERSION: 1001, RELEASE: 1002, EPOCH: 1003, ARCH: 1022, SOURCERPM: 1044 } as const;
const RPM_INT32 = 4;
const RPM_STRING = 6;

/**
 * The tags of one rpm header blob as rpmdb stores it (the `blob` column of rpmdb.sqlite's `Packages` table):
 * index count and data length (big-endian int32), then 16-byte index entries (tag, type, offset, count), then
 * the data. Only the string and int32 tags Kiln reads are decoded; a blob that is cut short throws naming `blob`.
 */
function rpmHeaderTags(blob: Uint8Array): Map<number, string | number> {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  if (blob.byteLength < 8) throw new Error('blob: rpm header shorter than its 8-byte preamble');
  const il = view.getInt32(0);
  const dl = view.getInt32(4);
  const dataStart = 8 + il * 16;
  if (il < 0 || dl < 0 || dataStart + dl > blob.byteLength) throw new Error(`blob: rpm header of ${il} entries and ${dl} data bytes does not fit its ${blob.byteLength} bytes`);
  const wanted = new Set<number>(Object.values(RPMTAG));
  const tags = new Map<number, string | number>();
  for (let i = 0; i < il; i++) {
    const at = 8 + i * 16;
    const tag = view.getInt32(at);
    const type = view.getInt32(at + 4);
    const offset = view.getInt32(at + 8);
    if (!wanted.has(tag) || offset < 0 || offset >= dl) continue;
    const start = dataStart + offset;
    if (type === RPM_STRING) {
      let end = start;
      while (end < dataStart + dl && blob[end] !== 0) end++;
      tags.set(tag, new TextDecoder().decode(blob.subarray(start, end)));
    } else if (type === RPM_INT32 && start + 4 <= dataStart + dl) {
      tags.set(tag, view.getInt32(start));
    }
  }
  return tags;
}

/** Splits a source rpm's file name (`openssl-3.0.7-25.el9_3.src.rpm`) into name and version-release. */
function sourceRpm(file: string): { name: string; versionRelease: string } | undefined {
  const m = /^(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm$/.exec(file);
  return m ? { name: m[1]!, versionRelease: `${m[2]!}-${m[3]!}` } : undefined;
}

/**
 * The packages of rpm header blobs (one per installed package, as rpmdb.sqlite's `Packages` table holds them).
 * The version is `epoch:version-release` (the epoch only when the header has one); the source package comes from
 * SOURCERPM. rpm's `gpg-pubkey` entries are imported signing keys, not packages, and are left out.
 */
export function rpmPackages(blobs: Iterable<Uint8Array>): InventoryPackage[] {
  const out: InventoryPackage[] = [];
  for (const blob of blobs) {
    const tags = rpmHeaderTags(blob);
    const name = tags.get(RPMTAG.NAME);
    const version = tags.get(RPMTAG.VERSION);
    const release = tags.get(RPMTAG.RELEASE);
    if (typeof name !== 'string' || typeof version !== 'string' || name === 'gpg-pubkey') continue;
    const epoch = tags.get(RPMTAG.EPOCH);
    const prefix = typeof epoch === 'number' ? `${epoch}:` : '';
    const full = `${prefix}${version}${typeof release === 'string' ? `-${release}` : ''}`;
    const src = sourceRpm(String(tags.get(RPMTAG.SOURCERPM) ?? ''));
    out.push({
      manager: 'rpm',
      name,
      version: full,
      architecture: String(tags.get(RPMTAG.ARCH) ?? ''),
      source: src?.name ?? name,
      sourceVersion: src ? `${prefix}${src.versionRelease}` : full,
    });
  }
  return sortPackages(out);
}

/** Where an image says what it is, in the order os-release(5) gives: a root filesystem holds one of them. */
export const OS_RELEASE_FILES = ['/etc/os-release', '/usr/lib/os-release'] as const;

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
