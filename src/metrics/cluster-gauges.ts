/**
 * Gauges read from the shared store when Prometheus scrapes, so every node reports the same cluster-wide numbers
 * (queue depth, ages, running builds, workers) without any node keeping them: a scrape lists the queued and the
 * leased jobs once (shared by every gauge of that scrape) and, when the store has node registration, the nodes.
 * A store that does not answer in time leaves these gauges out of the scrape and sets kiln_store_scrape_success to 0,
 * so a scrape never hangs on the store and the process metrics still arrive.
 */
import { Gauge, type Registry } from 'prom-client';
import { BUILD_IMAGE_JOB, DISTRIBUTE_IMAGE_JOB } from '../domain/job-kinds.js';
import type { ClusterNodes } from '../store/roles/cluster-nodes.js';
import type { Job, JobQueue } from '../store/roles/job-queue.js';

export interface ClusterGaugeDeps {
  jobs: Pick<JobQueue, 'listJobs'>;
  /** Node registration, when the store has it: without it kiln_workers is left out. */
  nodes?: Pick<ClusterNodes, 'listNodes'>;
  /** A node whose heartbeat is older than this is `lost` (default 30 s). */
  lostAfterMs?: number;
  /** Longest a scrape waits for the store (default 2 s). */
  timeoutMs?: number;
  /** Now, in ms (tests); default Date.now. */
  now?: () => number;
}

interface Snapshot {
  queued: Job[];
  leased: Job[];
  workers: { active: number; lost: number } | undefined;
  at: number;
}

/** The jobs that are builds: what kiln_builds_running counts. */
const BUILD_KINDS: ReadonlySet<string> = new Set([BUILD_IMAGE_JOB, DISTRIBUTE_IMAGE_JOB]);

const ageSeconds = (now: number, iso: string): number => Math.max(0, (now - Date.parse(iso)) / 1000);

function byKind(jobs: readonly Job[]): Map<string, Job[]> {
  const out = new Map<string, Job[]>();
  for (const job of jobs) out.set(job.kind, [...(out.get(job.kind) ?? []), job]);
  return out;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Registers the store-backed gauges on `registry`. */
export function registerClusterGauges(registry: Registry, deps: ClusterGaugeDeps): void {
  const now = deps.now ?? Date.now;
  const timeoutMs = deps.timeoutMs ?? 2_000;
  let current: Promise<Snapshot | undefined> | undefined;

  // Every gauge's collect runs in the same scrape, one after another: they share one read of the store, which the
  // next scrape (a later call after this one settled) reads afresh.
  const snapshot = (): Promise<Snapshot | undefined> => {
    current ??= withTimeout(
      (async (): Promise<Snapshot> => {
        const [queued, leased, nodes] = await Promise.all([deps.jobs.listJobs({ state: 'queued' }), deps.jobs.listJobs({ state: 'leased' }), deps.nodes?.listNodes(deps.lostAfterMs ?? 30_000)]);
        const workers = nodes?.filter((n) => n.roles.includes('worker'));
        return { queued, leased, workers: workers && { active: workers.filter((n) => n.state === 'active').length, lost: workers.filter((n) => n.state === 'lost').length }, at: now() };
      })(),
      timeoutMs,
    ).then(
      (s) => s,
      () => undefined,
    );
    const mine = current;
    // Forgotten once this scrape's collectors have all run (they run within a few turns of the event loop).
    void mine.then(() => setImmediate(() => current === mine && (current = undefined)));
    return mine;
  };

  const registers = [registry];
  new Gauge({
    name: 'kiln_store_scrape_success',
    help: '1 when the store answered this scrape\'s queue and node reads in time, else 0 (and the job and worker gauges are left out).',
    registers,
    async collect() {
      this.set((await snapshot()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kiln_job_queue_depth',
    help: 'Jobs waiting for a worker, by kind (build-image, distribute-image, lifecycle-execution).',
    labelNames: ['kind'],
    registers,
    async collect() {
      this.reset();
      const s = await snapshot();
      if (!s) return;
      for (const kind of [BUILD_IMAGE_JOB, DISTRIBUTE_IMAGE_JOB]) this.set({ kind }, 0);
      for (const [kind, jobs] of byKind(s.queued)) this.set({ kind }, jobs.length);
    },
  });
  new Gauge({
    name: 'kiln_job_oldest_age_seconds',
    help: 'Seconds since the oldest job in a state was queued: for queued jobs how long work has waited, for leased ones how long the oldest job under way has been in the queue.',
    labelNames: ['kind', 'state'],
    registers,
    async collect() {
      this.reset();
      const s = await snapshot();
      if (!s) return;
      for (const [state, jobs] of [['queued', s.queued], ['leased', s.leased]] as const) {
        for (const [kind, ofKind] of byKind(jobs)) this.set({ kind, state }, Math.max(...ofKind.map((j) => ageSeconds(s.at, j.createdAt))));
      }
    },
  });
  new Gauge({
    name: 'kiln_job_lease_age_seconds',
    help: 'Seconds since the stalest held lease was taken or last renewed, by kind: it stays near the renewal interval while workers live and grows on a lost worker\'s job until the lease expires.',
    labelNames: ['kind'],
    registers,
    async collect() {
      this.reset();
      const s = await snapshot();
      if (!s) return;
      for (const [kind, jobs] of byKind(s.leased)) this.set({ kind }, Math.max(...jobs.map((j) => ageSeconds(s.at, j.updatedAt))));
    },
  });
  new Gauge({
    name: 'kiln_job_leases_expired',
    help: 'Leased jobs whose lease has run out and that no worker has taken back yet, by kind.',
    labelNames: ['kind'],
    registers,
    async collect() {
      this.reset();
      const s = await snapshot();
      if (!s) return;
      for (const [kind, jobs] of byKind(s.leased)) this.set({ kind }, jobs.filter((j) => j.leaseUntil !== undefined && Date.parse(j.leaseUntil) < s.at).length);
    },
  });
  new Gauge({
    // By kind, though builds are what it counts: an unlabelled gauge always shows a value, and a store that did
    // not answer must leave it out rather than report no builds.
    name: 'kiln_builds_running',
    help: 'Builds under way across the cluster: leased build-image (whole builds) and distribute-image (distribution only) jobs.',
    labelNames: ['kind'],
    registers,
    async collect() {
      this.reset();
      const s = await snapshot();
      if (!s) return;
      for (const kind of BUILD_KINDS) this.set({ kind }, s.leased.filter((j) => j.kind === kind).length);
    },
  });
  if (deps.nodes) {
    new Gauge({
      name: 'kiln_workers',
      help: 'Build workers registered in the store, by state: active (heartbeat within the limit) or lost.',
      labelNames: ['state'],
      registers,
      async collect() {
        this.reset();
        const s = await snapshot();
        if (!s?.workers) return;
        this.set({ state: 'active' }, s.workers.active);
        this.set({ state: 'lost' }, s.workers.lost);
      },
    });
  }
}
