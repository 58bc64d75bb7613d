/**
 * The lifecycle runner: runs every ENABLED lifecycle policy once a day (daily-slots.ts) and performs the
 * executions the API records (StartResourceStateUpdate, due at its updateAt), one at a time, through the
 * Store's job queue. Time comes from a Clock, so tests move a TestClock instead of waiting; new work is also
 * looked for every `pollMs` of real time. At most one execution per policy is active: a due day is skipped
 * while the policy's previous execution is still pending or running, as on AWS.
 *
 * Across a cluster, scheduling (what is due) is done by the node holding the `lifecycle` leadership; queued
 * executions are performed by whichever runner leases their job, and a start takes back only the jobs its own
 * node's dead processes left.
 */
import type { BlobStore } from '../artifacts/blob-store.js';
import type { DiskStore } from '../artifacts/disk/disk-store.js';
import type { LayerCache } from '../artifacts/oci/unpack.js';
import { errorMessage, isKilnError, KilnError } from '../domain/errors.js';
import type { Clock } from '../domain/clock.js';
import type { Job, Store } from '../store/store.js';
import { dueSlot, nextSlot } from './daily-slots.js';
import {
  createExecution,
  LIFECYCLE_EXECUTION_TYPE,
  executionOf,
  isActive,
  newExecutionId,
  slotExecutionId,
  updateExecution,
  type ExecutionData,
} from './execution-records.js';
import { collectGarbage, gcSummary, type GcResult } from './gc.js';
import { buildCacheBytes } from './build-cache-prune.js';
import { performExecution, type PerformEnv } from './perform.js';
import { LIFECYCLE_EXECUTION_JOB } from '../domain/job-kinds.js';
import { Leadership, type LeadershipOptions, type TickOutcome } from '../store/leadership.js';
import { isOwnDeadProcess, leaseOwnerParts, newLeaseOwner } from '../store/lease-owners.js';

export const POLICY_TYPE = 'lifecycle-policy';

export interface LifecycleRunnerDeps {
  store: Store;
  clock: Clock;
  blobs: BlobStore;
  layers?: LayerCache;
  disks?: DiskStore;
  /** `host:port` of Kiln's registry, as image URIs name it. */
  registryHost: () => string;
  log?: (text: string) => void;
  /** Unreferenced files younger than this survive garbage collection (default one hour). */
  gcGraceMs?: number;
  /**
   * The step cache's size limit in bytes (`buildCacheGiB`): checked at the schedule's pace by the leading node,
   * which collects garbage when the cache is over it; every collection first prunes the cache to it.
   */
  buildCacheBytes?: number;
  /** Real time between looks for queued executions (default 1 s). */
  pollMs?: number;
  /**
   * Real time between reads of every policy and execution for what is due (default 1 minute); the clock reaching
   * the next known due instant, notify and settle read them at once.
   */
  scheduleMs?: number;
  /** Job lease (default 10 minutes), renewed between images. */
  leaseMs?: number;
  /** The lease owner its jobs carry: the process's node id (store/lease-owners.ts); default a new one. */
  owner?: string;
  /**
   * Schedules only while this node holds the `lifecycle` leadership; `ttlMs` defaults to three schedule periods.
   * Without it every pass schedules (one process alone on its store).
   */
  leadership?: Omit<LeadershipOptions, 'owner' | 'ttlMs'> & { ttlMs?: number };
  /** Told after each scheduling pass whether it ran or was skipped for another node's leadership (metrics). */
  onTick?: (outcome: TickOutcome) => void;
  /** Deletes a deleted image's step logs wherever they are kept. */
  deleteLogs?: (imageArn: string) => Promise<void>;
}

/** The leadership the lifecycle runners of a cluster share. */
export const LIFECYCLE_LEADERSHIP = 'lifecycle';

