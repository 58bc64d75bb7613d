/**
 * The pipeline scheduler of `kiln serve`: once a minute (by its Clock) it evaluates every ENABLED pipeline whose
 * schedule is due, and for each either starts a SCHEDULED run or records the tick as skipped.
 *
 * Exactly once per tick, across restarts: each pipeline carries a cursor (the instant up to which ticks were
 * handled). A due tick is the first schedule instant after the cursor; handling it moves the cursor to the
 * evaluation time, so ticks missed while Kiln was stopped collapse into one run at start-up. The run's image is
 * created with an idempotency token made of the pipeline and the tick's instant, and the cursor moves only
 * after, compare-and-set: a crash in between makes the next start find the same image instead of a second one.
 *
 * Once per tick across a cluster: with a leadership, each tick first takes or renews it (a term of a few ticks),
 * and a node that does not hold it skips the tick. The idempotency token above already keeps two nodes from
 * starting two runs for one due time; the leadership keeps them from evaluating every pipeline twice.
 */
import { KilnError, isKilnError } from '../domain/errors.js';
import type { ResourceRecord, Store } from '../store/store.js';
import type { Clock } from '../domain/clock.js';
import { DependencyResolver, type ParentTagResolver } from './dependency-resolver.js';
import { nextDue } from './due.js';
import type { PipelineRunStarter } from './run-starter.js';
import { isTerminal, runStateOf, withOutcome, withRun, withScheduledFailure, withTick, withoutRun, type RunBuildType, type TickRecord } from './run-state.js';
import type { JsonObject } from '../domain/json.js';
import { Leadership, type LeadershipOptions } from '../store/leadership.js';


const PIPELINE = 'image-pipeline';
const DEPENDENCY_CONDITION = 'EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE';
/** A pipeline tag that lets runs of the pipeline overlap; by default a tick is skipped while a run is under way. */
export const CONCURRENT_RUNS_TAG = 'kiln:allowConcurrentRuns';
const MINUTE = 60_000;
/** Pipelines evaluated between two turns of the event loop; skips are written five times as many at a time. */
const YIELD_EVERY = 200;

export interface SchedulerOptions {
  store: Store;
  clock: Clock;
  resolveTag: ParentTagResolver;
  /** Starts the runs the scheduler decides on (the service's pipelineRunStarter). */
  runs: PipelineRunStarter;
  /** Called after runs were queued, so the build worker looks for work at once. */
  onQueued?: () => void;
  log?: (text: string) => void;
  /**
   * Ticks only while this node holds the `scheduler` leadership; `ttlMs` defaults to three ticks (3 minutes).
   * Without it every tick runs (one process alone on its store).
   */
  leadership?: Omit<LeadershipOptions, 'ttlMs'> & { ttlMs?: number };
  /** Told how each tick ended: what it did, why it failed, or that another node's leadership skipped it (metrics). */
  onTick?: (outcome: TickOutcome) => void;
}

/** The leadership the schedulers of a cluster share. */
export const SCHEDULER_LEADERSHIP = 'scheduler';

/** What one tick did. */
export interface TickReport {
  /** Pipelines whose schedule was due. */
  due: number;
  started: string[];
  skipped: number;
  failed: number;
}

/** How one tick ended: it ran (and what it did), it failed, or another node's scheduler leads and it was skipped. */
export type TickOutcome = { ok: true; report: TickReport } | { ok: false; error: unknown } | { skipped: true };

/** True when the pipeline allows overlapping runs (its `kiln:allowConcurrentRuns` tag is `true`). */
export function allowsConcurrentRuns(data: JsonObject): boolean {
  return (data.tags as Record<string, string> | undefined)?.[CONCURRENT_RUNS_TAG] === 'true';
}

export class PipelineScheduler {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private lastTick = -Infinity;
  private readonly waiters: { at: number; resolve: () => void }[] = [];
  private readonly leadership: Leadership | undefined;
  private ticks = { ran: 0, skipped: 0 };

  constructor(private readonly options: SchedulerOptions) {
    const lead = options.leadership;
    this.leadership = lead && new Leadership(SCHEDULER_LEADERSHIP, { ...lead, ttlMs: lead.ttlMs ?? 3 * MINUTE }, (text) => options.log?.(text));
  }

  /** Ticks of the loop so far: run by this node, or skipped because another node leads. */
  get tickCounts(): { ran: number; skipped: number } {
    return { ...this.ticks };
  }

