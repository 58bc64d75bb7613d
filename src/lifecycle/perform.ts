/**
 * Performs one lifecycle execution: claims it (PENDING → IN_PROGRESS), plans it once (a policy's evaluation,
 * or the one image of a StartResourceStateUpdate) and saves the plan in the record, then acts on each planned
 * image in turn, saving every outcome. Because the plan is saved, an execution interrupted by a stop resumes
 * where it was (each action is idempotent: an image already in the wanted state is a SUCCESS). Between images
 * it honours CancelLifecycleExecution (CANCELLING → CANCELLED, the rest SKIPPED) and a policy that was disabled
 * meanwhile. After deletions it collects garbage.
 */
import type { BlobStore } from '../artifacts/blob-store.js';
import type { DiskStore } from '../artifacts/disk/disk-store.js';
import type { LayerCache } from '../artifacts/oci/unpack.js';
import { errorMessage } from '../domain/errors.js';
import type { Clock } from '../domain/clock.js';
import type { Store } from '../store/store.js';
import { applyImageAction } from './actions.js';
import { amiFactsOf, loadCandidates, machineImagesOf, policyViewOf } from './candidates.js';
import { amiExclusion, evaluatePolicy } from './evaluate.js';
import { executionOf, isActive, updateExecution, withResource, type ActionName, type ExecutionData, type ExecutionResource } from './execution-records.js';
import { collectGarbage, type GcResult } from './gc.js';

export interface PerformEnv {
  store: Store;
  clock: Clock;
  blobs: BlobStore;
  layers?: LayerCache;
  disks?: DiskStore;
  registryHost: () => string;
  gcGraceMs: number;
  /** The step cache's size limit in bytes: a collection prunes the cache to it first. */
  buildCacheBytes?: number;
  log?: (text: string) => void;
  /** Deletes a deleted image's step logs wherever they are kept. */
  deleteLogs?: (imageArn: string) => Promise<void>;
}

/** How an execution ended here: its record, and whether garbage collection still has to run. */
export interface PerformResult {
  execution: ExecutionData | undefined;
  gcPending: boolean;
}

const STATUS_ACTION: Readonly<Record<string, ActionName>> = { AVAILABLE: 'AVAILABLE', DEPRECATED: 'DEPRECATE', DISABLED: 'DISABLE', DELETED: 'DELETE' };

/** PENDING → IN_PROGRESS; undefined when the execution is gone or already over (a cancel won the race). */
async function claim(env: PerformEnv, arn: string): Promise<ExecutionData | undefined> {
  const record = await env.store.getResource(arn);
  if (!record || !isActive(executionOf(record).state.status)) return undefined;
  const now = env.clock.now().toISOString();
  return updateExecution(env.store, arn, (d) => (d.state.status === 'PENDING' ? { ...d, state: { status: 'IN_PROGRESS' }, startTime: now } : d));
}

/** Ends the execution with `status`; resources still IN_PROGRESS become SKIPPED with `skipReason`. */
async function finish(env: PerformEnv, arn: string, status: 'SUCCESS' | 'FAILED' | 'CANCELLED', reason: string | undefined, skipReason: string, extra: Partial<ExecutionData> = {}): Promise<ExecutionData> {
  const now = env.clock.now().toISOString();
  return updateExecution(env.store, arn, (d) => ({
    ...d,
    ...extra,
    resources: d.resources.map((r) => (r.state.status === 'IN_PROGRESS' ? { ...r, state: { status: 'SKIPPED', reason: skipReason }, plan: undefined, endTime: now } : r)),
    state: reason === undefined ? { status } : { status, reason },
    endTime: now,
  }));
}

/** Why a policy may not process more images now, or undefined when it may. */
async function policyStopped(env: PerformEnv, policyArn: string | undefined): Promise<string | undefined> {
  const policy = policyArn === undefined ? undefined : await env.store.getResource(policyArn);
  if (!policy) return `the lifecycle policy ${policyArn ?? ''} was deleted`;
  if (policy.data.status !== 'ENABLED') return `the lifecycle policy ${policyArn ?? ''} was disabled`;
  return undefined;
}

