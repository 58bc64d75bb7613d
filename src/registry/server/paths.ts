/**
 * The distribution API's URL layout under /v2/. Repository names contain `/`, so the path is matched from
 * its end: `<name>/manifests/<ref>`, `<name>/blobs/uploads/[<id>]`, `<name>/blobs/<digest>`, `<name>/tags/list`,
 * `<name>/referrers/<digest>`.
 */
export type RegistryRoute =
  | { kind: 'ping' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'referrers'; name: string; digest: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string };

const PATTERNS: readonly [RegExp, (m: RegExpExecArray) => RegistryRoute][] = [
  [/^\/v2\/?$/, () => ({ kind: 'ping' })],
  [/^\/v2\/_catalog$/, () => ({ kind: 'catalog' })],
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[1]! })],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: 'referrers', name: m[1]!, digest: m[2]! })],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1]!, reference: m[2]! })],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', name: m[1]! })],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', name: m[1]!, id: m[2]! })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[1]!, digest: m[2]! })],
];

/** The route of a decoded path (without the query), or undefined when it is none of the API's. */
export function matchRegistryPath(pathname: string): RegistryRoute | undefined {
  for (const [re, make] of PATTERNS) {
    const m = re.exec(pathname);
    if (m) return make(m);
  }
  return undefined;
}

/** Path of a repository's blob, manifest or upload session, as Location headers give them. */
export const registryPaths = {
  blob: (name: string, digest: string) => `/v2/${name}/blobs/${digest}`,
  manifest: (name: string, reference: string) => `/v2/${name}/manifests/${reference}`,
  upload: (name: string, id: string) => `/v2/${name}/blobs/uploads/${id}`,
  tags: (name: string) => `/v2/${name}/tags/list`,
  referrers: (name: string, digest: string) => `/v2/${name}/referrers/${digest}`,
  catalog: () => '/v2/_catalog',
};
