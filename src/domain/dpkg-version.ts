/**
 * Debian package version ordering, exactly as dpkg orders versions (deb-version(7), dpkg's verrevcmp): a version
 * is `[epoch:]upstream[-revision]`; epochs compare as numbers, then upstream, then revision, each by alternating
 * non-digit and digit runs. In non-digit runs `~` sorts before everything (even the end of the string), letters
 * before other characters; digit runs compare as numbers. OSV's Debian ranges and the security tracker's fixed
 * versions are compared this way, so a scan agrees with what apt would install.
 */

/** A version split into its three parts; a missing epoch is 0, a missing revision is empty (equal to "0"). */
export interface DpkgVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

/** Splits a version: the epoch ends at the first `:`, the revision starts after the last `-`. */
export function parseDpkgVersion(version: string): DpkgVersion {
  let rest = version.trim();
  let epoch = 0;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const digits = rest.slice(0, colon);
    epoch = /^\d+$/.test(digits) ? Number(digits) : 0;
    rest = rest.slice(colon + 1);
  }
  const hyphen = rest.lastIndexOf('-');
  if (hyphen >= 0) return { epoch, upstream: rest.slice(0, hyphen), revision: rest.slice(hyphen + 1) };
  return { epoch, upstream: rest, revision: '' };
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isLetter = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

/** dpkg's weight of one character in a non-digit run; the end of the string (and a digit) weigh 0. */
function order(c: string | undefined): number {
  if (c === undefined || isDigit(c)) return 0;
  if (c === '~') return -1;
  if (isLetter(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

/** dpkg's verrevcmp over one part (upstream or revision): negative, zero or positive. */
function comparePart(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ac = order(a[i]);
      const bc = order(b[j]);
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a[i])) return 1;
    if (isDigit(b[j])) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

/** Orders two Debian versions as `dpkg --compare-versions` does: -1, 0 or 1. */
export function compareDpkgVersions(a: string, b: string): -1 | 0 | 1 {
  const va = parseDpkgVersion(a);
  const vb = parseDpkgVersion(b);
  const diff = va.epoch !== vb.epoch ? va.epoch - vb.epoch : comparePart(va.upstream, vb.upstream) || comparePart(va.revision, vb.revision);
  return diff < 0 ? -1 : diff > 0 ? 1 : 0;
}
