import { parseArn } from '../domain/arn.js';
import { parseVersionFilter } from '../domain/semver.js';

/**
 * Shapes of a recipe's parent image. Whether a Kiln image or machine image exists is parent-check.ts's question;
 * SSM parameters and registries live outside Kiln, so theirs is settled at build time.
 */

const AMI_RE = /^ami-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;
const SSM_RE = /^ssm:(?:arn:aws[^:]*:ssm:[^:]+:[0-9]{12}:parameter\/?)?[A-Za-z0-9_.\-/]{1,2048}$/;
const MAX_PARENT = 1024;

// The grammar of github.com/distribution/reference, which Docker and every OCI registry client use.
const HOST_PART = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${HOST_PART}(?:\\.${HOST_PART})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const PATH_PART = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REFERENCE_RE = new RegExp(`^((?:${DOMAIN}/)?${PATH_PART}(?:/${PATH_PART})*)(?::[\\w][\\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$`);
const MAX_REPOSITORY_NAME = 255;

/** True for `registry[:port]/repo/path[:tag][@sha256:<64 hex>]`, Docker Hub short names included. */
export function isOciReference(text: string): boolean {
  const m = REFERENCE_RE.exec(text);
  return m !== null && m[1]!.length <= MAX_REPOSITORY_NAME;
}

/** Problem with an Image Builder image ARN used as a parent (wildcards allowed), or undefined when it is fine. */
function imageArnProblem(text: string): string | undefined {
  const arn = parseArn(text);
  if (!arn || arn.resourceType !== 'image') return 'is not an image ARN';
  if (arn.version === undefined) return 'must include a version such as x.x.x, 1.x.x or 1.2.3';
  const filter = parseVersionFilter(arn.version);
  if (!filter) return `has the version ${arn.version}; once a node is 'x', every node to its right must be 'x'`;
  if (arn.build !== undefined && filter.patch === undefined) return 'has a build number after a wildcard version';
  return undefined;
}

/** Why `text` cannot be an image recipe's parent (AMI id, `ssm:` parameter or image ARN), or undefined. */
export function amiParentProblem(text: string): string | undefined {
  if (text.length > MAX_PARENT) return `is longer than ${MAX_PARENT} characters`;
  if (AMI_RE.test(text) || SSM_RE.test(text)) return undefined;
  if (text.startsWith('arn:')) return imageArnProblem(text);
  return 'must be an AMI id (ami-0123456789abcdef0), an SSM parameter (ssm:/path/name) or an Image Builder image ARN (…:image/<name>/x.x.x)';
}

/** Why `text` cannot be a container recipe's parent (OCI reference or image ARN), or undefined. */
export function containerParentProblem(text: string): string | undefined {
  if (text.length > MAX_PARENT) return `is longer than ${MAX_PARENT} characters`;
  if (text.startsWith('arn:')) return imageArnProblem(text);
  if (isOciReference(text)) return undefined;
  return 'must be a container image reference (registry/repository:tag or …@sha256:<digest>) or an Image Builder image ARN';
}

/** Why `text` cannot be a build instance image (AMI id or `ssm:` parameter), or undefined. */
export function instanceImageProblem(text: string): string | undefined {
  return AMI_RE.test(text) || SSM_RE.test(text) ? undefined : 'must be an AMI id (ami-…) or an SSM parameter (ssm:/path/name)';
}

/**
 * The platform a parent image announces unmistakably: AWS's Windows images and SSM parameters, and
 * Microsoft's container images. Anything else is settled by the components (or platformOverride).
 */
export function platformOfParent(text: string): string | undefined {
  const arn = text.startsWith('arn:') ? parseArn(text) : undefined;
  if (arn?.resourceType === 'image' && arn.name.startsWith('windows-')) return 'Windows';
  if (/^ssm:.*\/ami-windows-latest\//.test(text) || /^mcr\.microsoft\.com\/windows\//.test(text)) return 'Windows';
  return undefined;
}
