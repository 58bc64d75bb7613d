import { formatArn, nameToSlug, parseArn } from '../domain/arn.js';
import { KilnError, validationError, type Issue } from '../domain/errors.js';
import { paginate, queryFingerprint } from '../domain/pagination.js';
import { latestSelectors, parseSemver, parseVersionFilter, resolveLatest, type Semver } from '../domain/semver.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { inspectComponentDocument } from './component-document.js';
import { recipesUsingComponent } from '../store/component-refs.js';
import { fetchComponentDocument } from './component-uri.js';
import { inputHash } from '../resources/idempotency.js';
import type { OperationHandler, RequestContext } from './types.js';
import { listByOwnerView, readableVersions } from '../store/visibility.js';

const TYPE = 'component';
const NAME_RE = /^[-_A-Za-z0-9][-_A-Za-z0-9 ]{1,126}[-_A-Za-z0-9]$/;
const PLATFORMS = new Set(['Linux', 'Windows', 'macOS']);
/** The model's limit for inline `data`; larger documents go by `uri`. */
const MAX_DATA = 16000;
const LIST_FILTERS = new Set(['description', 'name', 'platform', 'supportedOsVersion', 'type', 'version']);

/** The fields a component keeps besides its ARN, name slug, version and build. */
interface ComponentData {
  name: string;
  description?: string;
  changeDescription?: string;
  type: 'BUILD' | 'TEST';
  platform: string;
  supportedOsVersions?: string[];
  parameters: unknown[];
  data: string;
  kmsKeyId?: string;
  tags?: Record<string, string>;
  dateCreated: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function versionOf(record: ResourceRecord): Semver {
  return parseSemver(record.version)!;
}

function baseArn(ctx: RequestContext, owner: string, slug: string, version?: string): string {
  return formatArn({ partition: 'aws', region: ctx.region, owner, resourceType: TYPE, name: slug, ...(version === undefined ? {} : { version }) });
}

function latestVersionReferences(ctx: RequestContext, record: ResourceRecord): Record<string, string> {
  const s = latestSelectors(versionOf(record));
  return {
    latestVersionArn: baseArn(ctx, record.accountId, record.name, s.latest),
    latestMajorVersionArn: baseArn(ctx, record.accountId, record.name, s.major),
    latestMinorVersionArn: baseArn(ctx, record.accountId, record.name, s.minor),
    latestPatchVersionArn: baseArn(ctx, record.accountId, record.name, s.patch),
  };
}

function toComponent(record: ResourceRecord): Record<string, unknown> {
  const d = record.data as unknown as ComponentData;
  return {
    arn: record.arn,
    name: d.name,
    version: record.version,
    description: d.description,
    changeDescription: d.changeDescription,
    type: d.type,
    platform: d.platform,
    supportedOsVersions: d.supportedOsVersions,
    state: { status: 'ACTIVE' },
    parameters: d.parameters,
    owner: record.accountId,
    data: d.data,
    kmsKeyId: d.kmsKeyId,
    encrypted: true,
    dateCreated: d.dateCreated,
    tags: d.tags ?? {},
  };
}

/**
 * The component ARN a caller may address: an Image Builder component ARN in the caller's region, and in its
 * account unless `anyOwner` (reads, where sharing decides what is visible).
 */
function callerArn(ctx: RequestContext, text: unknown, field: string, anyOwner = false) {
  const arn = typeof text === 'string' ? parseArn(text) : undefined;
  if (!arn || arn.resourceType !== TYPE) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' is not a valid component ARN: ${String(text)}`);
  }
  if (arn.region !== ctx.region || (!anyOwner && arn.owner !== ctx.accountId)) {
    throw new KilnError('NotFound', `The resource ${String(text)} does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}.`);
  }
  return arn;
}