/** A policy's plan: its evaluation over the images of its account and region, saved as the execution's resources. */
async function planPolicy(env: PerformEnv, arn: string, data: ExecutionData): Promise<ExecutionData | undefined> {
  const { store } = env;
  const stopped = await policyStopped(env, data.lifecyclePolicyArn);
  if (stopped) {
    await finish(env, arn, 'CANCELLED', stopped, stopped);
    return undefined;
  }
  const policy = (await store.getResource(data.lifecyclePolicyArn!))!;
  const now = env.clock.now();
  const plans = evaluatePolicy(policyViewOf(policy), await loadCandidates(store, policy.accountId, policy.region), now);
  const at = now.toISOString();
  const resources: ExecutionResource[] = plans.map((p) => ({
    resourceId: p.image.arn,
    accountId: policy.accountId,
    region: policy.region,
    action: { name: p.action, reason: p.outcome === 'ACT' ? `policyDetails[${p.rule}]: ${p.reason}` : `policyDetails[${p.rule}]` },
    state: p.outcome === 'ACT' ? { status: 'IN_PROGRESS' } : { status: 'SKIPPED', reason: p.reason },
    startTime: at,
    ...(p.outcome === 'ACT'
      ? { plan: { include: p.includeResources, amiSkips: Object.fromEntries(p.amis.filter((a) => a.skipped !== undefined).map((a) => [a.ami.amiId, a.skipped!])), manual: false } }
      : { endTime: at }),
  }));
  await store.updateResource(policy.arn, (current) => ({ ...current.data, dateLastRun: data.startTime ?? at }));
  return updateExecution(store, arn, (d) => ({ ...d, resources, hasImpactedResources: plans.some((p) => p.outcome === 'ACT') }));
}

/** A StartResourceStateUpdate's plan: its one image, with the machine images its AMI exclusion rules spare. */
async function planStateUpdate(env: PerformEnv, arn: string, data: ExecutionData): Promise<ExecutionData> {
  const request = data.request!;
  const image = await env.store.getResource(data.resourceArn!);
  const amiSkips: Record<string, string> = {};
  for (const mi of await machineImagesOf(env.store, data.resourceArn!)) {
    const facts = amiFactsOf(mi);
    const reason = amiExclusion(request.exclusionRules?.amis, facts);
    if (reason !== undefined) amiSkips[facts.amiId] = reason;
  }
  const resource: ExecutionResource = {
    resourceId: data.resourceArn!,
    accountId: image?.accountId ?? data.resourceArn!.split(':')[4]!,
    region: image?.region ?? data.resourceArn!.split(':')[3]!,
    action: { name: STATUS_ACTION[request.status]!, reason: `StartResourceStateUpdate to ${request.status}` },
    state: { status: 'IN_PROGRESS' },
    startTime: env.clock.now().toISOString(),
    plan: { include: request.includeResources, amiSkips, manual: true },
  };
  return updateExecution(env.store, arn, (d) => ({ ...d, resources: [resource], hasImpactedResources: true }));
}

/**
 * Runs the execution stored at `arn` to its end (or until `signal` aborts, leaving it to resume later).
 * `keepAlive` is called between images (the runner renews its job lease there).
 */
