import { formatArn } from '../domain/arn.js';
import { latestSelectors, parseSemver, resolveLatest, type VersionFilter } from '../domain/semver.js';
import type { ResourceRecord } from './store.js';

/** The ARN of a versioned resource; `version` may be a wildcard selector, and is left off when absent. */
export function versionedArn(region: string, owner: string, type: string, slug: string, version?: string): string {
  return formatArn({ partition: 'aws', region, owner, resourceType: type, name: slug, ...(version === undefined ? {} : { version }) });
}

/** AWS's latestVersionReferences for a stored version: the x.x.x, 1.x.x, 1.2.x and 1.2.3 ARNs. */
export function latestVersionReferences(record: ResourceRecord): Record<string, string> {
  const s = latestSelectors(parseSemver(record.version)!);
  const arn = (v: string) => versionedArn(record.region, record.accountId, record.type, record.name, v);
  return { latestVersionArn: arn(s.latest), latestMajorVersionArn: arn(s.major), latestMinorVersionArn: arn(s.minor), latestPatchVersionArn: arn(s.patch) };
}

/**
 * The record a selector designates among the builds of one name (store order): the highest version matching
 * the filter, and within it the given build or, without one, the newest build.
 */
export function pickBuild(records: readonly ResourceRecord[], filter: VersionFilter, build?: number): ResourceRecord | undefined {
  const best = resolveLatest(records.map((r) => ({ ...parseSemver(r.version)!, record: r })), filter);
  if (!best) return undefined;
  const builds = records.filter((r) => r.version === best.record.version);
  return build === undefined ? builds[builds.length - 1] : builds.find((r) => r.build === build);
}
