/**
 * Lifecycle executions as Store records (type `lifecycle-execution`, one per run of a policy or per
 * StartResourceStateUpdate) with their per-resource results inside, and their rendering as the API's
 * LifecycleExecution and LifecycleExecutionResource shapes. A queued `lifecycle-execution` job names the record
 * the runner must perform; the API only records executions, the runner changes images.
 */
import { createHash, randomUUID } from 'node:crypto';
import { KilnError } from '../domain/errors.js';
import { redactHostPaths } from '../domain/host-paths.js';
import type { LifecycleStatus } from '../domain/image-state.js';
import type { IdempotencyKey, ResourceRecord, Store } from '../store/store.js';
import type { AmiExclusionRules, IncludeResources } from './evaluate.js';
import { LIFECYCLE_EXECUTION_JOB } from '../domain/job-kinds.js';
import type { JsonObject } from '../domain/json.js';

/** The Store resource type of lifecycle executions. */
export const LIFECYCLE_EXECUTION_TYPE = 'lifecycle-execution';

export type ExecutionStatus = 'PENDING' | 'IN_PROGRESS' | 'CANCELLING' | 'CANCELLED' | 'SUCCESS' | 'FAILED';
export type ResourceStatus = 'IN_PROGRESS' | 'SUCCESS' | 'FAILED' | 'SKIPPED';
/** The model's LifecycleExecutionResourceActionName. */
export type ActionName = 'AVAILABLE' | 'DELETE' | 'DEPRECATE' | 'DISABLE';

/** One resource an execution identified: an image build version, or (with a parent) an AMI or container image. */
export interface ExecutionResource {
  resourceId: string;
  /** The image ARN an associated resource belongs to; absent on image resources. */
  parentResourceId?: string;
  accountId: string;
  region: string;
  action: { name: ActionName; reason?: string };
  state: { status: ResourceStatus; reason?: string };
  imageUris?: string[];
  startTime?: string;
  endTime?: string;
  /** What the runner is to do to an image resource still IN_PROGRESS (internal; never on the wire). */
  plan?: { include: IncludeResources; amiSkips: Record<string, string>; manual: boolean };
}

/** What StartResourceStateUpdate asked for. */
export interface StateUpdateRequest {
  status: LifecycleStatus;
  includeResources: IncludeResources;
  exclusionRules?: { amis?: AmiExclusionRules };
  executionRole?: string;
}

/** What blob garbage collection freed after an execution that deleted something. */
export interface GarbageReport {
  blobs: number;
  blobBytes: number;
  layers: number;
  disks: number;
  diskBytes: number;
}

/** An execution as stored. Times are ISO strings. */
export type ExecutionData = {
  lifecycleExecutionId: string;
  /** A policy's run, or one StartResourceStateUpdate. */
  kind: 'POLICY' | 'STATE_UPDATE';
  lifecyclePolicyArn?: string;
  /** The image a StartResourceStateUpdate names. */
  resourceArn?: string;
  /** SCHEDULE: the daily run; MANUAL: a run asked through the runner (runNow); API: StartResourceStateUpdate. */
  trigger: 'SCHEDULE' | 'MANUAL' | 'API';
  request?: StateUpdateRequest;
  /** Not before this instant (StartResourceStateUpdate's updateAt). */
  updateAt?: string;
  /** Whether a job to perform it was queued. */
  enqueued: boolean;
  state: { status: ExecutionStatus; reason?: string };
  hasImpactedResources: boolean;
  createdAt: string;
  startTime?: string;
  endTime?: string;
  resources: ExecutionResource[];
  garbage?: GarbageReport;
};


const ACTIVE: ReadonlySet<ExecutionStatus> = new Set(['PENDING', 'IN_PROGRESS', 'CANCELLING']);

/** True until an execution reaches SUCCESS, FAILED or CANCELLED. */
export function isActive(status: ExecutionStatus): boolean {
  return ACTIVE.has(status);
}

/** The Store key of an execution: an ARN-shaped name under the owning account and region. */
export function executionArn(region: string, accountId: string, id: string): string {
  return `arn:aws:imagebuilder:${region}:${accountId}:${LIFECYCLE_EXECUTION_TYPE}/${id}`;
}

