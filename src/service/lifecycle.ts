import { formatArn, parseArn } from '../domain/arn.js';
import { checkTagMap } from '../domain/distribution-rules.js';
import { KilnError, isKilnError, validationError, type Issue } from '../domain/errors.js';
import { isInProgress, lifecycleTransition, type ImageState, type LifecycleStatus } from '../domain/image-state.js';
import { checkLifecyclePolicy, checkPolicyName, checkResourceStateUpdate } from '../domain/lifecycle-rules.js';
import { paginate, queryFingerprint } from '../domain/pagination.js';
import { parseSemver } from '../domain/semver.js';
import type { AmiExclusionRules, IncludeResources } from '../lifecycle/evaluate.js';
import {
  callerExecution,
  createExecution,
  LIFECYCLE_EXECUTION_TYPE,
  executionOf,
  isActive,
  newExecutionId,
  toExecutionResource,
  toLifecycleExecution,
  type ExecutionData,
} from '../lifecycle/execution-records.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { configArn, configGetter, createConfig, resolveConfig } from './config-resources.js';
import { idempotencyKey } from '../resources/idempotency.js';
import type { OperationHandler, RequestContext } from './types.js';
import { LIFECYCLE_EXECUTION_JOB } from '../domain/job-kinds.js';
import { str, type JsonObject } from '../domain/json.js';

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


/** The stored mutable fields; status defaults to ENABLED as on AWS. */
function mutableData(input: JsonObject): JsonObject {
  const data: JsonObject = {};
  for (const f of MUTABLE_FIELDS) if (input[f] !== undefined && input[f] !== null) data[f] = input[f];
  data.status ??= 'ENABLED';
  return data;
}

/** LifecyclePolicy dates are real timestamps on the wire (epoch seconds), unlike most Image Builder dates. */
const date = (v: unknown): Date | undefined => (typeof v === 'string' ? new Date(v) : undefined);