export interface LifecycleRunner {
  /** Stops looking for work and waits for the execution under way to pause (it resumes at the next start). */
  stop(): Promise<void>;
  /**
   * Runs a policy now, outside its daily slot (Kiln's addition; AWS has no such call): returns the id of the
   * new execution, or of the policy's execution already pending or running. NotFound for an unknown policy,
   * InUse for a DISABLED one.
   */
  runNow(policyArn: string): Promise<string>;
  /** Looks for work now instead of at the next poll. */
  notify(): void;
  /** One full pass now (schedule what is due, perform every queued execution, retry a deferred collection). */
  settle(): Promise<void>;
  /** Collects garbage now; `deferred` when a build is under way. */
  collectGarbage(): Promise<GcResult>;
}

const DEFAULT_GRACE_MS = 60 * 60 * 1000;

class Runner implements LifecycleRunner {
  readonly owner: string;
  private readonly leadership: Leadership | undefined;
  private readonly controller = new AbortController();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private busy: Promise<unknown> = Promise.resolve();
  private gcPending = false;
  /** What the last schedule found due next, when it ran (real time), and whether the next pass must schedule. */
  private nextDue: Date | undefined;
  private scheduledAt = 0;
  private forceSchedule = true;
  private gcTriedAt = 0;

  constructor(private readonly deps: LifecycleRunnerDeps) {
    this.owner = deps.owner ?? newLeaseOwner();
    const lead = deps.leadership;
    const ttlMs = lead?.ttlMs ?? 3 * (deps.scheduleMs ?? 60_000);
    this.leadership = lead && new Leadership(LIFECYCLE_LEADERSHIP, { ...lead, owner: this.owner, ttlMs }, (text) => deps.log?.(text));
  }

  private get env(): PerformEnv {
    const d = this.deps;
    return { store: d.store, clock: d.clock, blobs: d.blobs, ...(d.layers ? { layers: d.layers } : {}), ...(d.disks ? { disks: d.disks } : {}), registryHost: d.registryHost, gcGraceMs: d.gcGraceMs ?? DEFAULT_GRACE_MS, ...(d.buildCacheBytes !== undefined ? { buildCacheBytes: d.buildCacheBytes } : {}), ...(d.log ? { log: d.log } : {}), ...(d.deleteLogs ? { deleteLogs: d.deleteLogs } : {}) };
  }

