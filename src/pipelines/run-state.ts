/**
 * The run bookkeeping Kiln keeps on an image pipeline's record, next to its wire fields: where the schedule has
 * been evaluated up to, the runs still under way, the dependencies of the last successful build, and the recent
 * ticks. Pure functions: the scheduler applies them inside store transactions.
 */
import type { ImageStatus } from '../domain/image-state.js';
import type { ResourceRecord } from '../store/store.js';
import type { BuildPlan } from '../builder/stages/image-record.js';
import type { JsonObject } from '../domain/json.js';


export type RunBuildType = 'USER_INITIATED' | 'SCHEDULED';

/** What one evaluation of a schedule tick decided. */
export interface TickRecord {
  /** The schedule instant the tick stands for (the first one missed, after a stop). */
  scheduledTime: string;
  evaluatedAt: string;
  outcome: 'STARTED' | 'SKIPPED' | 'FAILED';
  reason?: string;
  imageBuildVersionArn?: string;
}

export interface PendingRun {
  imageBuildVersionArn: string;
  buildType: RunBuildType;
  /** The clientToken of the StartImagePipelineExecution that started it: a retry with it is answered, not refused. */
  clientToken?: string;
}

/** Run bookkeeping on the pipeline record; UpdateImagePipeline keeps all of it but the cursor. */
export interface PipelineRunState {
  /** Schedule instants up to this one have been handled (fired or skipped). */
  scheduleCursor?: string;
  pendingRuns?: PendingRun[];
  lastSuccessfulRun?: { imageBuildVersionArn: string; dependencies: string };
  scheduleHistory?: TickRecord[];
}

/** Fields UpdateImagePipeline carries over (the cursor restarts from the update, as a new schedule would). */
export const KEPT_ON_UPDATE = ['pendingRuns', 'lastSuccessfulRun', 'scheduleHistory', 'webhook'] as const;

const HISTORY = 20;
/** AWS: without an autoDisablePolicy, a pipeline is disabled after 5 consecutive failed scheduled builds. */
const DEFAULT_FAILURE_LIMIT = 5;
const TERMINAL: ReadonlySet<string> = new Set(['AVAILABLE', 'FAILED', 'CANCELLED', 'DEPRECATED', 'DISABLED', 'DELETED']);

export function isTerminal(status: string | undefined): boolean {
  return status !== undefined && TERMINAL.has(status);
}

/**
 * What a build depended on, as one comparable string: the recipe, the parent as resolved, and each component's
 * resolved ARN in order. Two builds with the same string had nothing new to pick up.
 */
export function dependencyKey(recipeArn: string, parent: string, components: readonly string[]): string {
  return JSON.stringify([recipeArn, parent, ...components]);
}

/** The dependency key of a finished build, from the build plan stored on its image. */
export function dependencyKeyOfImage(image: ResourceRecord): string | undefined {
  const plan = image.data.buildPlan as BuildPlan | undefined;
  const recipe = (image.data.containerRecipe ?? image.data.imageRecipe) as JsonObject | undefined;
  if (!plan || typeof recipe?.arn !== 'string') return undefined;
  return dependencyKey(recipe.arn, plan.parent.resolved, plan.components.map((c) => c.arn));
}

export function runStateOf(data: JsonObject): PipelineRunState {
  return data as PipelineRunState;
}

/** Records a tick and moves the cursor; the history keeps the last few ticks. */
export function withTick(data: JsonObject, tick: TickRecord, cursor: string, started?: PendingRun): JsonObject {
  const state = runStateOf(data);
  return {
    ...data,
    scheduleCursor: cursor,
    scheduleHistory: [...(state.scheduleHistory ?? []), tick].slice(-HISTORY),
    ...(started ? { pendingRuns: [...(state.pendingRuns ?? []), started], dateLastRun: tick.evaluatedAt } : {}),
  };
}

/** Adds a run started outside the schedule (by hand or by a trigger). */
export function withRun(data: JsonObject, run: PendingRun, at: string): JsonObject {
  const pending = runStateOf(data).pendingRuns ?? [];
  if (pending.some((p) => p.imageBuildVersionArn === run.imageBuildVersionArn)) return data;
  return { ...data, pendingRuns: [...pending, run], dateLastRun: at };
}

/**
 * Applies the end of a run to the pipeline, as AWS counts: a success resets consecutiveFailures and becomes the
 * set later ticks compare against; a failed scheduled run adds one, and reaching autoDisablePolicy.failureCount
 * disables the pipeline (5 without a policy); a failed manual run and a cancelled run leave the count alone. Undefined when the
 * image is not a pending run of this pipeline or has not ended.
 */
export function withOutcome(data: JsonObject, image: ResourceRecord): JsonObject | undefined {
  const pending = runStateOf(data).pendingRuns ?? [];
  const run = pending.find((p) => p.imageBuildVersionArn === image.arn);
  const status = (image.data.state as { status?: ImageStatus } | undefined)?.status;
  if (!run || !isTerminal(status)) return undefined;
  const next: JsonObject = { ...data, pendingRuns: pending.filter((p) => p !== run), lastRunStatus: status };
  if (status === 'AVAILABLE') {
    next.consecutiveFailures = 0;
    const dependencies = dependencyKeyOfImage(image);
    if (dependencies !== undefined) next.lastSuccessfulRun = { imageBuildVersionArn: image.arn, dependencies };
  } else if (status === 'FAILED' && run.buildType === 'SCHEDULED') {
    return withScheduledFailure(next);
  }
  return next;
}

/** One more failed scheduled run: reaching the policy's failureCount (5 without one) disables the pipeline. */
export function withScheduledFailure(data: JsonObject): JsonObject {
  const failures = (typeof data.consecutiveFailures === 'number' ? data.consecutiveFailures : 0) + 1;
  const limit = ((data.schedule as JsonObject | undefined)?.autoDisablePolicy as { failureCount?: number } | undefined)?.failureCount ?? DEFAULT_FAILURE_LIMIT;
  return { ...data, consecutiveFailures: failures, lastRunStatus: 'FAILED', ...(failures >= limit ? { status: 'DISABLED' } : {}) };
}

/** A pending run with no image any more (deleted) is dropped. */
export function withoutRun(data: JsonObject, imageArn: string): JsonObject {
  if (!(runStateOf(data).pendingRuns ?? []).some((p) => p.imageBuildVersionArn === imageArn)) return data;
  return { ...data, pendingRuns: (runStateOf(data).pendingRuns ?? []).filter((p) => p.imageBuildVersionArn !== imageArn) };
}
