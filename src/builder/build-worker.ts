/**
 * The build engine's loop: leases `build-image` jobs (build, test, then distribution) and `distribute-image`
 * jobs (distribution alone, for RetryImage and DistributeImage) from the Store's queue, runs each with an
 * AbortSignal that fires on CancelImageCreation (seen by polling the image's state), on a lost lease and on
 * shutdown, and records the outcome on the image and the job.
 *
 * Several workers (processes, hosts) may share one store. A lease owner is `<node>/<pid>/<nonce>`: at start-up a
 * worker fails at once only the jobs its own node's earlier processes left running ("interrupted") and releases
 * what they held on this host; another node's jobs, or a live process's, are left to their lease. A job leased
 * again while its image is mid-way was left by a lost worker: the image ends FAILED naming it, since half a
 * build cannot be resumed on another host.
 */
import { CleanupStack } from '../domain/cleanup-stack.js';
import { errorMessage, isKilnError } from '../domain/errors.js';
import { isInProgress } from '../domain/image-state.js';
import type { Job, ResourceRecord } from '../store/store.js';
import { isOwnDeadProcess, leaseOwnerParts, newLeaseOwner } from '../store/lease-owners.js';
import { closeOpenExecutions } from './records/execution-records.js';
import { buildContainerImage, type BuildServices } from './container/container-build.js';
import { distributeImage } from './stages/distribution-stage.js';
import { BUILD_IMAGE_JOB, DISTRIBUTE_IMAGE_JOB } from '../domain/job-kinds.js';
import { advance, ImageStateChanged, stateOf } from './stages/image-record.js';
import { buildMachineImage } from './machine/machine-build.js';
import { compileBuildPlan } from './compile-build-plan.js';
import { isStepFailed } from './stages/step-runner.js';
import { imageWorkflows } from './workflows/image-workflows.js';
import { stageOverrides } from './workflows/stage-overrides.js';

const JOB_KINDS = [BUILD_IMAGE_JOB, DISTRIBUTE_IMAGE_JOB];
/** The state each kind's image waits in for its job. */
const WAITS_IN: Record<string, string> = { [BUILD_IMAGE_JOB]: 'PENDING', [DISTRIBUTE_IMAGE_JOB]: 'DISTRIBUTING' };

export interface WorkerOptions {
  /** Builds at once. */
  concurrency: number;
  /** How often an idle worker looks for work, and a running build for a cancel. */
  pollMs?: number;
  leaseMs?: number;
  /** This host's name among the workers sharing the store (default: the host name). */
  node?: string;
  /** The lease owner to take jobs as: the process's node id (`<node>/<pid>/<nonce>`, see store/lease-owners.ts); default a new one on `node`. */
  owner?: string;
  /** Releases what crashed builds left on this host (instance scratch folders, processes, cgroups). */
  sweep?: () => Promise<string[]>;
  log?: (text: string) => void;
}

const SHUTDOWN = 'Kiln stopped while this build was running (interrupted)';