  /** Runs `work` after whatever pass is under way: passes never overlap. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.busy.then(work, work);
    this.busy = run.catch(() => undefined);
    return run;
  }

  async start(): Promise<void> {
    await this.recover();
    this.loop = this.run();
  }

  /**
   * Jobs a stopped Kiln of this node left leased are queued again, so their executions resume from their saved
   * plans; another node's, or a live process's, are left to their lease.
   */
  private async recover(): Promise<void> {
    const { store } = this.deps;
    const node = leaseOwnerParts(this.owner)?.node ?? this.owner;
    for (const job of await store.listJobs({ state: 'leased' })) {
      if (job.kind !== LIFECYCLE_EXECUTION_JOB || !isOwnDeadProcess(job.leaseOwner, node)) continue;
      await store.finishJob(job.id, job.leaseOwner, 'failed');
      const record = await store.getResource(job.resourceArn);
      if (record && isActive(executionOf(record).state.status)) await store.enqueueJob(LIFECYCLE_EXECUTION_JOB, job.resourceArn);
    }
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      let next: Date | undefined;
      try {
        next = await this.exclusive(() => this.pass());
      } catch (err) {
        this.deps.log?.(`lifecycle: ${errorMessage(err)}\n`);
      }
      if (signal.aborted) break;
      const sleep = new AbortController();
      const onStop = () => sleep.abort();
      signal.addEventListener('abort', onStop, { once: true });
      await Promise.race([
        next ? this.deps.clock.sleepUntil(next, sleep.signal) : new Promise<void>(() => undefined),
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.deps.pollMs ?? 1000);
          sleep.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve();
          });
          this.wake = resolve;
        }),
      ]);
      sleep.abort();
      signal.removeEventListener('abort', onStop);
      this.wake = undefined;
    }
  }

  /** Schedules what is due, performs every queued execution, retries a deferred collection; the next due instant. */
  private async pass(): Promise<Date | undefined> {
    const due = this.nextDue !== undefined && this.deps.clock.now().getTime() >= this.nextDue.getTime();
    if (this.forceSchedule || due || Date.now() - this.scheduledAt >= (this.deps.scheduleMs ?? 60_000)) {
      this.forceSchedule = false;
      this.scheduledAt = Date.now();
      const leads = this.leadership ? await this.leadership.lead() : true;
      // A node that does not lead keeps looking at the schedule's pace, to take over when the leader is gone.
      this.nextDue = leads ? await this.schedule() : undefined;
      if (leads && (await this.cacheOverLimit())) {
        this.gcPending = true;
        this.gcTriedAt = 0;
      }
      this.deps.onTick?.(leads ? 'ran' : 'skipped');
    }
    const next = this.nextDue;
    for (;;) {
      if (this.controller.signal.aborted) return next;
      const job = await this.deps.store.leaseJob([LIFECYCLE_EXECUTION_JOB], this.owner, this.deps.leaseMs ?? 600_000);
      if (!job) break;
      await this.perform(job);
    }
    // A collection that had to wait (or failed) is tried again at the schedule's pace, not at every poll.
    if (this.gcPending && !this.controller.signal.aborted && Date.now() - this.gcTriedAt >= (this.deps.scheduleMs ?? 60_000)) {
      this.gcTriedAt = Date.now();
      try {
        const gc = await this.gc();
        this.gcPending = gc.deferred !== undefined;
        if (!gc.deferred) this.deps.log?.(`lifecycle: garbage collection ${gcSummary(gc)}\n`);
      } catch (err) {
        this.deps.log?.(`lifecycle: garbage collection failed: ${errorMessage(err)}\n`);
      }
    }
    return next;
  }

  private async perform(job: Job): Promise<void> {
    const { store } = this.deps;
    let outcome: 'done' | 'failed' = 'done';
    try {
      const keepAlive = async () => {
        if (!(await store.renewJob(job.id, this.owner, this.deps.leaseMs ?? 600_000))) throw new KilnError('Conflict', 'the lifecycle job lease was lost');
      };
      const result = await performExecution(this.env, job.resourceArn, this.controller.signal, keepAlive);
      if (result.gcPending) {
        this.gcPending = true;
        this.gcTriedAt = Date.now();
      }
      // Stopped mid-way: the job stays leased, and the next start queues it again (recover).
      if (this.controller.signal.aborted && result.execution && isActive(result.execution.state.status)) return;
      const e = result.execution;
      if (e) this.deps.log?.(`lifecycle: ${e.lifecycleExecutionId} ${e.state.status}${e.state.reason ? `: ${e.state.reason}` : ''}\n`);
    } catch (err) {
      outcome = 'failed';
      this.deps.log?.(`lifecycle: job ${job.id} (${job.resourceArn}) failed: ${errorMessage(err)}\n`);
    }
    await store.finishJob(job.id, this.owner, outcome).catch(() => false);
  }

  /** Records the daily runs that are due and queues StartResourceStateUpdate executions whose time has come. */
  private async schedule(): Promise<Date | undefined> {
    const { store, clock } = this.deps;
    const now = clock.now();
    const executions = (await store.listResourcesOfType(LIFECYCLE_EXECUTION_TYPE)).map((r) => ({ arn: r.arn, data: executionOf(r) }));
    const busyPolicies = new Set(executions.filter((e) => isActive(e.data.state.status) && e.data.lifecyclePolicyArn).map((e) => e.data.lifecyclePolicyArn!));
    let next: Date | undefined;
    const soonest = (d: Date) => {
      if (!next || d.getTime() < next.getTime()) next = d;
    };
    for (const policy of await store.listResourcesOfType(POLICY_TYPE)) {
      if (policy.data.status !== 'ENABLED') continue;
      const created = new Date(String(policy.data.dateCreated ?? policy.createdAt));
      const lastRun = typeof policy.data.dateLastRun === 'string' ? new Date(policy.data.dateLastRun) : undefined;
      soonest(nextSlot(created, now));
      const slot = dueSlot(created, lastRun, now);
      if (!slot || busyPolicies.has(policy.arn)) continue;
      const data = this.policyExecution(slotExecutionId(policy.arn, slot), policy.arn, 'SCHEDULE', now);
      await createExecution(store, { accountId: policy.accountId, region: policy.region }, data, { enqueue: true }).catch((err: unknown) => {
        // This day's run exists already (another pass or process recorded it): nothing more to do.
        if (!isKilnError(err, 'AlreadyExists')) throw err;
      });
    }
    for (const { arn, data } of executions) {
      if (data.state.status !== 'PENDING' || data.enqueued) continue;
      const at = data.updateAt === undefined ? now : new Date(data.updateAt);
      if (at.getTime() > now.getTime()) {
        soonest(at);
        continue;
      }
      // Queued before it is marked: a crash in between costs a second job, which finds the execution started.
      await store.enqueueJob(LIFECYCLE_EXECUTION_JOB, arn);
      await updateExecution(store, arn, (d) => ({ ...d, enqueued: true }));
    }
    return next;
  }

  private policyExecution(id: string, policyArn: string, trigger: 'SCHEDULE' | 'MANUAL', now: Date): ExecutionData {
    return { lifecycleExecutionId: id, kind: 'POLICY', lifecyclePolicyArn: policyArn, trigger, enqueued: true, state: { status: 'PENDING' }, hasImpactedResources: false, createdAt: now.toISOString(), resources: [] };
  }

  private gc(): Promise<GcResult> {
    const d = this.deps;
    return collectGarbage(
      { store: d.store, blobs: d.blobs, ...(d.layers ? { layers: d.layers } : {}), ...(d.disks ? { disks: d.disks } : {}), graceMs: d.gcGraceMs ?? DEFAULT_GRACE_MS, ...(d.buildCacheBytes !== undefined ? { buildCacheBytes: d.buildCacheBytes } : {}) },
      this.controller.signal,
    );
  }

  /** Whether the step cache's entries keep more bytes alive than its limit allows (a prune is due). */
  private async cacheOverLimit(): Promise<boolean> {
    const limit = this.deps.buildCacheBytes;
    return limit !== undefined && (await buildCacheBytes(this.deps.store)) > limit;
  }

  async runNow(policyArn: string): Promise<string> {
    const { store, clock } = this.deps;
    const policy = await store.getResource(policyArn);
    if (!policy || policy.type !== POLICY_TYPE) throw new KilnError('NotFound', `The lifecycle policy ${policyArn} does not exist.`);
    if (policy.data.status !== 'ENABLED') throw new KilnError('InUse', `The lifecycle policy ${policyArn} is ${String(policy.data.status)}; enable it before running it.`);
    const active = (await store.listResources({ accountId: policy.accountId, region: policy.region, type: LIFECYCLE_EXECUTION_TYPE }))
      .map(executionOf)
      .find((e) => e.lifecyclePolicyArn === policyArn && isActive(e.state.status));
    if (active) return active.lifecycleExecutionId;
    const data = this.policyExecution(newExecutionId(), policyArn, 'MANUAL', clock.now());
    await createExecution(store, { accountId: policy.accountId, region: policy.region }, data, { enqueue: true });
    this.notify();
    return data.lifecycleExecutionId;
  }

  notify(): void {
    this.forceSchedule = true;
    this.wake?.();
  }

  async settle(): Promise<void> {
    this.forceSchedule = true;
    await this.exclusive(() => this.pass());
    // The loop's wait was computed before this pass; let it look at what is due now.
    this.notify();
  }

  collectGarbage(): Promise<GcResult> {
    return this.exclusive(() => this.gc());
  }

  async stop(): Promise<void> {
    this.controller.abort();
    this.wake?.();
    await this.loop;
    await this.busy;
    await this.leadership?.release();
  }
}

/**
 * Starts the lifecycle runner over a store and the artifact stores: jobs a previous process left half-done are
 * queued again, then it schedules and performs executions until `stop`.
 */
export async function startLifecycleRunner(deps: LifecycleRunnerDeps): Promise<LifecycleRunner> {
  const runner = new Runner(deps);
  await runner.start();
  return runner;
}
