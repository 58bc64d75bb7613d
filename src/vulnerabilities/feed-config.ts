/** `vulnerabilityFeeds:` in the server configuration: where scanning's vulnerability data comes from. */

/** The formats Kiln reads: OSV records, and Debian's security tracker JSON. */
export type FeedFormat = 'osv' | 'debian-security-tracker';

/** One feed: a local path (a JSON file, a zip of OSV files, or a folder of them) or an http(s) URL. */
export type FeedConfig = { format: FeedFormat; path: string } | { format: FeedFormat; url: string };

/** What the feed at `index` is called in reports and messages: its configuration field, then its URL (a path stays private to the host). */
export function feedLabel(feed: FeedConfig, index: number): string {
  return `vulnerabilityFeeds[${index}] (${feed.format}${'url' in feed ? ` ${feed.url}` : ''})`;
}

/** Checks `vulnerabilityFeeds:`; every problem is pushed with its field, and the valid entries are returned. */
export function parseFeedsConfig(value: unknown, problems: string[]): FeedConfig[] {
  if (!Array.isArray(value)) {
    problems.push('vulnerabilityFeeds: must be a list of {format: osv|debian-security-tracker, path|url}');
    return [];
  }
  const out: FeedConfig[] = [];
  value.forEach((item: unknown, i) => {
    const at = `vulnerabilityFeeds[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problems.push(`${at}: must be a mapping {format, path|url}`);
      return;
    }
    const o = item as Record<string, unknown>;
    const before = problems.length;
    for (const key of Object.keys(o)) if (!['format', 'path', 'url'].includes(key)) problems.push(`${at}.${key}: unknown setting`);
    if (o.format !== 'osv' && o.format !== 'debian-security-tracker') problems.push(`${at}.format: must be osv or debian-security-tracker`);
    if ((o.path === undefined) === (o.url === undefined)) problems.push(`${at}: give exactly one of path and url`);
    if (o.path !== undefined && (typeof o.path !== 'string' || !o.path.startsWith('/'))) problems.push(`${at}.path: must be an absolute path`);
    if (o.url !== undefined && (typeof o.url !== 'string' || !/^https?:\/\/\S+$/.test(o.url))) problems.push(`${at}.url: must be an http:// or https:// URL`);
    if (problems.length > before) return;
    const format = o.format as FeedFormat;
    out.push(o.path !== undefined ? { format, path: o.path as string } : { format, url: o.url as string });
  });
  return out;
}