/** Finds the build a (possibly wildcard, possibly build-less) component ARN designates. */
async function resolveComponent(store: Store, ctx: RequestContext, text: unknown, field: string): Promise<ResourceRecord> {
  const arn = callerArn(ctx, text, field, true);
  const notFound = () => new KilnError('NotFound', `The component ${String(text)} does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}.`);
  if (arn.version === undefined) throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' must include a version: ${String(text)}`);
  const filter = parseVersionFilter(arn.version);
  if (!filter) throw new KilnError('InvalidVersion', `The version in ${String(text)} is not valid: once a node is 'x', every node to its right must be 'x'.`);
  if (arn.build !== undefined && (filter.major === undefined || filter.minor === undefined || filter.patch === undefined)) {
    throw new KilnError('InvalidArgument', `A build number needs a full version: ${String(text)}`);
  }
  const all = await readableVersions(store, ctx, { owner: arn.owner, type: TYPE, name: arn.name });
  const best = resolveLatest(all.map((r) => ({ ...versionOf(r), record: r })), filter);
  if (!best) throw notFound();
  const builds = all.filter((r) => r.version === best.record.version);
  const record = arn.build === undefined ? builds[builds.length - 1] : builds.find((r) => r.build === arn.build);
  if (!record) throw notFound();
  return record;
}

function checkCreate(input: Record<string, unknown>): Issue[] {
  const issues: Issue[] = [];
  const name = str(input.name) ?? '';
  if (!NAME_RE.test(name)) issues.push({ path: 'name', message: 'must be 3-128 characters: letters, digits, spaces, - and _, not starting or ending with a space' });
  if (!parseSemver(str(input.semanticVersion) ?? '')) {
    issues.push({ path: 'semanticVersion', message: "must be <major>.<minor>.<patch>, each 0-1073741823 (the service assigns the build number)" });
  }
  if (!PLATFORMS.has(str(input.platform) ?? '')) issues.push({ path: 'platform', message: 'must be Linux, Windows or macOS' });
  return issues;
}

/** CreateComponent: validates the document, assigns build 1 of a new version, honours clientToken and dryRun. */
function createComponent(store: Store): OperationHandler {
  return async (input, ctx) => {
    if (input.data !== undefined && input.uri !== undefined) {
      throw new KilnError('InvalidCombination', "The parameters 'data' and 'uri' are mutually exclusive; send exactly one.");
    }
    const issues = checkCreate(input);
    const fromUri = input.uri === undefined ? undefined : await fetchComponentDocument(input.uri);
    if (fromUri !== undefined && 'problem' in fromUri) issues.push({ path: 'uri', message: fromUri.problem });
    const data = fromUri === undefined ? str(input.data) : 'document' in fromUri ? fromUri.document : undefined;
    if (fromUri === undefined && data === undefined) issues.push({ path: 'data', message: "is required (or 'uri')" });
    else if (fromUri === undefined && data !== undefined && data.length > MAX_DATA) issues.push({ path: 'data', message: `is ${data.length} characters; the limit is ${MAX_DATA}, larger documents go by 'uri'` });
    const doc = data === undefined ? undefined : inspectComponentDocument(data);
    const docField = fromUri === undefined ? 'data' : 'uri';
    if (doc) issues.push(...doc.issues.map((i) => ({ path: i.path === '(document)' ? docField : `${docField}: ${i.path}`, message: i.message })));
    if (issues.length > 0) throw validationError('The component', issues);
    if (input.dryRun === true) throw new KilnError('DryRun', 'The request would have succeeded, but the dryRun flag is set.');

    const name = input.name as string;
    const version = input.semanticVersion as string;
    const slug = nameToSlug(name);
    const record: ComponentData = {
      name,
      description: str(input.description),
      changeDescription: str(input.changeDescription),
      type: doc!.type,
      platform: input.platform as string,
      supportedOsVersions: input.supportedOsVersions as string[] | undefined,
      parameters: doc!.parameters,
      data: data!,
      kmsKeyId: str(input.kmsKeyId),
      tags: input.tags as Record<string, string> | undefined,
      dateCreated: new Date().toISOString(),
    };
    const token = str(input.clientToken);
    const { record: created } = await store.createResource(
      { accountId: ctx.accountId, region: ctx.region, type: TYPE, name: slug, version, arn: baseArn(ctx, ctx.accountId, slug, version), data: { ...record }, build: 'first' },
      token === undefined ? undefined : { operation: ctx.operation, token, inputHash: inputHash(input) },
    );
    return { clientToken: token, componentBuildVersionArn: created.arn, latestVersionReferences: latestVersionReferences(ctx, created) };
  };
}

function getComponent(store: Store): OperationHandler {
  return async (input, ctx) => {
    const record = await resolveComponent(store, ctx, input.componentBuildVersionArn, 'componentBuildVersionArn');
    return { component: toComponent(record), latestVersionReferences: latestVersionReferences(ctx, record) };
  };
}

