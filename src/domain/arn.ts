/**
 * Image Builder ARNs: `arn:<partition>:imagebuilder:<region>:<account|aws>:<type>/<name>[/<version>[/<build>]]`.
 * Display names become ARN slugs by lower-casing and turning spaces into `-`.
 */

/** Resource types whose ARN carries a semantic version. */
export const VERSIONED_TYPES = new Set(['component', 'image', 'image-recipe', 'container-recipe', 'workflow/build', 'workflow/test', 'workflow/distribution']);

export interface ImageBuilderArn {
  partition: string;
  region: string;
  /** 12-digit account id, or `aws` for Kiln-managed resources. */
  owner: string;
  /** `component`, `image-recipe`, `workflow/build`, ... */
  resourceType: string;
  name: string;
  /** `1.2.3` or a wildcard such as `1.x.x`; absent for unversioned resources and name-only ARNs. */
  version?: string;
  build?: number;
}

/** Display name → ARN slug, as AWS does (`My Example Image` → `my-example-image`). */
export function nameToSlug(name: string): string {
  return name.toLowerCase().replace(/ /g, '-');
}

const ARN_RE = /^arn:(aws[^:]*):imagebuilder:([^:]+):([0-9]{12}|aws):((?:workflow\/(?:build|test|distribution))|[a-z-]+)\/([a-z0-9-_]+)(?:\/((?:x|[0-9]+)\.(?:x|[0-9]+)\.(?:x|[0-9]+))(?:\/([0-9]+))?)?$/;

/** Parses an Image Builder ARN; undefined when it does not have that shape. */
export function parseArn(text: string): ImageBuilderArn | undefined {
  const m = ARN_RE.exec(text);
  if (!m) return undefined;
  const arn: ImageBuilderArn = { partition: m[1]!, region: m[2]!, owner: m[3]!, resourceType: m[4]!, name: m[5]! };
  if (m[6] !== undefined) arn.version = m[6];
  if (m[7] !== undefined) arn.build = Number(m[7]);
  return arn;
}

/** Formats an ARN; version and build are appended when present. */
export function formatArn(arn: ImageBuilderArn): string {
  let text = `arn:${arn.partition}:imagebuilder:${arn.region}:${arn.owner}:${arn.resourceType}/${arn.name}`;
  if (arn.version !== undefined) text += `/${arn.version}`;
  if (arn.version !== undefined && arn.build !== undefined) text += `/${arn.build}`;
  return text;
}
