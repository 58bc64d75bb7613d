/**
 * Create, Get, List, ListBuildVersions and Delete for versioned families, once: semantic versions with build
 * numbers, `x` wildcards, owner views, and the dependency check before a build goes.
 */
import { formatArn, nameToSlug, parseArn, type ImageBuilderArn } from '../domain/arn.js';
import { KilnError } from '../domain/errors.js';
import { paginate, queryFingerprint } from '../domain/pagination.js';
import { parseSemver, parseVersionFilter, type VersionFilter } from '../domain/semver.js';
import type { Store } from '../store/store.js';
import { pickBuild, versionedArn } from '../store/versioned.js';
import { KILN_MANAGED_OWNER, listByOwnerView, readableVersions } from '../store/visibility.js';
import type { Call, VersionedFamily } from './family.js';
import { applyFilters } from './filters.js';
import { idempotencyKey } from './idempotency.js';
import { typed, type TypedRecord } from './typed-record.js';
import { str, type JsonObject } from '../domain/json.js';

/** The owner views of the List operations; Kiln has no marketplace, so the last two are always empty. */
const OWNER_VIEWS = ['Self', 'Shared', 'Amazon', 'ThirdParty', 'AWSMarketplace'];

/** One page of a List operation's wire items. */
export interface Page {
  items: JsonObject[];
  nextToken?: string;
}

/** The family ARN `text` names, by shape only: one of the family's types, with a version where it needs one, and no build where it numbers none. */
function familyArn<T extends JsonObject>(family: VersionedFamily<T>, text: unknown, field: string): ImageBuilderArn {
  const arn = typeof text === 'string' ? parseArn(text) : undefined;
  if (!arn || !family.arn.matches(arn.resourceType) || (family.arn.versionRequired && arn.version === undefined) || (!family.builds && arn.build !== undefined)) {
    const shape = family.arn.shape === undefined ? '' : ` (${family.arn.shape})`;
    throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' is not a valid ${family.noun} ARN${shape}: ${String(text)}`);
  }
  return arn;
}

/** NotFound for an ARN the caller cannot reach, without saying whether it exists. */
function outOfReach<T extends JsonObject>(family: VersionedFamily<T>, ctx: Call, text: unknown): KilnError {
  return new KilnError('NotFound', `The ${family.arn.hiddenNoun} ${String(text)} does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}.`);
}

/** Refuses an ARN outside the caller's region, or outside its account unless `anyOwner` (or the family's Kiln-managed owner). */
function checkScope<T extends JsonObject>(family: VersionedFamily<T>, ctx: Call, arn: ImageBuilderArn, text: unknown, anyOwner: boolean): void {
  const reachable = arn.owner === ctx.accountId || anyOwner || (family.managed === true && arn.owner === KILN_MANAGED_OWNER);
  if (arn.region !== ctx.region || !reachable) throw outOfReach(family, ctx, text);
}

/** The family ARN `text` names, if the caller may address it: its region, and its own account unless `anyOwner`. */
export function addressedArn<T extends JsonObject>(family: VersionedFamily<T>, ctx: Call, text: unknown, field: string, anyOwner: boolean): ImageBuilderArn {
  const arn = familyArn(family, text, field);
  checkScope(family, ctx, arn, text, anyOwner);
  return arn;
}

/** The version filter of a Get ARN, and its build rule (family.arn.wildcardBuild). */
function selector<T extends JsonObject>(family: VersionedFamily<T>, arn: ImageBuilderArn, text: unknown, field: string): VersionFilter {
  if (arn.version === undefined) throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' must include a version: ${String(text)}`);
  const filter = parseVersionFilter(arn.version);
  if (!filter) throw new KilnError('InvalidVersion', `The version in ${String(text)} is not valid: once a node is 'x', every node to its right must be 'x'.`);
  if (family.arn.wildcardBuild && arn.build !== undefined && (filter.major === undefined || filter.minor === undefined || filter.patch === undefined)) {
    throw new KilnError('InvalidArgument', family.arn.wildcardBuild(field, String(text)));
  }
  return filter;
}