function applyFilters(records: ResourceRecord[], filters: unknown): ResourceRecord[] {
  if (!Array.isArray(filters)) return records;
  let out = records;
  filters.forEach((f: { name?: string; values?: string[] }, i) => {
    const key = f.name ?? '';
    if (!LIST_FILTERS.has(key)) {
      throw new KilnError('InvalidArgument', `filters[${i}].name '${key}' is not a filter of ListComponents; use one of ${[...LIST_FILTERS].join(', ')}.`);
    }
    const values = new Set(f.values ?? []);
    out = out.filter((r) => {
      const c = toComponent(r);
      if (key === 'supportedOsVersion') return ((c.supportedOsVersions as string[] | undefined) ?? []).some((v) => values.has(v));
      return values.has(String(c[key] ?? ''));
    });
  });
  return out;
}

function listComponents(store: Store): OperationHandler {
  return async (input, ctx) => {
    const owner = str(input.owner) ?? 'Self';
    if (!['Self', 'Shared', 'Amazon', 'ThirdParty', 'AWSMarketplace'].includes(owner)) {
      throw new KilnError('InvalidArgument', `The value supplied for parameter 'owner' is not valid: ${owner}`);
    }
    const records = await listByOwnerView(store, ctx, owner, TYPE);
    // Two owners may share a name, so a version is one per (owner, name, version).
    const versions = applyFilters(records, input.filters).filter((r, i, all) => all.findIndex((o) => o.accountId === r.accountId && o.name === r.name && o.version === r.version) === i);
    const page = paginate(versions, { maxResults: input.maxResults as number | undefined, nextToken: str(input.nextToken) }, queryFingerprint([ctx.operation, ctx.accountId, ctx.region, owner, input.filters ?? null, input.byName ?? null]));
    const list = page.items.map((r) => {
      const c = toComponent(r);
      return { ...c, arn: baseArn(ctx, r.accountId, r.name, r.version), status: 'ACTIVE' };
    });
    return { componentVersionList: list, nextToken: page.nextToken };
  };
}

function listComponentBuildVersions(store: Store): OperationHandler {
  return async (input, ctx) => {
    const arn = callerArn(ctx, input.componentVersionArn, 'componentVersionArn', true);
    if (arn.version === undefined || arn.build !== undefined || !parseSemver(arn.version)) {
      throw new KilnError('InvalidArgument', `The value supplied for parameter 'componentVersionArn' must be a component version ARN (…/component/<name>/<major>.<minor>.<patch>): ${String(input.componentVersionArn)}`);
    }
    const builds = await readableVersions(store, ctx, { owner: arn.owner, type: TYPE, name: arn.name, version: arn.version });
    const page = paginate(builds, { maxResults: input.maxResults as number | undefined, nextToken: str(input.nextToken) }, queryFingerprint([ctx.operation, ctx.accountId, ctx.region, arn]));
    return { componentSummaryList: page.items.map(toComponent), nextToken: page.nextToken };
  };
}

function deleteComponent(store: Store): OperationHandler {
  return async (input, ctx) => {
    const arn = callerArn(ctx, input.componentBuildVersionArn, 'componentBuildVersionArn');
    if (arn.build === undefined || !parseSemver(arn.version ?? '')) {
      throw new KilnError('InvalidArgument', `The value supplied for parameter 'componentBuildVersionArn' must be a component build version ARN (…/<version>/<build>): ${String(input.componentBuildVersionArn)}`);
    }
    const arnText = formatArn(arn);
    const record = await store.getResource(arnText);
    if (!record) throw new KilnError('NotFound', `The component ${arnText} does not exist.`);
    const users = await recipesUsingComponent(store, record);
    if (users.length > 0) throw new KilnError('DependencyExists', `The component ${arnText} is used by ${users.join(', ')}; delete or change those recipes first.`);
    if (!(await store.deleteResource(arnText))) throw new KilnError('NotFound', `The component ${arnText} does not exist.`);
    return { componentBuildVersionArn: arnText };
  };
}

/** The Components family: CreateComponent, GetComponent, ListComponents, ListComponentBuildVersions, DeleteComponent. */
export function componentHandlers(store: Store): Record<string, OperationHandler> {
  return {
    CreateComponent: createComponent(store),
    GetComponent: getComponent(store),
    ListComponents: listComponents(store),
    ListComponentBuildVersions: listComponentBuildVersions(store),
    DeleteComponent: deleteComponent(store),
  };
}
