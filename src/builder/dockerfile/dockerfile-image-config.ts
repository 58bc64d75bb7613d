/**
 * The image config and history a Dockerfile build produces, in the shapes BuildKit writes them, so `docker
 * inspect` of Kiln's image reads like Docker's.
 */

/** Docker's HEALTHCHECK config; durations in nanoseconds, omitted when zero as Docker omits them. */
export interface HealthcheckConfig {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The runtime config of an OCI image (`config` in the image config JSON), with Docker's extensions. */
export interface ImageConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  /** null when ENTRYPOINT reset an inherited CMD, as Docker records it. */
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: HealthcheckConfig;
  Shell?: string[];
}

/** One OCI history entry. */
export interface HistoryEntry {
  created_by: string;
  comment: string;
  empty_layer?: boolean;
}

/** BuildKit's history comment. */
export const HISTORY_COMMENT = 'buildkit.dockerfile.v0';
/** The PATH Docker gives an image that has none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The config with map keys sorted, so its JSON is the same for the same Dockerfile, as Go's encoder makes it. */
export function sortedConfig(config: ImageConfig): ImageConfig {
  const sort = <T>(m: Record<string, T> | undefined) => (m === undefined ? undefined : Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  const out: ImageConfig = { ...config };
  if (config.ExposedPorts) out.ExposedPorts = sort(config.ExposedPorts)!;
  if (config.Volumes) out.Volumes = sort(config.Volumes)!;
  if (config.Labels) out.Labels = sort(config.Labels)!;
  return out;
}