/**
 * Stores a new version of `name` in the caller's account (build 1 when the family numbers builds); a version
 * that exists is AlreadyExists, a repeated clientToken with the same input the first answer.
 */
export async function createVersion<T extends JsonObject>(store: Store, ctx: Call, family: Pick<VersionedFamily<T>, 'builds'>, type: string, name: string, version: string, data: T, input: JsonObject): Promise<TypedRecord<T>> {
  const slug = nameToSlug(name);
  const { record } = await store.createResource(
    { accountId: ctx.accountId, region: ctx.region, type, name: slug, version, arn: versionedArn(ctx.region, ctx.accountId, type, slug, version), data, build: family.builds ? 'first' : 'none' },
    idempotencyKey(ctx, input),
  );
  return typed<T>(record);
}

/** The build a (possibly wildcard, possibly build-less) ARN designates among those the caller may read. */
export async function getBuild<T extends JsonObject>(store: Store, ctx: Call, family: VersionedFamily<T>, text: unknown, field: string): Promise<TypedRecord<T>> {
  const arn = familyArn(family, text, field);
  const early = family.arn.checkedBeforeScope ? selector(family, arn, text, field) : undefined;
  checkScope(family, ctx, arn, text, family.shared);
  const filter = early ?? selector(family, arn, text, field);
  const record = pickBuild(await readableVersions(store, ctx, { owner: arn.owner, type: arn.resourceType, name: arn.name }), filter, arn.build);
  if (!record) {
    // A shared family cannot tell a build that is absent from one that was never shared with the caller.
    const hidden = family.shared ? ` or is not visible to account ${ctx.accountId} in ${ctx.region}` : '';
    throw new KilnError('NotFound', `The ${family.noun} ${String(text)} does not exist${hidden}.`);
  }
  return typed<T>(record);
}

function compareVersion(a: { version: string }, b: { version: string }): number {
  const x = parseSemver(a.version)!;
  const y = parseSemver(b.version)!;
  return x.major - y.major || x.minor - y.minor || x.patch - y.patch;
}

/** A record matches a filter when the family's own matcher says so, or else when its Get shape's member of that name is one of the values. */
function matches<T extends JsonObject>(family: VersionedFamily<T>, record: TypedRecord<T>, name: string, values: ReadonlySet<string>): boolean {
  const shape = family.toShape(record);
  const match = family.filterMatch?.[name];
  return match ? match(shape, values) : values.has(String(shape[name] ?? ''));
}

/** List's owner view (Self unless the input names one); an unknown view is InvalidArgument. */
export function ownerView<T extends JsonObject>(family: Pick<VersionedFamily<T>, 'ownerViewsInMessage'>, input: JsonObject): string {
  const owner = str(input.owner) ?? 'Self';
  if (!OWNER_VIEWS.includes(owner)) {
    const choices = family.ownerViewsInMessage ? `; use one of ${OWNER_VIEWS.join(', ')}.` : '';
    throw new KilnError('InvalidArgument', `The value supplied for parameter 'owner' is not valid: ${owner}${choices}`);
  }
  return owner;
}

/** List: one page of the versions under an owner view, filtered, one item per (owner, type, name, version). */
export async function listVersions<T extends JsonObject>(store: Store, ctx: Call, family: VersionedFamily<T>, input: JsonObject): Promise<Page> {
  const owner = ownerView(family, input);
  // An unshared family has only the caller's own versions to show, and Kiln's where it provides some.
  const shown = family.shared || owner === 'Self' || (family.managed === true && owner === 'Amazon');
  const views = shown ? await Promise.all(family.types.map((t) => listByOwnerView(store, ctx, owner, t))) : [];
  const records = views.flat().map((r) => typed<T>(r));
  // Each type's list comes in store order; merged, they are put back in name and version order.
  if (family.types.length > 1) records.sort((a, b) => (a.name === b.name ? 0 : a.name < b.name ? -1 : 1) || compareVersion(a, b) || a.type.localeCompare(b.type));
  const versions = applyFilters(records, input.filters, family.filters, family.listOperation, (r, name, values) => matches(family, r, name, values)).filter(
    (r, i, all) => all.findIndex((o) => o.accountId === r.accountId && o.type === r.type && o.name === r.name && o.version === r.version) === i,
  );
  const page = paginate(versions, { maxResults: input.maxResults as number | undefined, nextToken: str(input.nextToken) }, queryFingerprint([ctx.operation, ctx.accountId, ctx.region, owner, input.filters ?? null, ...family.pageQuery.map((k) => input[k] ?? null)]));
  return { items: page.items.map((r) => family.toVersionSummary(r, versionedArn(r.region, r.accountId, r.type, r.name, r.version))), nextToken: page.nextToken };
}