const ID_RE = /^lce-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Whether a string has the model's lifecycleExecutionId pattern. */
export function isExecutionId(text: unknown): text is string {
  return typeof text === 'string' && ID_RE.test(text);
}

/** A fresh execution id: `lce-` and a random UUID. */
export function newExecutionId(): string {
  return `lce-${randomUUID()}`;
}

/**
 * The id of a policy's run for one daily slot, derived from both: two schedulers that decide on the same run
 * (a restart, a second Kiln process on the store) name the same record, and the store keeps only one.
 */
export function slotExecutionId(policyArn: string, slot: Date): string {
  const h = createHash('sha256').update(`${policyArn}\n${slot.toISOString()}`).digest('hex');
  return `lce-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function executionOf(record: ResourceRecord): ExecutionData {
  return record.data as ExecutionData;
}

/**
 * Stores a new execution; with `enqueue`, its job is queued in the same transaction, so a recorded execution
 * never waits for a job that was lost. AlreadyExists when the id is taken (see slotExecutionId).
 */
export async function createExecution(
  store: Store,
  scope: { accountId: string; region: string },
  data: ExecutionData,
  options: { enqueue: boolean; idempotency?: IdempotencyKey },
): Promise<{ record: ResourceRecord; created: boolean }> {
  const id = data.lifecycleExecutionId;
  return store.createResource(
    { accountId: scope.accountId, region: scope.region, type: LIFECYCLE_EXECUTION_TYPE, name: id, version: '', arn: executionArn(scope.region, scope.accountId, id), build: 'none', data },
    options.idempotency,
    options.enqueue ? { enqueue: LIFECYCLE_EXECUTION_JOB } : {},
  );
}

/** Changes an execution's data atomically; `change` sees the stored data (synchronous, no I/O). */
export async function updateExecution(store: Store, arn: string, change: (current: ExecutionData) => ExecutionData): Promise<ExecutionData> {
  const record = await store.updateResource(arn, (current) => change(executionOf(current)));
  return executionOf(record);
}

/** Replaces the result of one resource of an execution (matched by resourceId and parent). */
export function withResource(data: ExecutionData, resource: ExecutionResource): ExecutionData {
  const same = (r: ExecutionResource) => r.resourceId === resource.resourceId && r.parentResourceId === resource.parentResourceId;
  const resources = data.resources.some(same) ? data.resources.map((r) => (same(r) ? resource : r)) : [...data.resources, resource];
  return { ...data, resources };
}

const date = (v: string | undefined): Date | undefined => (v === undefined ? undefined : new Date(v));

/** A state as tenants see it: its reason (an action's error, possibly an fs error) without host paths. */
function shownState<T extends { reason?: string }>(state: T): T {
  return state.reason === undefined ? state : { ...state, reason: redactHostPaths(state.reason) };
}

/** The API's LifecycleExecution. */
export function toLifecycleExecution(data: ExecutionData): JsonObject {
  return {
    lifecycleExecutionId: data.lifecycleExecutionId,
    lifecyclePolicyArn: data.lifecyclePolicyArn,
    resourcesImpactedSummary: { hasImpactedResources: data.hasImpactedResources },
    state: shownState(data.state),
    startTime: date(data.startTime ?? data.createdAt),
    endTime: date(data.endTime),
  };
}

/** The API's LifecycleExecutionResource. */
export function toExecutionResource(r: ExecutionResource): JsonObject {
  return {
    accountId: r.accountId,
    resourceId: r.resourceId,
    state: shownState(r.state),
    action: r.action,
    region: r.region,
    snapshots: [],
    imageUris: r.imageUris,
    startTime: date(r.startTime),
    endTime: date(r.endTime),
  };
}

/** The caller's execution with that id; NotFound for an unknown id or another account's. */
export async function callerExecution(store: Store, who: { accountId: string; region: string }, id: unknown, field = 'lifecycleExecutionId'): Promise<ResourceRecord> {
  if (!isExecutionId(id)) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' is not a lifecycle execution id (lce-<uuid>): ${String(id)}`, [{ path: field, message: 'must match lce-<uuid>' }]);
  }
  const record = await store.getResource(executionArn(who.region, who.accountId, id));
  if (!record || record.type !== LIFECYCLE_EXECUTION_TYPE) throw new KilnError('NotFound', `The lifecycle execution ${id} does not exist in account ${who.accountId} and ${who.region}.`);
  return record;
}
