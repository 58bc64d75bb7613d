/**
 * Lifecycle policy evaluation as pure functions: which image build versions a policy selects, and which action
 * (DEPRECATE, DISABLE, DELETE) each one gets in one execution, following the user guide's rules
 * (image-lifecycle-rules, lifecycle-policy-execution):
 *
 * - images are evaluated newest first; builds under way and DELETED images are left out;
 * - rules apply in priority order deprecate, disable, delete, and at most one action per image per execution;
 * - retention (COUNT's value, AGE's retainAtLeast) is counted per recipe version: the newest images fill the
 *   slots, FAILED and CANCELLED images take none and always qualify for deletion;
 * - `exclusionRules.tagMap` is checked after retention, on images that would otherwise get the action;
 * - `exclusionRules.amis` applies to the output machine images of an image that gets the action.
 */
import type { ImageStatus } from '../domain/image-state.js';
import { isInProgress } from '../domain/image-state.js';
import { matchesFilter, parseSemver, parseVersionFilter } from '../domain/semver.js';
import { nameToSlug } from '../domain/arn.js';

export type RuleAction = 'DEPRECATE' | 'DISABLE' | 'DELETE';
export type TimeUnit = 'DAYS' | 'WEEKS' | 'MONTHS' | 'YEARS';

export interface IncludeResources {
  amis?: boolean;
  snapshots?: boolean;
  containers?: boolean;
}

/** `exclusionRules.amis`: conditions on an output machine image that keep it out of the action. */
export interface AmiExclusionRules {
  isPublic?: boolean;
  regions?: string[];
  sharedAccounts?: string[];
  lastLaunched?: { value: number; unit: TimeUnit };
  tagMap?: Record<string, string>;
}

/** One rule of `policyDetails`, as CreateLifecyclePolicy stored it (already validated). */
export interface PolicyRule {
  action: { type: RuleAction; includeResources?: IncludeResources };
  filter: { type: 'AGE' | 'COUNT'; value: number; unit?: TimeUnit; retainAtLeast?: number };
  exclusionRules?: { tagMap?: Record<string, string>; amis?: AmiExclusionRules };
}

/** The parts of a lifecycle policy evaluation reads. */
export interface PolicyView {
  resourceType: 'AMI_IMAGE' | 'CONTAINER_IMAGE';
  policyDetails: PolicyRule[];
  resourceSelection: { recipes?: { name: string; semanticVersion: string }[]; tagMap?: Record<string, string> };
}

/** An output machine image, as AMI exclusion rules see it. */
export interface AmiFacts {
  amiId: string;
  accountId: string;
  region: string;
  /** Launchable by everyone (launch permission group `all`). */
  isPublic: boolean;
  /** Accounts the launch permissions name. */
  sharedAccounts: string[];
  tags: Record<string, string>;
}

/** An image build version, as evaluation sees it. */
export interface CandidateImage {
  arn: string;
  /** The recipe's display name (the image's name). */
  name: string;
  /** The ARN's name node (the recipe name as a slug). */
  slug: string;
  /** `major.minor.patch` of the recipe. */
  version: string;
  build: number;
  type: 'AMI' | 'DOCKER';
  status: ImageStatus;
  dateCreated: Date;
  tags: Record<string, string>;
  amis: AmiFacts[];
}

/** What one execution does to one image: an action to take, or one an exclusion rule prevents. */
export interface ImagePlan {
  image: CandidateImage;
  action: RuleAction;
  /** The index in policyDetails of the rule that decided. */
  rule: number;
  outcome: 'ACT' | 'SKIPPED';
  reason: string;
  includeResources: IncludeResources;
  /** For an AMI image whose rule includes AMIs: each output machine image, with the exclusion that spares it. */
  amis: { ami: AmiFacts; skipped?: string }[];
}

const PRIORITY: readonly RuleAction[] = ['DEPRECATE', 'DISABLE', 'DELETE'];
const DAY_MS = 24 * 60 * 60 * 1000;

