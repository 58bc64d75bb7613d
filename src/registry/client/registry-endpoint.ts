// One configured registry as the client sees it; cli/server-config.ts reads a list of them from the config file.
/** How Kiln reaches an external OCI registry it pulls parents from or pushes images to. */
export interface RegistryEndpoint {
  /** `host[:port]` as it appears in image references. */
  host: string;
  /** Plain HTTP instead of HTTPS (loopback and test registries). */
  insecure: boolean;
  /** Basic credentials, also used to obtain bearer tokens; anonymous when absent. */
  username?: string;
  password?: string;
}