export async function performExecution(env: PerformEnv, arn: string, signal: AbortSignal, keepAlive: () => Promise<void>): Promise<PerformResult> {
  const claimed = await claim(env, arn);
  if (!claimed) return { execution: undefined, gcPending: false };
  const id = claimed.lifecycleExecutionId;
  let data: ExecutionData | undefined = claimed;
  try {
    if (data.resources.length === 0 && data.state.status === 'IN_PROGRESS') {
      data = data.kind === 'POLICY' ? await planPolicy(env, arn, data) : await planStateUpdate(env, arn, data);
      if (!data) return { execution: executionOf((await env.store.getResource(arn))!), gcPending: false };
    }
    for (;;) {
      if (signal.aborted) return { execution: data, gcPending: false };
      const next = data.resources.find((r) => r.parentResourceId === undefined && r.state.status === 'IN_PROGRESS');
      if (!next) break;
      if (data.state.status === 'CANCELLING') break;
      const stopped = data.kind === 'POLICY' ? await policyStopped(env, data.lifecyclePolicyArn) : undefined;
      if (stopped) return { execution: await finish(env, arn, 'CANCELLED', stopped, `${stopped} before Kiln reached this image`), gcPending: false };
      const plan = next.plan ?? { include: {}, amiSkips: {}, manual: false };
      const outcome = await applyImageAction(
        { store: env.store, blobs: env.blobs, registryHost: env.registryHost, now: () => env.clock.now(), executionId: data.lifecycleExecutionId },
        { imageArn: next.resourceId, action: next.action.name, include: plan.include, amiSkips: new Map(Object.entries(plan.amiSkips)), manual: plan.manual },
      );
      if (next.action.name === 'DELETE' && outcome.image.status === 'SUCCESS' && env.deleteLogs) {
        await env.deleteLogs(next.resourceId).catch((err: unknown) => env.log?.(`lifecycle: the step logs of ${next.resourceId} were left: ${errorMessage(err)}\n`));
      }
      const done: ExecutionResource = { ...next, state: outcome.image, endTime: env.clock.now().toISOString(), ...(outcome.imageUris.length > 0 ? { imageUris: outcome.imageUris } : {}) };
      delete done.plan;
      data = await updateExecution(env.store, arn, (d) => outcome.children.reduce(withResource, withResource(d, done)));
      await keepAlive();
    }
    if (data.state.status === 'CANCELLING') {
      return { execution: await finish(env, arn, 'CANCELLED', 'cancelled by CancelLifecycleExecution; the images processed before stay as they are', 'the execution was cancelled before Kiln reached this resource'), gcPending: false };
    }
    const deleted = data.resources.some((r) => r.action.name === 'DELETE' && r.state.status === 'SUCCESS');
    let gc: GcResult | undefined;
    if (deleted) {
      gc = await collectGarbage({ store: env.store, blobs: env.blobs, ...(env.layers ? { layers: env.layers } : {}), ...(env.disks ? { disks: env.disks } : {}), graceMs: env.gcGraceMs, ...(env.buildCacheBytes !== undefined ? { buildCacheBytes: env.buildCacheBytes } : {}) }, signal).catch((err: unknown) => {
        env.log?.(`lifecycle: garbage collection after ${id} failed: ${errorMessage(err)}\n`);
        return undefined;
      });
      if (gc?.deferred) env.log?.(`lifecycle: garbage collection after ${data.lifecycleExecutionId} waits for ${gc.deferred}\n`);
    }
    const failed = data.resources.filter((r) => r.state.status === 'FAILED').length;
    const garbage = gc && !gc.deferred ? { garbage: { blobs: gc.blobs, blobBytes: gc.blobBytes, layers: gc.layers, disks: gc.disks, diskBytes: gc.diskBytes } } : {};
    const execution =
      failed > 0
        ? await finish(env, arn, 'FAILED', `${failed} of ${data.resources.length} resources failed; ListLifecycleExecutionResources gives each reason`, 'not reached', garbage)
        : await finish(env, arn, 'SUCCESS', undefined, 'not reached', garbage);
    return { execution, gcPending: deleted && (gc === undefined || gc.deferred !== undefined) };
  } catch (err) {
    if (signal.aborted) return { execution: data, gcPending: false };
    const reason = `the execution stopped on an internal error: ${errorMessage(err)}`;
    env.log?.(`lifecycle: ${id}: ${reason}\n`);
    return { execution: await finish(env, arn, 'FAILED', reason, 'not reached: the execution stopped on an internal error'), gcPending: false };
  }
}