/** Images a rule leaves alone because of their state (the user guide's "image states that skip rule evaluation"). */
const STATE_SKIPS: Readonly<Record<RuleAction, ReadonlySet<ImageStatus>>> = {
  DEPRECATE: new Set<ImageStatus>(['DEPRECATED', 'DISABLED', 'FAILED', 'CANCELLED']),
  DISABLE: new Set<ImageStatus>(['DISABLED', 'FAILED', 'CANCELLED']),
  DELETE: new Set<ImageStatus>(),
};

const failedLike = (s: ImageStatus): boolean => s === 'FAILED' || s === 'CANCELLED';

/**
 * The instant `value` `unit`s before `now`. Months and years are calendar months and years (UTC), so 1 MONTHS
 * before March 31 is March 3 in a non-leap year, as JavaScript's Date rolls the day over.
 */
export function ageThreshold(now: Date, value: number, unit: TimeUnit): Date {
  const t = new Date(now.getTime());
  switch (unit) {
    case 'DAYS':
      return new Date(now.getTime() - value * DAY_MS);
    case 'WEEKS':
      return new Date(now.getTime() - value * 7 * DAY_MS);
    case 'MONTHS':
      t.setUTCMonth(t.getUTCMonth() - value);
      return t;
    case 'YEARS':
      t.setUTCFullYear(t.getUTCFullYear() - value);
      return t;
  }
}

/** The first pair of `tagMap` that `tags` carries with the same value, as `key=value`. */
function matchingTag(tags: Record<string, string>, tagMap: Record<string, string> | undefined): string | undefined {
  for (const [k, v] of Object.entries(tagMap ?? {})) if (tags[k] === v) return `${k}=${v}`;
  return undefined;
}

/**
 * Whether the policy's resourceSelection picks an image: a recipe (display name or slug, version with
 * wildcards) of the policy's resource type, or any one pair of the tag map on the image itself.
 */
export function isSelected(policy: PolicyView, image: CandidateImage): boolean {
  if (image.type !== (policy.resourceType === 'AMI_IMAGE' ? 'AMI' : 'DOCKER')) return false;
  const sel = policy.resourceSelection;
  if (sel.tagMap) return matchingTag(image.tags, sel.tagMap) !== undefined;
  const version = parseSemver(image.version);
  if (!version) return false;
  return (sel.recipes ?? []).some((r) => {
    const filter = parseVersionFilter(r.semanticVersion);
    return (r.name === image.name || nameToSlug(r.name) === image.slug) && filter !== undefined && matchesFilter(version, filter);
  });
}

/**
 * Why an output machine image is spared by `exclusionRules.amis`, checking in the user guide's order (region,
 * public, tags, shared accounts); undefined when none applies. `lastLaunched` is not evaluated: Kiln does not
 * record when a machine image last launched an instance, and reporting a guess would delete or keep at random.
 */
export function amiExclusion(rules: AmiExclusionRules | undefined, ami: AmiFacts): string | undefined {
  if (!rules) return undefined;
  if (rules.regions?.includes(ami.region)) return `the machine image is in ${ami.region}, a region exclusionRules.amis.regions excludes`;
  if (rules.isPublic === true && ami.isPublic) return 'the machine image is public and exclusionRules.amis.isPublic excludes public machine images';
  const tag = matchingTag(ami.tags, rules.tagMap);
  if (tag) return `the machine image has the tag ${tag} of exclusionRules.amis.tagMap`;
  const shared = ami.sharedAccounts.find((a) => rules.sharedAccounts?.includes(a));
  if (shared) return `the machine image is shared with account ${shared}, which exclusionRules.amis.sharedAccounts lists`;
  return undefined;
}

type Verdict = { kind: 'none' } | { kind: 'act'; reason: string } | { kind: 'excluded'; reason: string };

/** Newest first: creation date, then build number. */
function newestFirst(a: CandidateImage, b: CandidateImage): number {
  return b.dateCreated.getTime() - a.dateCreated.getTime() || b.build - a.build;
}