export class BuildWorker {
  readonly node: string;
  /** The lease owner this process's jobs carry: `<node>/<pid>/<nonce>`. */
  readonly owner: string;
  private readonly running = new Map<number, { controller: AbortController; done: Promise<void> }>();
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly services: BuildServices,
    private readonly options: WorkerOptions,
  ) {
    this.owner = options.owner ?? newLeaseOwner(options.node);
    this.node = options.node ?? leaseOwnerParts(this.owner)?.node ?? this.owner;
  }

  private get pollMs(): number {
    return this.options.pollMs ?? 250;
  }

  private get leaseMs(): number {
    return this.options.leaseMs ?? 60_000;
  }

  /** Recovers from a previous process, then starts taking jobs. */
  async start(): Promise<void> {
    await this.recover();
    this.loop = this.run();
  }

  /** Looks for work now instead of at the next poll (after CreateImage). */
  notify(): void {
    this.wake?.();
  }

  /**
   * Stops taking jobs, aborts running builds (they end FAILED "interrupted") and waits for them to clean up.
   * Kept instances stay with their owner: the engine releases them.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    for (const r of this.running.values()) r.controller.abort(new Error(SHUTDOWN));
    await this.loop;
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  /** Number of builds under way. */
  get active(): number {
    return this.running.size;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let job: Job | undefined;
      if (this.running.size < this.options.concurrency) {
        try {
          job = await this.services.store.leaseJob(JOB_KINDS, this.owner, this.leaseMs);
        } catch (err) {
          this.options.log?.(`build worker: cannot lease jobs: ${String(err)}\n`);
        }
      }
      if (job) {
        this.startJob(job);
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private startJob(job: Job): void {
    const controller = new AbortController();
    const done = this.runJob(job, controller).finally(() => this.running.delete(job.id));
    this.running.set(job.id, { controller, done });
  }

  /** Renews the lease and watches for a cancel while the build runs. */
  private watch(job: Job, controller: AbortController): () => void {
    let lastRenew = Date.now();
    let busy = false;
    const timer = setInterval(() => {
      if (busy || controller.signal.aborted) return;
      busy = true;
      void (async () => {
        try {
          const record = await this.services.store.getResource(job.resourceArn);
          if (!record || stateOf(record).status === 'CANCELLED') controller.abort(new Error('cancelled'));
          if (Date.now() - lastRenew > this.leaseMs / 3) {
            if (!(await this.services.store.renewJob(job.id, this.owner, this.leaseMs))) controller.abort(new Error('the build job lease was lost'));
            lastRenew = Date.now();
          }
        } catch {
          // A transient store error: try again at the next tick.
        } finally {
          busy = false;
        }
      })();
    }, this.pollMs);
    return () => clearInterval(timer);
  }

  private async runJob(job: Job, controller: AbortController): Promise<void> {
    const { store } = this.services;
    const record = await store.getResource(job.resourceArn).catch(this.noted(`reading ${job.resourceArn}`, undefined));
    if (record && job.attempts > 1 && job.kind === BUILD_IMAGE_JOB && isInProgress(stateOf(record).status) && stateOf(record).status !== WAITS_IN[job.kind]) {
      await this.failLost(record, job);
      return;
    }
    if (!record || stateOf(record).status !== WAITS_IN[job.kind]) {
      await store.finishJob(job.id, this.owner, record && stateOf(record).status === 'CANCELLED' ? 'cancelled' : 'done').catch(this.noted(`finishing job ${job.id}`, false));
      return;
    }
    const unwatch = this.watch(job, controller);
    let outcome: 'done' | 'failed' | 'cancelled' = 'done';
    try {
      await this.build(job.kind, record, controller.signal);
    } catch (err) {
      outcome = await this.fail(record, err, controller.signal);
    } finally {
      unwatch();
    }
    await store.finishJob(job.id, this.owner, outcome).catch(this.noted(`finishing job ${job.id} as ${outcome}`, false));
  }

  /**
   * A build job compiles the plan, then builds and tests, then distributes; a distribute job only distributes
   * what is stored. Whatever the job acquires goes on one cleanup stack, unwound here on every outcome; what
   * fails to release is logged (server log) with the resource it leaked.
   */
  private async build(kind: string, record: ResourceRecord, signal: AbortSignal): Promise<void> {
    const { store } = this.services;
    const cleanup = new CleanupStack(record.arn, { log: (text) => this.options.log?.(`build worker: ${text}`) });
    try {
      const workflows = await imageWorkflows(store, record);
      const log = (text: string) => this.options.log?.(`build worker: ${text}`);
      const overrides = stageOverrides(workflows, { services: this.services, cleanup, log, ...(this.options.pollMs === undefined ? {} : { waitPollMs: this.options.pollMs }) });
      if (kind === BUILD_IMAGE_JOB) {
        const creating = await advance(store, record.arn, 'CREATING');
        const build = await compileBuildPlan(store, creating);
        if (build.kind === 'machine') await buildMachineImage(this.services, creating, build.compiled, signal, cleanup, overrides.machine(build.compiled));
        else await buildContainerImage(this.services, creating, build.compiled, signal, cleanup, overrides.container(build.compiled));
      }
      const ready = await store.getResource(record.arn);
      if (!ready) throw new ImageStateChanged({ status: 'DELETED' });
      await distributeImage(this.services, ready, signal, cleanup, overrides.distribution);
    } finally {
      await cleanup.unwind();
    }
  }

  /** Records a failed or cancelled build; returns the job's outcome. */
  private async fail(record: ResourceRecord, err: unknown, signal: AbortSignal): Promise<'failed' | 'cancelled'> {
    const { store } = this.services;
    const current = await store.getResource(record.arn).catch(this.noted(`reading ${record.arn}`, undefined));
    const cancelled = (current !== undefined && stateOf(current).status === 'CANCELLED') || err instanceof ImageStateChanged;
    if (cancelled) {
      await closeOpenExecutions(store, record.arn, 'CANCELLED', 'the image creation was cancelled').catch(this.noted(`closing the executions of ${record.arn}`, undefined));
      return 'cancelled';
    }
    const reason = signal.aborted && signal.reason instanceof Error ? signal.reason.message : isStepFailed(err) || isKilnError(err) || err instanceof Error ? err.message : String(err);
    this.options.log?.(`build ${record.arn} failed: ${reason}\n`);
    await advance(store, record.arn, 'FAILED', { reason }).catch(this.noted(`recording ${record.arn} as FAILED`, undefined));
    await closeOpenExecutions(store, record.arn, 'FAILED', reason).catch(this.noted(`closing the executions of ${record.arn}`, undefined));
    return 'failed';
  }

  /**
   * A catch handler for bookkeeping that must not fail the job it follows (the image may have moved on, the store
   * may be briefly away): the failure is logged with what it was about, never swallowed.
   */
  private noted<T>(what: string, fallback: T): (err: unknown) => T {
    return (err) => {
      this.options.log?.(`build worker: ${what} failed: ${errorMessage(err)}\n`);
      return fallback;
    };
  }

  /** Fails builds left leased by a process that is gone, then sweeps the host. */
  /** Ends a build whose worker was lost mid-way (its lease ran out): FAILED, naming the worker. */
  private async failLost(record: ResourceRecord, job: Job): Promise<void> {
    const { store } = this.services;
    const who = job.previousOwner ?? 'that ran it';
    const reason = `the build worker ${who} was lost: it stopped renewing its lease on this build; what it held on its host is released when it starts again`;
    this.options.log?.(`${record.arn}: ${reason}\n`);
    await advance(store, record.arn, 'FAILED', { reason }).catch(this.noted(`recording ${record.arn} as FAILED`, undefined));
    await closeOpenExecutions(store, record.arn, 'FAILED', reason);
    await store.finishJob(job.id, this.owner, 'failed').catch(this.noted(`finishing job ${job.id} as failed`, false));
  }

  private async recover(): Promise<void> {
    const { store } = this.services;
    for (const job of await store.listJobs({ state: 'leased' })) {
      if (!JOB_KINDS.includes(job.kind)) continue;
      // Another node's job, or a live process's on this node: its lease says when it is lost (see runJob).
      if (!isOwnDeadProcess(job.leaseOwner, this.node)) continue;
      const record = await store.getResource(job.resourceArn);
      if (record && isInProgress(stateOf(record).status)) {
        await advance(store, record.arn, 'FAILED', { reason: `${SHUTDOWN}; the next start of Kiln released what it held` }).catch(this.noted(`recording ${record.arn} as FAILED`, undefined));
        await closeOpenExecutions(store, record.arn, 'FAILED', SHUTDOWN);
      }
      await store.finishJob(job.id, job.leaseOwner, 'failed');
    }
    const released = (await this.options.sweep?.()) ?? [];
    if (released.length > 0) this.options.log?.(`released ${released.length} leftovers of interrupted builds: ${released.join(', ')}\n`);
  }
}