/** ListBuildVersions: one page of the builds of the version `text` names that the caller may read. */
export async function listBuilds<T extends JsonObject>(store: Store, ctx: Call, family: VersionedFamily<T> & Required<Pick<VersionedFamily<T>, 'toBuildSummary'>>, input: JsonObject, field: string): Promise<Page> {
  const text = input[field];
  const arn = addressedArn(family, ctx, text, field, family.shared);
  if (arn.version === undefined || arn.build !== undefined || !parseSemver(arn.version)) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' must be a ${family.noun} version ARN (${family.arn.versionShape}): ${String(text)}`);
  }
  const builds = await readableVersions(store, ctx, { owner: arn.owner, type: arn.resourceType, name: arn.name, version: arn.version });
  const page = paginate(builds, { maxResults: input.maxResults as number | undefined, nextToken: str(input.nextToken) }, queryFingerprint([ctx.operation, ctx.accountId, ctx.region, arn]));
  return { items: page.items.map((r) => family.toBuildSummary(typed<T>(r))), nextToken: page.nextToken };
}

/**
 * The exact ARN Delete removes: a build version ARN, or a version ARN where the family numbers no builds.
 * Answers the parsed ARN and the text its NotFound names.
 */
function deleteTarget<T extends JsonObject>(family: VersionedFamily<T>, ctx: Call, text: unknown, field: string): ImageBuilderArn {
  const arn = familyArn(family, text, field);
  const exact = () => {
    if (family.builds && (arn.build === undefined || !parseSemver(arn.version ?? ''))) {
      throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' must be a ${family.noun} build version ARN (…/<version>/<build>): ${String(text)}`);
    }
    if (!family.builds) {
      if (!parseVersionFilter(arn.version ?? '')) throw new KilnError('InvalidVersion', `The version in ${String(text)} is not valid: once a node is 'x', every node to its right must be 'x'.`);
      if (!parseSemver(arn.version ?? '')) throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' must name one version, without wildcards: ${String(text)}`);
    }
  };
  if (family.arn.checkedBeforeScope) exact();
  checkScope(family, ctx, arn, text, false);
  if (!family.arn.checkedBeforeScope) exact();
  return arn;
}

/**
 * Delete: removes one build (one version, where the family numbers no builds) of the caller's own, unless something
 * still uses it; answers the canonical ARN. A Kiln-managed build is Forbidden.
 */
export async function deleteBuild<T extends JsonObject>(store: Store, ctx: Call, family: VersionedFamily<T>, text: unknown, field: string): Promise<string> {
  const arnText = formatArn(deleteTarget(family, ctx, text, field));
  const missing = () => (family.arn.checkedBeforeScope ? outOfReach(family, ctx, text) : new KilnError('NotFound', `The ${family.noun} ${arnText} does not exist.`));
  const record = await store.getResource(arnText);
  if (!record) throw missing();
  // Only a family's Kiln-managed builds are in reach without being the caller's own (checkScope).
  if (record.accountId !== ctx.accountId) throw new KilnError('Forbidden', `The ${family.noun} ${arnText} is managed by Kiln (owner ${record.accountId}); no account may delete it.`);
  const users = (await family.dependents?.(store, typed<T>(record))) ?? [];
  if (users.length > 0) throw new KilnError('DependencyExists', family.inUse?.(arnText, users) ?? `The ${family.noun} ${arnText} is used by ${users.join(', ')}.`);
  if (!(await store.deleteResource(arnText))) throw missing();
  return arnText;
}
