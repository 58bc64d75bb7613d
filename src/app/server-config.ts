import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { RegistryEndpoint } from '../registry/client/registry-endpoint.js';
import { defaultNotificationsConfig, parseNotificationsConfig, type NotificationsConfig } from '../events/notification-config.js';
import { parseMetricsConfig, type MetricsConfig } from '../metrics/metrics-config.js';
import { parseFeedsConfig, type FeedConfig } from '../vulnerabilities/feed-config.js';

/** Kiln's server configuration (`kiln serve --config FILE`, YAML or JSON). */
export interface ServerConfig {
  /** Region names requests may be signed for; the embedded default is one region, `local`. */
  regions: string[];
  /**
   * Each region's container registry, when it is not Kiln's built-in one: region → `host[:port]` of an entry
   * of `registries` (pushed to with its credentials). Set by `regions: [{ name, registry }]`.
   */
  regionRegistries: Record<string, string>;
  /** The Debian mirror Kiln-managed bases are bootstrapped from. */
  debianMirror: string;
  /** External registries Kiln knows how to reach; any other host is tried anonymously over HTTPS. */
  registries: RegistryEndpoint[];
  /** How many builds run at once; each takes a share of this machine's cores. */
  buildConcurrency: number;
  /**
   * How long a build job's lease lasts without a renewal (the worker renews it every third of it): how long a
   * worker that died, lost power or was cut off holds its build before another worker fails it. Default 60 s.
   */
  buildLeaseSeconds?: number;
  /** How build layers are compressed: gzip (every client reads it) or zstd (faster; Docker 23+, podman, skopeo). */
  layerCompression: 'gzip' | 'zstd';
  /** PEM files of a certificate (chain) and its key: the API and the registry then speak HTTPS. */
  tls?: { certificate: string; key: string };
  /** Where s3ExportConfiguration buckets are: bucket name → local directory (objects are files under it). */
  exportBuckets: Record<string, string>;
  /** SNS topic ARNs → webhook endpoints, and how deliveries are retried (none by default). */
  notifications: NotificationsConfig;
  /** A `postgres://` URL: state lives in that PostgreSQL database instead of SQLite in the data directory. */
  store?: string;
  /** The key that seals secrets at rest (default: the data directory's `secret.key`); the same file on every node. */
  secretKeyFile?: string;
  /** An S3-compatible bucket for blobs (layers, configs, manifests) instead of the data directory. */
  objectStore?: ObjectStoreConfig;
  /**
   * With `objectStore`, how much of this node's disk (GiB, allocated) its cache of machine-image disks may take
   * before the least recently used ones not in use are evicted (default 50).
   */
  diskCacheGiB?: number;
  /**
   * How much the step cache (issue 16) may keep alive in the blob and disk stores, in GiB (default 20): beyond it
   * the garbage collector removes the least recently used entries, and then what they named.
   */
  buildCacheGiB?: number;
  /**
   * Whether the server prepares the managed bases in the background from its start (`prefetchBases: true|false`).
   * Unset, the server's caller decides: `kiln serve` does (unless KILN_PREFETCH_BASES=0), servers in tests do not.
   */
  prefetchBases?: boolean;
  /** How /metrics is protected (`metrics: {token}`); unset, it is open as Prometheus scrapes usually are. */
  metrics?: MetricsConfig;
  /** Where image scanning's vulnerability data comes from (`vulnerabilityFeeds: [{format, path|url}]`); none by default. */
  vulnerabilityFeeds?: FeedConfig[];
}

