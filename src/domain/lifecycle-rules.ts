/**
 * Value rules of lifecycle policies, as pure functions that return every issue with its path. The model's
 * types were checked at the API edge; these are the rules the real service applies on top (API reference for
 * LifecyclePolicyDetail*, LifecyclePolicyResourceSelection, and the user guide's image-lifecycle-rules).
 */
import { checkAccountId, checkNonEmpty, checkTagMap } from './distribution-rules.js';
import type { Issue } from './errors.js';
import { parseVersionFilter } from './semver.js';
import { isJsonObject, type JsonObject } from './json.js';

export const RESOURCE_TYPES: readonly string[] = ['AMI_IMAGE', 'CONTAINER_IMAGE'];
export const POLICY_STATUSES: readonly string[] = ['ENABLED', 'DISABLED'];
export const ACTION_TYPES: readonly string[] = ['DELETE', 'DEPRECATE', 'DISABLE'];
export const FILTER_TYPES: readonly string[] = ['AGE', 'COUNT'];
export const TIME_UNITS: readonly string[] = ['DAYS', 'WEEKS', 'MONTHS', 'YEARS'];

const MAX_DETAILS = 3;
const MAX_RECIPES = 50;
const MAX_TAGS = 50;
const MAX_SHARED_ACCOUNTS = 1536;
/** The model's `RoleNameOrArn`: a role name or an IAM role ARN, 1-2048 characters. */
const ROLE_RE = /^(?:arn:aws(?:-[a-z]+)*:iam::[0-9]{12}:role\/)?[a-zA-Z_0-9+=,.@\-_/]+$/;
/** The model's `ResourceName`, which recipe selections use as well. */
const NAME_RE = /^[-_A-Za-z0-9][-_A-Za-z0-9 ]{1,126}[-_A-Za-z0-9]$/;


function checkEnum(value: unknown, path: string, allowed: readonly string[], issues: Issue[], required: boolean): void {
  if (value === undefined || value === null) {
    if (required) issues.push({ path, message: `is required: one of ${allowed.join(', ')}` });
    return;
  }
  if (typeof value !== 'string' || !allowed.includes(value)) issues.push({ path, message: `must be one of ${allowed.join(', ')}, got '${String(value)}'` });
}

function checkInt(value: unknown, path: string, min: number, max: number, issues: Issue[]): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    issues.push({ path, message: `must be an integer from ${min} to ${max}, got ${String(value)}` });
  }
}

/** The action of one rule: what it may extend to depends on the action and on the policy's resource type. */
function checkAction(value: unknown, path: string, resourceType: unknown, issues: Issue[]): void {
  if (!isJsonObject(value)) {
    issues.push({ path, message: 'is required' });
    return;
  }
  checkEnum(value.type, `${path}.type`, ACTION_TYPES, issues, true);
  const type = value.type;
  if (resourceType === 'CONTAINER_IMAGE' && (type === 'DEPRECATE' || type === 'DISABLE')) {
    issues.push({ path: `${path}.type`, message: `${type} rules apply to AMI images only; container image policies take DELETE rules` });
  }
  const include = value.includeResources;
  if (!isJsonObject(include)) return;
  const at = `${path}.includeResources`;
  if (type === 'DEPRECATE' || type === 'DISABLE') {
    if (include.snapshots === true) issues.push({ path: `${at}.snapshots`, message: `${type} rules can include AMIs only` });
    if (include.containers === true) issues.push({ path: `${at}.containers`, message: `${type} rules can include AMIs only` });
  }
  if (include.snapshots === true && include.amis !== true) issues.push({ path: `${at}.snapshots`, message: 'snapshots can only be included together with amis' });
  if (resourceType === 'AMI_IMAGE' && include.containers === true) issues.push({ path: `${at}.containers`, message: 'does not apply to an AMI_IMAGE policy' });
  if (resourceType === 'CONTAINER_IMAGE') {
    for (const k of ['amis', 'snapshots']) if (include[k] === true) issues.push({ path: `${at}.${k}`, message: 'does not apply to a CONTAINER_IMAGE policy' });
  }
}

/** AGE filters need a unit and may keep a minimum; COUNT filters are a plain number of images to keep. */
function checkFilter(value: unknown, path: string, issues: Issue[]): void {
  if (!isJsonObject(value)) {
    issues.push({ path, message: 'is required' });
    return;
  }
  checkEnum(value.type, `${path}.type`, FILTER_TYPES, issues, true);
  checkInt(value.value, `${path}.value`, 1, 1000, issues);
  if (value.type === 'AGE') {
    checkEnum(value.unit, `${path}.unit`, TIME_UNITS, issues, true);
    if (value.retainAtLeast !== undefined) checkInt(value.retainAtLeast, `${path}.retainAtLeast`, 1, 10, issues);
  }
  if (value.type === 'COUNT') {
    if (value.unit !== undefined) issues.push({ path: `${path}.unit`, message: 'applies to AGE filters only; a COUNT filter counts images' });
    if (value.retainAtLeast !== undefined) issues.push({ path: `${path}.retainAtLeast`, message: 'applies to AGE filters only; a COUNT filter already keeps its value' });
  }
}