function toSummary(record: ResourceRecord): JsonObject {
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

function toLifecyclePolicy(record: ResourceRecord): JsonObject {
  return { ...toSummary(record), policyDetails: record.data.policyDetails, resourceSelection: record.data.resourceSelection };
}

function create(store: Store, clock: Clock): OperationHandler {
  return async (input, ctx) => {
    const issues: Issue[] = [...checkPolicyName(input.name), ...checkLifecyclePolicy(input)];
    checkTagMap(input.tags, 'tags', issues, MAX_TAGS);
    if (issues.length > 0) throw validationError(`The ${LABEL}`, issues);
    const now = clock.now().toISOString();
    const data: JsonObject = { name: input.name, ...mutableData(input), tags: input.tags, dateCreated: now, dateUpdated: now };
    try {
      const record = await createConfig(store, ctx, TYPE, input.name as string, data, input);
      return { clientToken: str(input.clientToken), lifecyclePolicyArn: record.arn };
    } catch (err) {
      if (isKilnError(err, 'AlreadyExists')) throw new KilnError('AlreadyExists', `The ${LABEL} ${configArn(ctx, TYPE, input.name as string)} already exists.`);
      throw err;
    }
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

function update(store: Store, clock: Clock): OperationHandler {
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
        return { name: d.name, ...fields, tags: d.tags, dateCreated: d.dateCreated, dateUpdated: clock.now().toISOString(), ...(d.dateLastRun === undefined ? {} : { dateLastRun: d.dateLastRun }) };
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

function getExecution(store: Store): OperationHandler {
  return async (input, ctx) => {
    const record = await callerExecution(store, ctx, input.lifecycleExecutionId);
    return { lifecycleExecution: toLifecycleExecution(executionOf(record)) };
  };
}

/**
 * The executions that concern `resourceArn` in the caller's account and region: a lifecycle policy's runs, or,
 * for an image build version, its StartResourceStateUpdate executions and the policy runs that acted on it.
 * Another account's ARN simply has none.
 */
async function executionsFor(store: Store, ctx: RequestContext, text: unknown): Promise<ExecutionData[]> {
  const arn = typeof text === 'string' ? parseArn(text) : undefined;
  const isPolicy = arn?.resourceType === TYPE && arn.version === undefined;
  const isImage = arn?.resourceType === 'image' && arn.build !== undefined && parseSemver(arn.version ?? '') !== undefined;
  if (!arn || !(isPolicy || isImage)) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter 'resourceArn' must be a lifecycle policy ARN or an image build version ARN: ${String(text)}`, [{ path: 'resourceArn', message: 'must be a lifecycle policy or image build version ARN' }]);
  }
  if (arn.owner !== ctx.accountId || arn.region !== ctx.region) return [];
  const canonical = formatArn(arn);
  const all = (await store.listResources({ accountId: ctx.accountId, region: ctx.region, type: LIFECYCLE_EXECUTION_TYPE })).map(executionOf);
  const mine = all.filter((e) => (isPolicy ? e.lifecyclePolicyArn === canonical : e.resourceArn === canonical || e.resources.some((r) => r.parentResourceId === undefined && r.resourceId === canonical)));
  // Newest first, as a run log reads.
  return mine.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.lifecycleExecutionId.localeCompare(a.lifecycleExecutionId));
}

function listExecutions(store: Store): OperationHandler {
  return async (input, ctx) => {
    const executions = await executionsFor(store, ctx, input.resourceArn);
    const page = paginate(executions, { maxResults: input.maxResults as number | undefined, nextToken: str(input.nextToken) }, queryFingerprint([ctx.operation, ctx.accountId, ctx.region, input.resourceArn]));
    return { lifecycleExecutions: page.items.map(toLifecycleExecution), nextToken: page.nextToken };
  };
}

/** Image resources of an execution, or with parentResourceId the AMIs and container images of one of them. */
function listExecutionResources(store: Store): OperationHandler {
  return async (input, ctx) => {
    const data = executionOf(await callerExecution(store, ctx, input.lifecycleExecutionId));
    const parent = str(input.parentResourceId);
    const resources = data.resources.filter((r) => r.parentResourceId === parent);
    const page = paginate(resources, { maxResults: input.maxResults as number | undefined, nextToken: str(input.nextToken) }, queryFingerprint([ctx.operation, ctx.accountId, ctx.region, data.lifecycleExecutionId, parent ?? null]));
    return { lifecycleExecutionId: data.lifecycleExecutionId, lifecycleExecutionState: toLifecycleExecution(data).state, resources: page.items.map(toExecutionResource), nextToken: page.nextToken };
  };
}

/** `updateAt` as the wire gives it (epoch seconds, or a date string) → a Date; InvalidArgument otherwise. */
function parseUpdateAt(value: unknown): Date | undefined {
  if (value === undefined || value === null) return undefined;
  const at = typeof value === 'number' ? new Date(value * 1000) : typeof value === 'string' ? new Date(value) : new Date(NaN);
  if (Number.isNaN(at.getTime())) throw new KilnError('InvalidArgument', `The value supplied for parameter 'updateAt' is not a timestamp: ${String(value)}`, [{ path: 'updateAt', message: 'must be a timestamp' }]);
  return at;
}

/** The caller's image build version named by an exact build-version ARN. */
async function callerImage(store: Store, ctx: RequestContext, text: unknown): Promise<ResourceRecord> {
  const arn = typeof text === 'string' ? parseArn(text) : undefined;
  if (!arn || arn.resourceType !== 'image' || arn.build === undefined || !parseSemver(arn.version ?? '')) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter 'resourceArn' must be an image build version ARN (…:image/<name>/<major>.<minor>.<patch>/<build>): ${String(text)}`, [{ path: 'resourceArn', message: 'must be an image build version ARN' }]);
  }
  const canonical = formatArn(arn);
  const record = arn.owner === ctx.accountId && arn.region === ctx.region ? await store.getResource(canonical) : undefined;
  if (!record || record.type !== 'image') throw new KilnError('NotFound', `The image ${canonical} does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}.`);
  return record;
}

/**
 * StartResourceStateUpdate: records a PENDING execution for one image, queued at once or, with a future
 * updateAt, when that time comes; the lifecycle runner performs it. The move must be one the image's current
 * state allows (FAILED and CANCELLED images may only be DELETED; a build under way may not change at all).
 */
function startResourceStateUpdate(store: Store, clock: Clock): OperationHandler {
  return async (input, ctx) => {
    const image = await callerImage(store, ctx, input.resourceArn);
    const issues = checkResourceStateUpdate(input, image.data.type);
    if (issues.length > 0) throw validationError('The resource state update', issues);
    const target = (input.state as { status: LifecycleStatus }).status;
    const state = image.data.state as ImageState;
    if (isInProgress(state.status)) throw new KilnError('InUse', `The image ${image.arn} is ${state.status}: its build is still under way, so its state cannot change yet.`);
    if (state.status !== target) {
      try {
        lifecycleTransition(state, target, true);
      } catch (err) {
        throw new KilnError('InvalidRequest', err instanceof Error ? err.message : String(err));
      }
    }
    const now = clock.now();
    const updateAt = parseUpdateAt(input.updateAt);
    const due = updateAt === undefined || updateAt.getTime() <= now.getTime();
    const exclusion = input.exclusionRules as { amis?: AmiExclusionRules } | undefined;
    const data: ExecutionData = {
      lifecycleExecutionId: newExecutionId(),
      kind: 'STATE_UPDATE',
      resourceArn: image.arn,
      trigger: 'API',
      request: {
        status: target,
        includeResources: (input.includeResources as IncludeResources | undefined) ?? {},
        ...(exclusion?.amis ? { exclusionRules: { amis: exclusion.amis } } : {}),
        ...(typeof input.executionRole === 'string' ? { executionRole: input.executionRole } : {}),
      },
      ...(updateAt ? { updateAt: updateAt.toISOString() } : {}),
      enqueued: due,
      state: { status: 'PENDING' },
      hasImpactedResources: false,
      createdAt: now.toISOString(),
      resources: [],
    };
    const { record } = await createExecution(store, ctx, data, { enqueue: due, ...(idempotencyKey(ctx, input) ? { idempotency: idempotencyKey(ctx, input)! } : {}) });
    return { lifecycleExecutionId: executionOf(record).lifecycleExecutionId, resourceArn: image.arn };
  };
}

/**
 * CancelLifecycleExecution: a PENDING execution ends CANCELLED at once (its queued job with it); one under way
 * becomes CANCELLING and the runner stops before its next image. A finished execution cannot be cancelled.
 */
function cancelExecution(store: Store, clock: Clock): OperationHandler {
  return async (input, ctx) => {
    const record = await callerExecution(store, ctx, input.lifecycleExecutionId);
    const now = clock.now().toISOString();
    const key = idempotencyKey(ctx, input);
    const changed = await store.updateResource(
      record.arn,
      (current) => {
        const d = executionOf(current);
        if (!isActive(d.state.status)) {
          throw new KilnError('InvalidRequest', `The lifecycle execution ${d.lifecycleExecutionId} is ${d.state.status}; only a PENDING or IN_PROGRESS execution can be cancelled.`);
        }
        if (d.state.status === 'PENDING') return { ...d, state: { status: 'CANCELLED', reason: `cancelled by CancelLifecycleExecution (request ${ctx.requestId}) before it started` }, endTime: now } satisfies ExecutionData;
        if (d.state.status === 'IN_PROGRESS') return { ...d, state: { status: 'CANCELLING', reason: `CancelLifecycleExecution (request ${ctx.requestId})` } } satisfies ExecutionData;
        return current.data;
      },
      key,
    );
    if (executionOf(changed).state.status === 'CANCELLED') {
      for (const job of await store.listJobs({ resourceArn: record.arn, state: 'queued' })) {
        if (job.kind === LIFECYCLE_EXECUTION_JOB) await store.finishJob(job.id, undefined, 'cancelled');
      }
    }
    return { lifecycleExecutionId: executionOf(changed).lifecycleExecutionId };
  };
}

/**
 * The lifecycle operations: policy CRUD, and executions (Get, List, ListResources, StartResourceStateUpdate,
 * Cancel). Handlers only record executions; the lifecycle runner (src/lifecycle/runner.ts) performs them.
 * `clock` stamps policy and execution dates (the system clock by default).
 */
export function lifecycleHandlers(store: Store, clock: Clock = systemClock): Record<string, OperationHandler> {
  return {
    CreateLifecyclePolicy: create(store, clock),
    GetLifecyclePolicy: configGetter(store, TYPE, LABEL, 'lifecyclePolicyArn', 'lifecyclePolicy', toLifecyclePolicy),
    ListLifecyclePolicies: list(store),
    UpdateLifecyclePolicy: update(store, clock),
    DeleteLifecyclePolicy: remove(store),
    GetLifecycleExecution: getExecution(store),
    ListLifecycleExecutions: listExecutions(store),
    ListLifecycleExecutionResources: listExecutionResources(store),
    StartResourceStateUpdate: startResourceStateUpdate(store, clock),
    CancelLifecycleExecution: cancelExecution(store, clock),
  };
}
