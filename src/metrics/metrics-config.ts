/** `metrics:` in the server configuration: how /metrics is protected. */
export interface MetricsConfig {
  /** The bearer token a scrape must send (`Authorization: Bearer …`); absent, /metrics is open. */
  token?: string;
}

/** Checks `metrics:`; every problem is pushed with its field, and the valid part is returned. */
export function parseMetricsConfig(value: unknown, problems: string[]): MetricsConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push('metrics: must be a mapping {token?}');
    return {};
  }
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) if (key !== 'token') problems.push(`metrics.${key}: unknown setting`);
  if (o.token === undefined) return {};
  // Sent in a header: printable ASCII without spaces, long enough not to be guessed.
  if (typeof o.token !== 'string' || !/^[\x21-\x7e]{16,}$/.test(o.token)) {
    problems.push('metrics.token: must be at least 16 printable characters without spaces');
    return {};
  }
  return { token: o.token };
}
