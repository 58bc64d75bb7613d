import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** Kiln's server configuration (`kiln serve --config FILE`, YAML or JSON). */
export interface ServerConfig {
  /** Region names requests may be signed for; the embedded default is one region, `local`. */
  regions: string[];
}

export const DEFAULT_CONFIG: ServerConfig = { regions: ['local'] };

const REGION_RE = /^[a-z][a-z0-9-]{0,62}$/;

/** Reads and checks a configuration file; every problem is reported with its field. */
export function loadServerConfig(path: string | undefined): ServerConfig {
  if (path === undefined) return { ...DEFAULT_CONFIG, regions: [...DEFAULT_CONFIG.regions] };
  const doc = parse(readFileSync(path, 'utf8')) as unknown;
  const problems: string[] = [];
  const config: ServerConfig = { regions: [...DEFAULT_CONFIG.regions] };
  if (doc !== null && doc !== undefined) {
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${path}: the configuration must be a mapping`);
    for (const [key, value] of Object.entries(doc)) {
      if (key === 'regions') {
        if (!Array.isArray(value) || value.length === 0 || !value.every((r) => typeof r === 'string' && REGION_RE.test(r))) {
          problems.push('regions: must be a non-empty list of region names (lower-case letters, digits and -)');
        } else {
          config.regions = value as string[];
        }
      } else {
        problems.push(`${key}: unknown setting`);
      }
    }
  }
  if (problems.length > 0) throw new Error(`${path} is invalid:\n  ${problems.join('\n  ')}`);
  return config;
}