function checkExclusionRules(value: unknown, path: string, resourceType: unknown, issues: Issue[]): void {
  if (!isJsonObject(value)) return;
  checkTagMap(value.tagMap, `${path}.tagMap`, issues, MAX_TAGS);
  const amis = value.amis;
  if (!isJsonObject(amis)) return;
  const at = `${path}.amis`;
  if (resourceType === 'CONTAINER_IMAGE') issues.push({ path: at, message: 'AMI exclusion rules do not apply to a CONTAINER_IMAGE policy' });
  if (Array.isArray(amis.regions)) {
    if (amis.regions.length === 0) issues.push({ path: `${at}.regions`, message: 'must list at least one region' });
    amis.regions.forEach((r, i) => checkNonEmpty(r, `${at}.regions[${i}]`, issues, true));
  }
  if (Array.isArray(amis.sharedAccounts)) {
    const n = amis.sharedAccounts.length;
    if (n === 0 || n > MAX_SHARED_ACCOUNTS) issues.push({ path: `${at}.sharedAccounts`, message: `must hold 1-${MAX_SHARED_ACCOUNTS} account ids, got ${n}` });
    amis.sharedAccounts.forEach((a, i) => checkAccountId(a, `${at}.sharedAccounts[${i}]`, issues));
  }
  const last = amis.lastLaunched;
  if (isJsonObject(last)) {
    checkInt(last.value, `${at}.lastLaunched.value`, 1, 365, issues);
    checkEnum(last.unit, `${at}.lastLaunched.unit`, TIME_UNITS, issues, true);
  }
  checkTagMap(amis.tagMap, `${at}.tagMap`, issues, MAX_TAGS);
}

/** `policyDetails`: 1-3 rules, each action type at most once, each rule valid for the policy's resource type. */
export function checkPolicyDetails(value: unknown, resourceType: unknown): Issue[] {
  const issues: Issue[] = [];
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_DETAILS) {
    issues.push({ path: 'policyDetails', message: `must hold 1-${MAX_DETAILS} rules, got ${Array.isArray(value) ? value.length : 'none'}` });
    if (!Array.isArray(value)) return issues;
  }
  const seen = new Map<unknown, number>();
  value.forEach((detail: unknown, i) => {
    const path = `policyDetails[${i}]`;
    if (!isJsonObject(detail)) {
      issues.push({ path, message: 'must be an object with action and filter' });
      return;
    }
    checkAction(detail.action, `${path}.action`, resourceType, issues);
    checkFilter(detail.filter, `${path}.filter`, issues);
    checkExclusionRules(detail.exclusionRules, `${path}.exclusionRules`, resourceType, issues);
    const type = isJsonObject(detail.action) ? detail.action.type : undefined;
    if (typeof type === 'string' && ACTION_TYPES.includes(type)) {
      const first = seen.get(type);
      // A policy holds one rule per action: the service reports the repeat, not the first one.
      if (first !== undefined) issues.push({ path: `${path}.action.type`, message: `${type} is already the action of policyDetails[${first}]; a policy has at most one rule per action` });
      else seen.set(type, i);
    }
  });
  return issues;
}

/** `resourceSelection`: either recipes (name + version, wildcards allowed) or a tag map, never both. */
export function checkResourceSelection(value: unknown): Issue[] {
  const issues: Issue[] = [];
  const path = 'resourceSelection';
  if (!isJsonObject(value)) return [{ path, message: 'is required: give recipes or tagMap' }];
  const hasRecipes = value.recipes !== undefined && value.recipes !== null;
  const hasTags = value.tagMap !== undefined && value.tagMap !== null;
  if (hasRecipes === hasTags) {
    issues.push({ path, message: hasRecipes ? 'give recipes or tagMap, not both' : 'must give recipes or tagMap' });
  }
  if (hasRecipes) {
    const recipes = Array.isArray(value.recipes) ? value.recipes : [];
    if (recipes.length === 0 || recipes.length > MAX_RECIPES) issues.push({ path: `${path}.recipes`, message: `must hold 1-${MAX_RECIPES} recipes, got ${recipes.length}` });
    recipes.forEach((r: unknown, i) => {
      const at = `${path}.recipes[${i}]`;
      const recipe = isJsonObject(r) ? r : {};
      if (typeof recipe.name !== 'string' || !NAME_RE.test(recipe.name)) {
        issues.push({ path: `${at}.name`, message: 'must be a recipe name: 3-128 letters, digits, spaces, - and _' });
      }
      if (typeof recipe.semanticVersion !== 'string' || !parseVersionFilter(recipe.semanticVersion)) {
        issues.push({ path: `${at}.semanticVersion`, message: `must be <major>.<minor>.<patch> with optional trailing x wildcards (1.0.x, 1.x.x, x.x.x), got '${String(recipe.semanticVersion)}'` });
      }
    });
  }
  if (hasTags) checkTagMap(value.tagMap, `${path}.tagMap`, issues, MAX_TAGS);
  return issues;
}

