/**
 * What infrastructure and distribution configurations share: unversioned ARNs addressed by the caller,
 * name checks, list filters and pages, replacing a record on Update, and the pipeline-dependency check.
 */
import { formatArn, nameToSlug, parseArn } from '../domain/arn.js';
import { KilnError, type Issue } from '../domain/errors.js';
import { paginate, queryFingerprint } from '../domain/pagination.js';
import { idempotencyKey } from '../resources/idempotency.js';
import type { NewResource, ResourceRecord, Store } from '../store/store.js';
import type { OperationHandler, RequestContext } from './types.js';
import { str, type JsonObject } from '../domain/json.js';

/** The model's `ResourceName`: 3-128 characters, spaces allowed inside. */
const NAME_RE = /^[-_A-Za-z0-9][-_A-Za-z0-9 ]{1,126}[-_A-Za-z0-9]$/;

/** The resource type that image pipelines are stored under (src/service/pipelines.ts). */
export const PIPELINE_TYPE = 'image-pipeline';


/** Checks a display name against the model's `ResourceName`. */
export function checkName(value: unknown, issues: Issue[]): void {
  if (typeof value !== 'string' || !NAME_RE.test(value)) {
    issues.push({ path: 'name', message: 'must be 3-128 characters: letters, digits, spaces, - and _, not starting or ending with a space' });
  }
}

/** The unversioned ARN of a configuration named `name` in the caller's account and region. */
export function configArn(ctx: RequestContext, type: string, name: string): string {
  return formatArn({ partition: 'aws', region: ctx.region, owner: ctx.accountId, resourceType: type, name: nameToSlug(name) });
}

/**
 * Finds the configuration an input ARN designates. A well-formed ARN of another account or region is simply
 * not found: accounts never learn about each other's resources.
 */
export async function resolveConfig(store: Store, ctx: RequestContext, type: string, text: unknown, field: string, label: string): Promise<ResourceRecord> {
  const arn = typeof text === 'string' ? parseArn(text) : undefined;
  if (!arn || arn.resourceType !== type || arn.version !== undefined) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' is not a valid ${label} ARN (arn:aws:imagebuilder:<region>:<account>:${type}/<name>): ${String(text)}`);
  }
  const canonical = formatArn(arn);
  const notFound = () => new KilnError('NotFound', `The ${label} ${canonical} does not exist.`);
  if (arn.region !== ctx.region || arn.owner !== ctx.accountId) throw notFound();
  const record = await store.getResource(canonical);
  if (!record || record.type !== type || record.accountId !== ctx.accountId || record.region !== ctx.region) throw notFound();
  return record;
}

/** Get of a configuration family: the caller's own configuration the ARN in `field` names, shown under `resultField`. */
export function configGetter(store: Store, type: string, label: string, field: string, resultField: string, toShape: (record: ResourceRecord) => JsonObject): OperationHandler {
  return async (input, ctx) => ({ [resultField]: toShape(await resolveConfig(store, ctx, type, input[field], field, label)) });
}

/** Creates a configuration record; a duplicate name is AlreadyExists, a repeated clientToken the first answer. */
export async function createConfig(store: Store, ctx: RequestContext, type: string, name: string, data: JsonObject, input: JsonObject): Promise<ResourceRecord> {
  const resource: NewResource = { accountId: ctx.accountId, region: ctx.region, type, name: nameToSlug(name), version: '', arn: configArn(ctx, type, name), data, build: 'none' };
  const { record } = await store.createResource(resource, idempotencyKey(ctx, input));
  return record;
}

/**
 * Replaces a configuration's mutable data atomically; its name, tags and creation date are read inside the
 * transaction, so a concurrent TagResource is kept. A repeated client token answers without changing it again.
 */
export async function replaceConfig(store: Store, ctx: RequestContext, existing: ResourceRecord, data: JsonObject, input: JsonObject): Promise<void> {
  await store.updateResource(
    existing.arn,
    (current) => ({ ...data, name: current.data.name, tags: current.data.tags, dateCreated: current.data.dateCreated }),
    idempotencyKey(ctx, input),
  );
}

/**
 * Refuses to delete a configuration that an image pipeline of the account still references through
 * `field` (`infrastructureConfigurationArn` or `distributionConfigurationArn`).
 */
export async function assertNoPipelineUses(store: Store, record: ResourceRecord, field: string, label: string): Promise<void> {
  const pipelines = await store.listResources({ accountId: record.accountId, region: record.region, type: PIPELINE_TYPE });
  const users = pipelines.filter((p) => p.data[field] === record.arn).map((p) => p.arn);
  if (users.length > 0) {
    throw new KilnError('DependencyExists', `The ${label} ${record.arn} is used by image pipeline${users.length > 1 ? 's' : ''} ${users.join(', ')}; delete those pipelines or point them elsewhere first.`);
  }
}

/** Lists an account's configurations of one type, filtered by `name` (the only filter AWS offers), one page. */
export async function listConfigs(store: Store, ctx: RequestContext, type: string, input: JsonObject): Promise<{ items: ResourceRecord[]; nextToken?: string }> {
  let records = await store.listResources({ accountId: ctx.accountId, region: ctx.region, type });
  const filters = Array.isArray(input.filters) ? (input.filters as { name?: string; values?: string[] }[]) : [];
  filters.forEach((f, i) => {
    if (f.name !== 'name') {
      throw new KilnError('InvalidArgument', `filters[${i}].name '${f.name ?? ''}' is not a filter of ${ctx.operation}; the only filter is 'name'.`, [{ path: `filters[${i}].name`, message: "must be 'name'" }]);
    }
    const values = new Set(f.values ?? []);
    records = records.filter((r) => values.has(String(r.data.name)));
  });
  return paginate(records, { maxResults: input.maxResults as number | undefined, nextToken: str(input.nextToken) }, queryFingerprint([ctx.operation, ctx.accountId, ctx.region, input.filters ?? null]));
}