/** `objectStore:` — where blobs live when they are not in the data directory. */
export interface ObjectStoreConfig {
  bucket: string;
  /** Key prefix inside the bucket (e.g. `kiln/`), so one bucket can serve several installations. */
  prefix?: string;
  /** Any S3-compatible server's URL; absent for AWS S3 itself. */
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  /** Static credentials; absent: the SDK's usual chain (AWS_* environment, credentials file, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
}

const OBJECT_STORE_KEYS = ['bucket', 'prefix', 'endpoint', 'region', 'forcePathStyle', 'accessKeyId', 'secretAccessKey'];

function parseObjectStore(value: unknown, problems: string[]): ObjectStoreConfig | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push('objectStore: must be a mapping {bucket, prefix?, endpoint?, region?, forcePathStyle?, accessKeyId?, secretAccessKey?}');
    return undefined;
  }
  const o = value as Record<string, unknown>;
  const before = problems.length;
  for (const key of Object.keys(o)) if (!OBJECT_STORE_KEYS.includes(key)) problems.push(`objectStore.${key}: unknown setting`);
  if (typeof o.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(o.bucket)) problems.push('objectStore.bucket: must be an S3 bucket name');
  if (o.prefix !== undefined && (typeof o.prefix !== 'string' || o.prefix.startsWith('/'))) problems.push('objectStore.prefix: must be a key prefix such as kiln/');
  if (o.endpoint !== undefined && (typeof o.endpoint !== 'string' || !/^https?:\/\/\S+$/.test(o.endpoint))) problems.push('objectStore.endpoint: must be an http:// or https:// URL');
  if (o.region !== undefined && typeof o.region !== 'string') problems.push('objectStore.region: must be a string');
  if (o.forcePathStyle !== undefined && typeof o.forcePathStyle !== 'boolean') problems.push('objectStore.forcePathStyle: must be true or false');
  for (const key of ['accessKeyId', 'secretAccessKey'] as const) if (o[key] !== undefined && typeof o[key] !== 'string') problems.push(`objectStore.${key}: must be a string`);
  if ((o.accessKeyId === undefined) !== (o.secretAccessKey === undefined)) problems.push('objectStore: accessKeyId and secretAccessKey go together');
  if (problems.length > before) return undefined;
  const prefix = o.prefix as string | undefined;
  return {
    bucket: o.bucket as string,
    ...(prefix ? { prefix: prefix.endsWith('/') ? prefix : `${prefix}/` } : {}),
    ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint as string }),
    ...(o.region === undefined ? {} : { region: o.region as string }),
    ...(o.forcePathStyle === undefined ? {} : { forcePathStyle: o.forcePathStyle as boolean }),
    ...(o.accessKeyId === undefined ? {} : { accessKeyId: o.accessKeyId as string, secretAccessKey: o.secretAccessKey as string }),
  };
}

export const DEFAULT_DEBIAN_MIRROR = 'http://deb.debian.org/debian';

/** The step cache's size limit when `buildCacheGiB` is not set. */
export const DEFAULT_BUILD_CACHE_GIB = 20;

export const DEFAULT_CONFIG: ServerConfig = { regions: ['local'], regionRegistries: {}, debianMirror: DEFAULT_DEBIAN_MIRROR, registries: [], buildConcurrency: 1, layerCompression: 'gzip', exportBuckets: {}, notifications: defaultNotificationsConfig(), buildCacheGiB: DEFAULT_BUILD_CACHE_GIB };

const REGION_RE = /^[a-z][a-z0-9-]{0,62}$/;
const HOST_RE = /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:]+\](?::\d{1,5})?$/;

function defaults(): ServerConfig {
  return { ...DEFAULT_CONFIG, regions: [...DEFAULT_CONFIG.regions], regionRegistries: {}, registries: [], exportBuckets: {}, notifications: defaultNotificationsConfig() };
}

function parseRegistries(value: unknown, problems: string[]): RegistryEndpoint[] {
  if (!Array.isArray(value)) {
    problems.push('registries: must be a list of {host, insecure?, username?, password?}');
    return [];
  }
  const out: RegistryEndpoint[] = [];
  value.forEach((item: unknown, i) => {
    const at = `registries[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problems.push(`${at}: must be a mapping`);
      return;
    }
    const r = item as Record<string, unknown>;
    for (const key of Object.keys(r)) if (!['host', 'insecure', 'username', 'password'].includes(key)) problems.push(`${at}.${key}: unknown setting`);
    if (typeof r.host !== 'string' || !HOST_RE.test(r.host)) problems.push(`${at}.host: must be host or host:port`);
    if (r.insecure !== undefined && typeof r.insecure !== 'boolean') problems.push(`${at}.insecure: must be true or false`);
    for (const key of ['username', 'password'] as const) if (r[key] !== undefined && typeof r[key] !== 'string') problems.push(`${at}.${key}: must be a string`);
    if ((r.username === undefined) !== (r.password === undefined)) problems.push(`${at}: username and password go together`);
    out.push({ host: String(r.host), insecure: r.insecure === true, username: r.username as string | undefined, password: r.password as string | undefined });
  });
  return out;
}

/**
 * `regions:` entries: a region name, or `{ name, registry? }` naming the external registry (a `registries` host)
 * that region's container images go to. Registries are checked against `registries` once the whole file is read.
 */
function parseRegions(value: unknown, problems: string[]): { regions: string[]; registries: Record<string, string> } | undefined {
  if (!Array.isArray(value) || value.length === 0) {
    problems.push('regions: must be a non-empty list of region names or {name, registry?} mappings');
    return undefined;
  }
  const regions: string[] = [];
  const registries: Record<string, string> = {};
  const before = problems.length;
  value.forEach((item: unknown, i) => {
    const at = `regions[${i}]`;
    const entry = typeof item === 'string' ? { name: item } : item;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${at}: must be a region name or a mapping {name, registry?}`);
      return;
    }
    const r = entry as Record<string, unknown>;
    for (const key of Object.keys(r)) if (key !== 'name' && key !== 'registry') problems.push(`${at}.${key}: unknown setting`);
    const name = r.name;
    if (typeof name !== 'string' || !REGION_RE.test(name)) {
      problems.push(`${typeof item === 'string' ? at : `${at}.name`}: must be a region name (lower-case letters, digits and -)`);
      return;
    }
    if (regions.includes(name)) problems.push(`${typeof item === 'string' ? at : `${at}.name`}: region ${name} is listed twice`);
    regions.push(name);
    if (r.registry === undefined) return;
    if (typeof r.registry !== 'string' || !HOST_RE.test(r.registry)) problems.push(`${at}.registry: must be host or host:port of an entry of registries`);
    else registries[name] = r.registry;
  });
  return problems.length === before ? { regions, registries } : undefined;
}