/**
 * Every rule on the fields CreateLifecyclePolicy and UpdateLifecyclePolicy share: executionRole,
 * resourceType, status, description, policyDetails and resourceSelection.
 */
export function checkLifecyclePolicy(input: JsonObject): Issue[] {
  const issues: Issue[] = [];
  const role = input.executionRole;
  if (typeof role !== 'string' || role.length < 1 || role.length > 2048 || !ROLE_RE.test(role)) {
    issues.push({ path: 'executionRole', message: `must be an IAM role name or role ARN (arn:aws:iam::<account>:role/<name>), got '${String(role)}'` });
  }
  checkEnum(input.resourceType, 'resourceType', RESOURCE_TYPES, issues, true);
  checkEnum(input.status, 'status', POLICY_STATUSES, issues, false);
  checkNonEmpty(input.description, 'description', issues);
  issues.push(...checkPolicyDetails(input.policyDetails, input.resourceType));
  issues.push(...checkResourceSelection(input.resourceSelection));
  return issues;
}

/** A lifecycle policy's display name: the model's `ResourceName`. */
export function checkPolicyName(value: unknown): Issue[] {
  return typeof value === 'string' && NAME_RE.test(value) ? [] : [{ path: 'name', message: 'must be 3-128 characters: letters, digits, spaces, - and _, not starting or ending with a space' }];
}

/** The states StartResourceStateUpdate moves an image to (the model's ResourceStatus). */
export const RESOURCE_STATUSES: readonly string[] = ['AVAILABLE', 'DELETED', 'DEPRECATED', 'DISABLED'];

/**
 * StartResourceStateUpdate's own fields for an image of `imageType` (AMI or DOCKER): the target state, the
 * associated resources it may include (a deletion must name at least one, as the user guide says; AMIs and
 * snapshots belong to AMI images, containers to container images, and only a deletion removes snapshots or
 * containers), the AMI exclusion rules and the execution role.
 */
export function checkResourceStateUpdate(input: JsonObject, imageType: unknown): Issue[] {
  const issues: Issue[] = [];
  const state = isJsonObject(input.state) ? input.state : {};
  checkEnum(state.status, 'state.status', RESOURCE_STATUSES, issues, true);
  const status = state.status;
  const role = input.executionRole;
  if (role !== undefined && (typeof role !== 'string' || role.length < 1 || role.length > 2048 || !ROLE_RE.test(role))) {
    issues.push({ path: 'executionRole', message: `must be an IAM role name or role ARN (arn:aws:iam::<account>:role/<name>), got '${String(role)}'` });
  }
  const include = isJsonObject(input.includeResources) ? input.includeResources : {};
  const named = (['amis', 'snapshots', 'containers'] as const).filter((k) => include[k] === true);
  if (status === 'DELETED' && named.length === 0) {
    issues.push({ path: 'includeResources', message: 'a deletion must include at least one associated resource type: amis, snapshots or containers' });
  }
  for (const k of named) {
    if (imageType === 'DOCKER' && k !== 'containers') issues.push({ path: `includeResources.${k}`, message: 'does not apply to a container image' });
    if (imageType === 'AMI' && k === 'containers') issues.push({ path: `includeResources.${k}`, message: 'does not apply to an AMI image' });
    if (status !== 'DELETED' && k !== 'amis') issues.push({ path: `includeResources.${k}`, message: `only a deletion removes ${k}; ${String(status)} can include amis only` });
  }
  if (include.snapshots === true && include.amis !== true) issues.push({ path: 'includeResources.snapshots', message: 'snapshots can only be included together with amis' });
  const exclusion = isJsonObject(input.exclusionRules) ? input.exclusionRules : undefined;
  if (exclusion) checkExclusionRules({ amis: exclusion.amis }, 'exclusionRules', imageType === 'DOCKER' ? 'CONTAINER_IMAGE' : 'AMI_IMAGE', issues);
  return issues;
}
