import { checkTagMap } from '../domain/distribution-rules.js';
import { KilnError, isKilnError, validationError, type Issue } from '../domain/errors.js';
import { checkLifecyclePolicy, checkPolicyName } from '../domain/lifecycle-rules.js';
import { paginate, queryFingerprint } from '../domain/pagination.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { configArn, createConfig, idempotencyKey, resolveConfig, str } from './config-resources.js';
import type { OperationHandler } from './types.js';

const TYPE = 'lifecycle-policy';
const LABEL = 'lifecycle policy';
const MAX_TAGS = 50;
/** The fields Update replaces wholesale; name, tags and dates stay. */
const MUTABLE_FIELDS = ['description', 'status', 'executionRole', 'resourceType', 'policyDetails', 'resourceSelection'] as const;
/**
 * ListLifecyclePolicies filters by `Name` and `Status` (the SDK documents them capitalised); the lower-case
 * spellings the other lists use are accepted too, so either habit works.
 */
const LIST_FILTERS: Record<string, 'name' | 'status'> = { Name: 'name', name: 'name', Status: 'status', status: 'status' };

type Obj = Record<string, unknown>;

/** The stored mutable fields; status defaults to ENABLED as on AWS. */
function mutableData(input: Obj): Obj {
  const data: Obj = {};
  for (const f of MUTABLE_FIELDS) if (input[f] !== undefined && input[f] !== null) data[f] = input[f];
  data.status ??= 'ENABLED';
  return data;
}

/** LifecyclePolicy dates are real timestamps on the wire (epoch seconds), unlike most Image Builder dates. */
const date = (v: unknown): Date | undefined => (typeof v === 'string' ? new Date(v) : undefined);

function toSummary(record: ResourceRecord): Obj {
  const d = record.data;
  return {
    arn: record.arn,
    name: d.name,
    description: d.description,
    status: d.status,
    executionRole: d.executionRole,
    resourceType: d.resourceType,
    dateCreated: date(d.dateCreated),
    dateUpdated: date(d.dateUpdated),
    dateLastRun: date(d.dateLastRun),
    tags: d.tags ?? {},
  };
}

function toLifecyclePolicy(record: ResourceRecord): Obj {
  return { ...toSummary(record), policyDetails: record.data.policyDetails, resourceSelection: record.data.resourceSelection };
}

function create(store: Store): OperationHandler {
  return async (input, ctx) => {
    const issues: Issue[] = [...checkPolicyName(input.name), ...checkLifecyclePolicy(input)];
    checkTagMap(input.tags, 'tags', issues, MAX_TAGS);
    if (issues.length > 0) throw validationError(`The ${LABEL}`, issues);
    const now = new Date().toISOString();
    const data: Obj = { name: input.name, ...mutableData(input), tags: input.tags, dateCreated: now, dateUpdated: now };
    try {
      const record = await createConfig(store, ctx, TYPE, input.name as string, data, input);
      return { clientToken: str(input.clientToken), lifecyclePolicyArn: record.arn };
    } catch (err) {
      if (isKilnError(err, 'AlreadyExists')) throw new KilnError('AlreadyExists', `The ${LABEL} ${configArn(ctx, TYPE, input.name as string)} already exists.`);
      throw err;
    }
  };
}

function get(store: Store): OperationHandler {
  return async (input, ctx) => {
    const record = await resolveConfig(store, ctx, TYPE, input.lifecyclePolicyArn, 'lifecyclePolicyArn', LABEL);
    return { lifecyclePolicy: toLifecyclePolicy(record) };
  };
}

function list(store: Store): OperationHandler {
  return async (input, ctx) => {
    let records = await store.listResources({ accountId: ctx.accountId, region: ctx.region, type: TYPE });
    const filters = Array.isArray(input.filters) ? (input.filters as { name?: string; values?: string[] }[]) : [];
    filters.forEach((f, i) => {
      const field = LIST_FILTERS[f.name ?? ''];
      if (field === undefined) {
        throw new KilnError('InvalidArgument', `filters[${i}].name '${f.name ?? ''}' is not a filter of ListLifecyclePolicies; use Name or Status.`, [{ path: `filters[${i}].name`, message: 'must be Name or Status' }]);
      }
      const values = new Set(f.values ?? []);
      records = records.filter((r) => values.has(String(r.data[field])));
    });
    const page = paginate(records, { maxResults: input.maxResults as number | undefined, nextToken: str(input.nextToken) }, queryFingerprint([ctx.operation, ctx.accountId, ctx.region, input.filters ?? null]));
    return { lifecyclePolicySummaryList: page.items.map(toSummary), nextToken: page.nextToken };
  };
}

function update(store: Store): OperationHandler {
  return async (input, ctx) => {
    const existing = await resolveConfig(store, ctx, TYPE, input.lifecyclePolicyArn, 'lifecyclePolicyArn', LABEL);
    const issues = checkLifecyclePolicy(input);
    if (issues.length > 0) throw validationError(`The ${LABEL}`, issues);
    const fields = mutableData(input);
    // Identity, tags and run history come from the record inside the transaction, so a concurrent
    // TagResource is not undone by this replacement.
    await store.updateResource(
      existing.arn,
      (current) => {
        const d = current.data;
        return { name: d.name, ...fields, tags: d.tags, dateCreated: d.dateCreated, dateUpdated: new Date().toISOString(), ...(d.dateLastRun === undefined ? {} : { dateLastRun: d.dateLastRun }) };
      },
      idempotencyKey(ctx, input),
    );
    return { clientToken: str(input.clientToken), lifecyclePolicyArn: existing.arn };
  };
}

function remove(store: Store): OperationHandler {
  return async (input, ctx) => {
    const record = await resolveConfig(store, ctx, TYPE, input.lifecyclePolicyArn, 'lifecyclePolicyArn', LABEL);
    if (!(await store.deleteResource(record.arn))) throw new KilnError('NotFound', `The ${LABEL} ${record.arn} does not exist.`);
    return { lifecyclePolicyArn: record.arn };
  };
}

/** The lifecycle-policy operations: Create, Get, List, Update, Delete (running policies comes later). */
export function lifecycleHandlers(store: Store): Record<string, OperationHandler> {
  return {
    CreateLifecyclePolicy: create(store),
    GetLifecyclePolicy: get(store),
    ListLifecyclePolicies: list(store),
    UpdateLifecyclePolicy: update(store),
    DeleteLifecyclePolicy: remove(store),
  };
}