/** Reads and checks a configuration file; every problem is reported with its field. */
export function loadServerConfig(path: string | undefined): ServerConfig {
  const config = defaults();
  if (path === undefined) return config;
  const doc = parse(readFileSync(path, 'utf8')) as unknown;
  const problems: string[] = [];
  if (doc !== null && doc !== undefined) {
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${path}: the configuration must be a mapping`);
    for (const [key, value] of Object.entries(doc)) {
      if (key === 'regions') {
        const parsed = parseRegions(value, problems);
        if (parsed) {
          config.regions = parsed.regions;
          config.regionRegistries = parsed.registries;
        }
      } else if (key === 'debianMirror') {
        if (typeof value !== 'string' || !/^(https?|file):\/\/\S+$/.test(value)) problems.push('debianMirror: must be an http://, https:// or file:// URL');
        else config.debianMirror = value.replace(/\/+$/, '');
      } else if (key === 'registries') {
        config.registries = parseRegistries(value, problems);
      } else if (key === 'tls') {
        const t = value as Record<string, unknown> | null;
        if (typeof t !== 'object' || t === null || typeof t.certificate !== 'string' || typeof t.key !== 'string' || Object.keys(t).some((k) => k !== 'certificate' && k !== 'key')) {
          problems.push('tls: must be {certificate: PEM file, key: PEM file}');
        } else {
          config.tls = { certificate: t.certificate, key: t.key };
        }
      } else if (key === 'layerCompression') {
        if (value !== 'gzip' && value !== 'zstd') problems.push('layerCompression: must be gzip or zstd');
        else config.layerCompression = value;
      } else if (key === 'exportBuckets') {
        const b = value as Record<string, unknown> | null;
        if (typeof b !== 'object' || b === null || Array.isArray(b)) {
          problems.push('exportBuckets: must map bucket names to absolute directories');
        } else {
          for (const [bucket, dir] of Object.entries(b)) {
            if (typeof dir !== 'string' || !dir.startsWith('/')) problems.push(`exportBuckets.${bucket}: must be an absolute directory`);
            else config.exportBuckets[bucket] = dir;
          }
        }
      } else if (key === 'notifications') {
        config.notifications = parseNotificationsConfig(value, problems);
      } else if (key === 'store') {
        // The URL may hold a password: the message never repeats it.
        if (typeof value !== 'string' || !/^postgres(ql)?:\/\/\S+$/.test(value)) problems.push('store: must be a postgres:// URL (leave it out for the embedded SQLite store)');
        else config.store = value;
      } else if (key === 'objectStore') {
        const parsed = parseObjectStore(value, problems);
        if (parsed) config.objectStore = parsed;
      } else if (key === 'diskCacheGiB') {
        if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) problems.push('diskCacheGiB: must be a positive number of GiB');
        else config.diskCacheGiB = value;
      } else if (key === 'buildCacheGiB') {
        if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) problems.push('buildCacheGiB: must be a positive number of GiB');
        else config.buildCacheGiB = value;
      } else if (key === 'secretKeyFile') {
        if (typeof value !== 'string' || !value.startsWith('/')) problems.push('secretKeyFile: must be an absolute file path');
        else config.secretKeyFile = value;
      } else if (key === 'prefetchBases') {
        if (typeof value !== 'boolean') problems.push('prefetchBases: must be true or false');
        else config.prefetchBases = value;
      } else if (key === 'vulnerabilityFeeds') {
        config.vulnerabilityFeeds = parseFeedsConfig(value, problems);
      } else if (key === 'metrics') {
        config.metrics = parseMetricsConfig(value, problems);
      } else if (key === 'buildLeaseSeconds') {
        if (!Number.isInteger(value) || (value as number) < 3 || (value as number) > 3600) problems.push('buildLeaseSeconds: must be a whole number of seconds from 3 to 3600');
        else config.buildLeaseSeconds = value as number;
      } else if (key === 'buildConcurrency') {
        if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 64) problems.push('buildConcurrency: must be a whole number from 1 to 64');
        else config.buildConcurrency = value as number;
      } else {
        problems.push(`${key}: unknown setting`);
      }
    }
  }
  const rawRegions = (doc as Record<string, unknown> | null | undefined)?.regions;
  for (const [region, host] of Object.entries(config.regionRegistries)) {
    if (config.registries.some((r) => r.host === host)) continue;
    const i = Array.isArray(rawRegions) ? rawRegions.findIndex((r: unknown) => typeof r === 'object' && r !== null && (r as { name?: unknown }).name === region) : -1;
    problems.push(`regions[${i}].registry: ${host} (region ${region}) is not the host of an entry of registries`);
  }
  if (problems.length > 0) throw new Error(`${path} is invalid:\n  ${problems.join('\n  ')}`);
  return config;
}
