/**
 * Package URLs (purl, github.com/package-url/purl-spec) for the packages of an image inventory: `deb`, `apk` and
 * `rpm` types, the distribution as namespace and `distro` qualifier, as scanners and SBOM consumers match them.
 */
import type { InventoryOs, InventoryPackage, PackageManager } from '../package-inventory.js';

/** The purl type of each package manager. */
const PURL_TYPES: Record<PackageManager, string> = { dpkg: 'deb', apk: 'apk', rpm: 'rpm' };

/** The namespace a manager's packages take when the image has no os-release to name its distribution. */
const DEFAULT_NAMESPACES: Record<PackageManager, string | undefined> = { dpkg: 'debian', apk: 'alpine', rpm: undefined };

/** The architecture word each type gives a source package. */
const SOURCE_ARCHES: Record<PackageManager, string | undefined> = { dpkg: 'source', apk: undefined, rpm: 'src' };

/**
 * Percent-encodes a purl component: everything outside the spec's unreserved set (`A-Za-z0-9.-_~`) is encoded,
 * `+` included (`5.2.15-2%2Bb7`); `:` stays, as the spec's Debian epoch example (`attr@1:2.4.47-2`) writes it.
 */
export function purlEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%3A/g, ':');
}

/** The parts of a purl, before encoding. Qualifiers with an empty value are left out; the rest are sorted by key. */
export interface PurlParts {
  type: string;
  namespace?: string;
  name: string;
  version?: string;
  qualifiers?: Record<string, string | undefined>;
}

/** The canonical purl string of its parts. */
export function formatPurl(parts: PurlParts): string {
  let out = `pkg:${parts.type}/`;
  if (parts.namespace) out += `${parts.namespace.split('/').map(purlEncode).join('/')}/`;
  out += purlEncode(parts.name);
  if (parts.version) out += `@${purlEncode(parts.version)}`;
  const qualifiers = Object.entries(parts.qualifiers ?? {})
    .filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (qualifiers.length > 0) out += `?${qualifiers.map(([k, v]) => `${k.toLowerCase()}=${purlEncode(v)}`).join('&')}`;
  return out;
}

/** The `distro` qualifier: `debian-12`, `alpine-3.19.1`; the bare ID when os-release has no VERSION_ID. */
export function distroQualifier(os: InventoryOs | undefined): string | undefined {
  if (!os) return undefined;
  return os.versionId ? `${os.id}-${os.versionId}` : os.id;
}

/** Splits an rpm `epoch:version-release` into the epoch (a qualifier in rpm purls) and the rest. */
function rpmEpoch(version: string): { epoch?: string; version: string } {
  const m = /^(\d+):(.*)$/.exec(version);
  return m ? { epoch: m[1]!, version: m[2]! } : { version };
}

/** The namespace of a manager's packages: the distribution's os-release ID, lower case. */
function namespaceOf(manager: PackageManager, os: InventoryOs | undefined): string | undefined {
  return os?.id.toLowerCase() ?? DEFAULT_NAMESPACES[manager];
}

function packagePurl(manager: PackageManager, name: string, version: string, arch: string | undefined, os: InventoryOs | undefined): string {
  // deb and apk keep the epoch in the version (Debian's `1:2.4.47-2`); rpm moves it to the `epoch` qualifier.
  const split = manager === 'rpm' ? rpmEpoch(version) : { version };
  return formatPurl({
    type: PURL_TYPES[manager],
    namespace: namespaceOf(manager, os),
    name,
    version: split.version,
    qualifiers: { arch, distro: distroQualifier(os), epoch: split.epoch },
  });
}

/** The purl of an installed binary package: `pkg:deb/debian/bash@5.2.15-2%2Bb7?arch=amd64&distro=debian-12`. */
export function binaryPurl(pkg: InventoryPackage, os: InventoryOs | undefined): string {
  return packagePurl(pkg.manager, pkg.name, pkg.version, pkg.architecture || undefined, os);
}

/** True when the package was built from a source package of another name or version (binNMU, renamed binary). */
export function hasDistinctSource(pkg: InventoryPackage): boolean {
  return pkg.source !== pkg.name || pkg.sourceVersion !== pkg.version;
}

/** The purl of the source package a binary was built from: `pkg:deb/debian/glibc@2.36-9?arch=source&distro=debian-12`. */
export function sourcePurl(pkg: InventoryPackage, os: InventoryOs | undefined): string {
  return packagePurl(pkg.manager, pkg.source, pkg.sourceVersion, SOURCE_ARCHES[pkg.manager], os);
}
