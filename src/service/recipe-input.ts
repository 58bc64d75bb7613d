import type { Issue } from '../domain/errors.js';
import { parseSemver } from '../domain/semver.js';
import { str } from '../domain/json.js';

/**
 * Field checks shared by image and container recipes, in the model's bounds. Each returns every issue with
 * its path so that one request reports all its problems at once.
 */

const NAME_RE = /^[-_A-Za-z0-9][-_A-Za-z0-9 ]{1,126}[-_A-Za-z0-9]$/;
const VOLUME_TYPES = new Set(['standard', 'io1', 'io2', 'gp2', 'gp3', 'sc1', 'st1']);
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;
const MAX_TAGS = 50;
/** Recipes take at most 20 build and test components. */
export const MAX_COMPONENTS = 20;


function length(issues: Issue[], path: string, value: unknown, min: number, max: number): void {
  if (typeof value === 'string' && (value.length < min || value.length > max)) issues.push({ path, message: `must be ${min}-${max} characters` });
}

function intRange(issues: Issue[], path: string, value: unknown, min: number, max: number): void {
  if (typeof value === 'number' && (!Number.isInteger(value) || value < min || value > max)) issues.push({ path, message: `must be an integer from ${min} to ${max}` });
}

/** name, semanticVersion (no wildcards: the service does not number recipes), description, workingDirectory. */
export function checkCommon(input: Record<string, unknown>): Issue[] {
  const issues: Issue[] = [];
  if (!NAME_RE.test(str(input.name) ?? '')) issues.push({ path: 'name', message: 'must be 3-128 characters: letters, digits, spaces, - and _, not starting or ending with a space' });
  if (!parseSemver(str(input.semanticVersion) ?? '')) issues.push({ path: 'semanticVersion', message: 'must be <major>.<minor>.<patch>, each 0-1073741823, without wildcards' });
  length(issues, 'description', input.description, 1, 1024);
  length(issues, 'workingDirectory', input.workingDirectory, 1, 1024);
  length(issues, 'kmsKeyId', input.kmsKeyId, 1, 1024);
  issues.push(...checkTags('tags', input.tags));
  return issues;
}

/** A tag map: at most 50 tags, keys 1-128 characters outside the reserved `aws:` prefix, values up to 256. */
export function checkTags(path: string, tags: unknown): Issue[] {
  if (typeof tags !== 'object' || tags === null) return [];
  const issues: Issue[] = [];
  const entries = Object.entries(tags as Record<string, string>);
  if (entries.length > MAX_TAGS) issues.push({ path, message: `has ${entries.length} tags; the limit is ${MAX_TAGS}` });
  for (const [key, value] of entries) {
    if (key.length < 1 || key.length > 128) issues.push({ path: `${path}.${key}`, message: 'tag keys must be 1-128 characters' });
    if (key.toLowerCase().startsWith('aws:')) issues.push({ path: `${path}.${key}`, message: "tag keys starting with 'aws:' are reserved" });
    if (value.length > 256) issues.push({ path: `${path}.${key}`, message: 'tag values must be at most 256 characters' });
  }
  return issues;
}

/** EC2 block device mappings for the build instance, with the model's volume bounds. */
export function checkBlockDeviceMappings(path: string, mappings: unknown): Issue[] {
  if (!Array.isArray(mappings)) return [];
  const issues: Issue[] = [];
  mappings.forEach((m: Record<string, unknown>, i) => {
    const at = `${path}[${i}]`;
    length(issues, `${at}.deviceName`, m.deviceName, 1, 1024);
    length(issues, `${at}.virtualName`, m.virtualName, 1, 1024);
    if (m.noDevice !== undefined && m.noDevice !== '') issues.push({ path: `${at}.noDevice`, message: 'must be the empty string, which suppresses the device' });
    const ebs = m.ebs as Record<string, unknown> | undefined;
    if (!ebs) return;
    intRange(issues, `${at}.ebs.volumeSize`, ebs.volumeSize, 1, 16000);
    intRange(issues, `${at}.ebs.iops`, ebs.iops, 100, 64000);
    intRange(issues, `${at}.ebs.throughput`, ebs.throughput, 125, 1000);
    if (ebs.volumeType !== undefined && !VOLUME_TYPES.has(String(ebs.volumeType))) {
      issues.push({ path: `${at}.ebs.volumeType`, message: `must be one of ${[...VOLUME_TYPES].join(', ')}` });
    }
    length(issues, `${at}.ebs.kmsKeyId`, ebs.kmsKeyId, 1, 1024);
    length(issues, `${at}.ebs.snapshotId`, ebs.snapshotId, 1, 1024);
  });
  return issues;
}

/** additionalInstanceConfiguration: userDataOverride is base64 of at most 21847 characters. */
export function checkAdditionalInstanceConfiguration(value: unknown): Issue[] {
  const user = str((value as Record<string, unknown> | undefined)?.userDataOverride);
  if (user === undefined) return [];
  const path = 'additionalInstanceConfiguration.userDataOverride';
  if (user.length < 1 || user.length > 21847) return [{ path, message: 'must be 1-21847 characters' }];
  return BASE64_RE.test(user) ? [] : [{ path, message: 'must be base64-encoded user data' }];
}