/** One rule's verdict on every image of one recipe version (`group`, newest first). */
function ruleVerdicts(rule: PolicyRule, group: readonly CandidateImage[], now: Date): Verdict[] {
  const { filter } = rule;
  const keep = filter.type === 'COUNT' ? filter.value : (filter.retainAtLeast ?? 0);
  const threshold = filter.type === 'AGE' ? ageThreshold(now, filter.value, filter.unit ?? 'DAYS') : undefined;
  let taken = 0;
  return group.map((image): Verdict => {
    // Retention slots go to the newest images that count, whatever this rule would do to them.
    let retained = false;
    if (!failedLike(image.status) && taken < keep) {
      taken++;
      retained = true;
    }
    if (STATE_SKIPS[rule.action.type].has(image.status)) return { kind: 'none' };
    let reason: string;
    if (failedLike(image.status)) {
      reason = `the image is ${image.status}; failed and cancelled images take no retention slot and qualify for deletion`;
    } else if (retained) {
      return { kind: 'none' };
    } else if (threshold !== undefined) {
      if (image.dateCreated.getTime() > threshold.getTime()) return { kind: 'none' };
      reason = `created ${image.dateCreated.toISOString()}, at least ${filter.value} ${filter.unit ?? 'DAYS'} ago`;
      if (keep > 0) reason += `, and not among the ${keep} newest images of ${image.name} ${image.version}`;
    } else {
      reason = `not among the ${keep} newest images of ${image.name} ${image.version}`;
    }
    const tag = matchingTag(image.tags, rule.exclusionRules?.tagMap);
    if (tag) return { kind: 'excluded', reason: `the image has the tag ${tag} of exclusionRules.tagMap` };
    return { kind: 'act', reason };
  });
}

/**
 * What one execution of `policy` does to `images` (every image of the policy's account and region; those it
 * does not select are ignored) at `now`. Images that no rule touches are not in the result; images that a rule
 * would touch but an exclusion tag protects are, with outcome SKIPPED. Newest first.
 */
export function evaluatePolicy(policy: PolicyView, images: readonly CandidateImage[], now: Date): ImagePlan[] {
  const selected = images.filter((i) => i.status !== 'DELETED' && !isInProgress(i.status) && isSelected(policy, i));
  const groups = new Map<string, CandidateImage[]>();
  for (const image of selected) {
    const key = `${image.slug}/${image.version}`;
    const group = groups.get(key);
    if (group) group.push(image);
    else groups.set(key, [image]);
  }
  const rules = policy.policyDetails.map((rule, index) => ({ rule, index })).sort((a, b) => PRIORITY.indexOf(a.rule.action.type) - PRIORITY.indexOf(b.rule.action.type));
  const plans: ImagePlan[] = [];
  for (const group of groups.values()) {
    group.sort(newestFirst);
    const verdicts = rules.map(({ rule }) => ruleVerdicts(rule, group, now));
    group.forEach((image, i) => {
      let excluded: { at: number; reason: string } | undefined;
      for (const [r, { rule, index }] of rules.entries()) {
        const v = verdicts[r]![i]!;
        if (v.kind === 'excluded') excluded ??= { at: r, reason: v.reason };
        if (v.kind !== 'act') continue;
        const include = rule.action.includeResources ?? {};
        const amis = image.type === 'AMI' && include.amis === true ? image.amis.map((ami) => ({ ami, ...optional(amiExclusion(rule.exclusionRules?.amis, ami)) })) : [];
        plans.push({ image, action: rule.action.type, rule: index, outcome: 'ACT', reason: v.reason, includeResources: include, amis });
        return;
      }
      if (excluded) {
        const { rule, index } = rules[excluded.at]!;
        plans.push({ image, action: rule.action.type, rule: index, outcome: 'SKIPPED', reason: excluded.reason, includeResources: rule.action.includeResources ?? {}, amis: [] });
      }
    });
  }
  return plans.sort((a, b) => newestFirst(a.image, b.image));
}

function optional(skipped: string | undefined): { skipped?: string } {
  return skipped === undefined ? {} : { skipped };
}
