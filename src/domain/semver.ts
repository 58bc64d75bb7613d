/**
 * Image Builder's semantic versions: `major.minor.patch` chosen by the user, each node 0..2^30-1, plus a
 * build number the service assigns. Wildcards use `x`, and once a node is `x` every node to its right is too.
 */

/** Largest value of one version node (the model's bound, 2^30 - 1). */
export const MAX_VERSION_NODE = 1073741823;

export interface Semver {
  major: number;
  minor: number;
  patch: number;
}

/** A version selector: a node left undefined is an `x`. */
export interface VersionFilter {
  major?: number;
  minor?: number;
  patch?: number;
}

function node(text: string): number | undefined {
  if (!/^(0|[1-9][0-9]*)$/.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_VERSION_NODE ? n : undefined;
}

/** Parses `1.2.3`; undefined when it is not three decimal nodes within bounds. */
export function parseSemver(text: string): Semver | undefined {
  const parts = text.split('.');
  if (parts.length !== 3) return undefined;
  const [major, minor, patch] = parts.map(node);
  if (major === undefined || minor === undefined || patch === undefined) return undefined;
  return { major, minor, patch };
}

/** Parses `1.x.x`, `1.2.x`, `x.x.x` or a plain version; undefined for `x.2.x`, `1.x.8` and other shapes. */
export function parseVersionFilter(text: string): VersionFilter | undefined {
  const parts = text.split('.');
  if (parts.length !== 3) return undefined;
  const filter: VersionFilter = {};
  const keys = ['major', 'minor', 'patch'] as const;
  let wildcard = false;
  for (let i = 0; i < 3; i++) {
    const part = parts[i]!;
    if (part === 'x') {
      wildcard = true;
      continue;
    }
    if (wildcard) return undefined;
    const n = node(part);
    if (n === undefined) return undefined;
    filter[keys[i]!] = n;
  }
  return filter;
}

export function formatSemver(v: Semver): string {
  return `${v.major}.${v.minor}.${v.patch}`;
}

export function formatVersionFilter(f: VersionFilter): string {
  return [f.major, f.minor, f.patch].map((n) => (n === undefined ? 'x' : String(n))).join('.');
}

export function compareSemver(a: Semver, b: Semver): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

export function matchesFilter(v: Semver, f: VersionFilter): boolean {
  return (f.major === undefined || f.major === v.major) && (f.minor === undefined || f.minor === v.minor) && (f.patch === undefined || f.patch === v.patch);
}

/** The highest version matching the filter (`x.x.x` → newest overall), or undefined when none does. */
export function resolveLatest<T extends Semver>(versions: readonly T[], filter: VersionFilter): T | undefined {
  let best: T | undefined;
  for (const v of versions) {
    if (matchesFilter(v, filter) && (best === undefined || compareSemver(v, best) > 0)) best = v;
  }
  return best;
}

/** The wildcard selectors AWS reports as latestVersionReferences for a version: x.x.x, 1.x.x, 1.2.x, 1.2.3. */
export function latestSelectors(v: Semver): { latest: string; major: string; minor: string; patch: string } {
  return { latest: 'x.x.x', major: `${v.major}.x.x`, minor: `${v.major}.${v.minor}.x`, patch: formatSemver(v) };
}

/**
 * A single sortable number-like key, as in AWS's SNS messages: (major << 90) | (minor << 60) | (patch << 30) | build.
 */
export function semverKey(v: Semver, build = 0): bigint {
  return (BigInt(v.major) << 90n) | (BigInt(v.minor) << 60n) | (BigInt(v.patch) << 30n) | BigInt(build);
}
