/** The packages installed in a Debian root filesystem, from dpkg's status database (no dpkg needed). */

/** One installed package, as ListImagePackages reports it. */
export interface InstalledPackage {
  packageName: string;
  packageVersion: string;
}

/**
 * Parses `/var/lib/dpkg/status` text: the packages whose Status is `install ok installed`, sorted by name
 * (a package installed for two architectures appears twice, once per architecture, with `:arch` appended to
 * the second).
 */
export function installedPackages(status: string): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  const seen = new Set<string>();
  for (const stanza of status.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (m) fields.set(m[1]!.toLowerCase(), m[2]!.trim());
    }
    const name = fields.get('package');
    const version = fields.get('version');
    if (!name || !version || fields.get('status') !== 'install ok installed') continue;
    const key = seen.has(name) ? `${name}:${fields.get('architecture') ?? ''}` : name;
    seen.add(name);
    out.push({ packageName: key, packageVersion: version });
  }
  return out.sort((a, b) => (a.packageName < b.packageName ? -1 : a.packageName > b.packageName ? 1 : 0));
}