  /** Ticks now (owed ticks fire at start-up), then at every minute boundary of the clock. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops ticking and gives up the leadership, so another node's scheduler takes over at its next tick. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    if (this.loop) await this.leadership?.release();
  }

  /** Resolves once a tick evaluated at `at` or later has finished (tests move a TestClock, then wait here). */
  waitForTick(at: Date): Promise<void> {
    if (this.lastTick >= at.getTime()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ at: at.getTime(), resolve }));
  }

  private async run(): Promise<void> {
    const { clock } = this.options;
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      const now = clock.now();
      const leads = this.leadership ? await this.leadership.lead() : true;
      if (leads) {
        try {
          await this.tick(now);
        } catch (err) {
          this.options.log?.(`scheduler: tick at ${now.toISOString()} failed: ${String(err)}\n`);
        }
      }
      this.ticks[leads ? 'ran' : 'skipped']++;
      if (!leads) this.options.onTick?.({ skipped: true });
      this.lastTick = now.getTime();
      for (const w of this.waiters.splice(0)) {
        if (w.at <= this.lastTick) w.resolve();
        else this.waiters.push(w);
      }
      await clock.sleepUntil(new Date(Math.floor(now.getTime() / MINUTE) * MINUTE + MINUTE), signal);
    }
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** Evaluates every pipeline at `now`. Skips are written in a few large transactions; each run is stored as it starts. */
  async tick(now: Date): Promise<TickReport> {
    let report: TickReport;
    try {
      report = await this.evaluate(now);
    } catch (err) {
      this.options.onTick?.({ ok: false, error: err });
      throw err;
    }
    this.options.onTick?.({ ok: true, report });
    return report;
  }

  private async evaluate(now: Date): Promise<TickReport> {
    const { store } = this.options;
    const report: TickReport = { due: 0, started: [], skipped: 0, failed: 0 };
    const resolver = new DependencyResolver(store, this.options.resolveTag, this.stopping.signal);
    const batch: { arn: string; change: (current: ResourceRecord) => JsonObject | undefined }[] = [];
    const pipelines = await store.listResourcesOfType(PIPELINE);
    for (const [i, pipeline] of pipelines.entries()) {
      if (this.stopping.signal.aborted) break;
      // The store answers synchronously: let API requests in between, so a large tick does not stall them.
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((resolve) => setImmediate(resolve));
      const ended = await this.endedRuns(pipeline.data);
      const data = settle(pipeline.data, ended);
      const due = nextDue(data);
      const cursor = runStateOf(pipeline.data).scheduleCursor;
      if (!due || due.getTime() > now.getTime()) {
        if (ended.images.length + ended.gone.length > 0) batch.push({ arn: pipeline.arn, change: (current) => settleIfChanged(current.data, ended) });
        continue;
      }
      report.due++;
      const tick: TickRecord = { scheduledTime: due.toISOString(), evaluatedAt: now.toISOString(), outcome: 'SKIPPED' };
      const skip = await this.skipReason({ ...pipeline, data }, resolver);
      if (skip !== undefined) {
        report.skipped++;
        batch.push({ arn: pipeline.arn, change: (current) => (sameCursor(current, cursor) ? withTick(settle(current.data, ended), { ...tick, reason: skip }, now.toISOString()) : undefined) });
        continue;
      }
      const started = await this.fire({ ...pipeline, data }, due, tick, ended, cursor, now);
      if (started) report.started.push(started);
      else report.failed++;
    }
    for (let i = 0; i < batch.length; i += YIELD_EVERY * 5) {
      await store.updateResources(batch.slice(i, i + YIELD_EVERY * 5));
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (report.started.length > 0) this.options.onQueued?.();
    return report;
  }

  /** Why a due tick does not start a run, or undefined when it does. */
  private async skipReason(pipeline: ResourceRecord, resolver: DependencyResolver): Promise<string | undefined> {
    const pending = runStateOf(pipeline.data).pendingRuns ?? [];
    if (pending.length > 0 && !allowsConcurrentRuns(pipeline.data)) {
      return `a run of this pipeline is still under way (${pending.map((p) => p.imageBuildVersionArn).join(', ')})`;
    }
    const schedule = pipeline.data.schedule as { pipelineExecutionStartCondition?: string } | undefined;
    if ((schedule?.pipelineExecutionStartCondition ?? DEPENDENCY_CONDITION) !== DEPENDENCY_CONDITION) return undefined;
    const last = runStateOf(pipeline.data).lastSuccessfulRun;
    if (!last) return undefined;
    let now: string;
    try {
      now = await resolver.resolve(pipeline);
    } catch {
      // The run itself reports what cannot be resolved, as a failed build with the field named.
      return undefined;
    }
    return now === last.dependencies ? `no dependency updates since ${last.imageBuildVersionArn}` : undefined;
  }

  /** Starts a SCHEDULED run for a due tick; returns the image ARN, or undefined when the run could not start. */
  private async fire(pipeline: ResourceRecord, due: Date, tick: TickRecord, ended: Ended, cursor: string | undefined, now: Date): Promise<string | undefined> {
    const { store, runs } = this.options;
    try {
      const image = await runs.startScheduledRun(pipeline, {
        requestId: `schedule:${due.toISOString()}`,
        idempotency: { operation: 'ScheduledPipelineRun', token: `${pipeline.arn}@${due.toISOString()}`, inputHash: 'schedule' },
      });
      await store.updateResource(pipeline.arn, (current) =>
        sameCursor(current, cursor)
          ? withTick(settle(current.data, ended), { ...tick, outcome: 'STARTED', imageBuildVersionArn: image.arn }, now.toISOString(), { imageBuildVersionArn: image.arn, buildType: 'SCHEDULED' })
          : current.data,
      );
      this.options.log?.(`scheduler: ${pipeline.arn} started ${image.arn}\n`);
      return image.arn;
    } catch (err) {
      const reason = isKilnError(err) || err instanceof Error ? err.message : String(err);
      this.options.log?.(`scheduler: ${pipeline.arn} could not start: ${reason}\n`);
      await store
        .updateResource(pipeline.arn, (current) => (sameCursor(current, cursor) ? withScheduledFailure(withTick(settle(current.data, ended), { ...tick, outcome: 'FAILED', reason }, now.toISOString())) : current.data))
        .catch(() => undefined);
      return undefined;
    }
  }

  /** The pending runs of a pipeline whose images ended, and those whose images are gone. */
  private async endedRuns(data: JsonObject): Promise<Ended> {
    const out: Ended = { images: [], gone: [] };
    for (const run of runStateOf(data).pendingRuns ?? []) {
      const image = await this.options.store.getResource(run.imageBuildVersionArn);
      if (!image) out.gone.push(run.imageBuildVersionArn);
      else if (isTerminal((image.data.state as { status?: string } | undefined)?.status)) out.images.push(image);
    }
    return out;
  }

  /** Applies the end of one image's run to its pipeline at once (called when a build ends). */
  async runEnded(image: ResourceRecord): Promise<void> {
    const pipelineArn = image.data.sourcePipelineArn;
    if (typeof pipelineArn !== 'string') return;
    await this.options.store.updateResource(pipelineArn, (current) => withOutcome(current.data, image) ?? current.data).catch(() => undefined);
  }

  /**
   * Throws InUse when a run of the pipeline is under way and the pipeline does not allow overlapping runs (a
   * retry of the request that started that run, by its clientToken, passes); returns the pipeline with its
   * ended runs settled.
   */
  async assertIdle(pipeline: ResourceRecord, clientToken?: string): Promise<ResourceRecord> {
    const settled = { ...pipeline, data: settle(pipeline.data, await this.endedRuns(pipeline.data)) };
    const running = runStateOf(settled.data).pendingRuns ?? [];
    const retry = clientToken !== undefined && running.some((r) => r.clientToken === clientToken);
    if (running.length > 0 && !retry && !allowsConcurrentRuns(pipeline.data)) {
      throw new KilnError('InUse', `The image pipeline ${pipeline.arn} has a run under way (${running.map((r) => r.imageBuildVersionArn).join(', ')}); wait for it to end, cancel it, or tag the pipeline ${CONCURRENT_RUNS_TAG}=true to allow overlapping runs.`);
    }
    return settled;
  }

  /**
   * A run asked for by a trigger (the webhook, as an EventBridge rule would start one): SCHEDULED, under the
   * pipeline's start condition unless `force`; returns the image, or why nothing started.
   */
  async trigger(pipeline: ResourceRecord, options: { force: boolean }): Promise<{ imageBuildVersionArn?: string; skipped?: string }> {
    const settled = await this.assertIdle(pipeline);
    if (!options.force) {
      const skipped = await this.skipReason(settled, new DependencyResolver(this.options.store, this.options.resolveTag, this.stopping.signal));
      if (skipped !== undefined) return { skipped };
    }
    const image = await this.options.runs.startScheduledRun(pipeline, { requestId: `trigger:${this.options.clock.now().toISOString()}` });
    await this.runStarted(pipeline.arn, image.arn, 'SCHEDULED');
    this.options.onQueued?.();
    return { imageBuildVersionArn: image.arn };
  }

  /** Records a run started outside the schedule, so ticks see it under way and its end is counted. */
  async runStarted(pipelineArn: string, imageArn: string, buildType: RunBuildType, clientToken?: string): Promise<void> {
    const run = { imageBuildVersionArn: imageArn, buildType, ...(clientToken === undefined ? {} : { clientToken }) };
    await this.options.store.updateResource(pipelineArn, (current) => withRun(current.data, run, this.options.clock.now().toISOString()));
  }
}

function sameCursor(current: ResourceRecord, cursor: string | undefined): boolean {
  return runStateOf(current.data).scheduleCursor === cursor;
}

/** Runs found ended at a tick: images in a final state, and pending runs whose image was deleted. */
interface Ended {
  images: ResourceRecord[];
  gone: string[];
}

/** The data with every ended run applied. */
function settle(data: JsonObject, ended: Ended): JsonObject {
  let out = data;
  for (const image of ended.images) out = withOutcome(out, image) ?? out;
  for (const arn of ended.gone) out = withoutRun(out, arn);
  return out;
}

function settleIfChanged(data: JsonObject, ended: Ended): JsonObject | undefined {
  const out = settle(data, ended);
  return out === data ? undefined : out;
}
