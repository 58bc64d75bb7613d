/**
 * The durable queue of background work: jobs leased to one worker at a time, with expiring leases so a crashed
 * worker's job is taken up again.
 */

/** A unit of background work on one resource (e.g. `build-image` for an image ARN). */
export interface Job {
  id: number;
  kind: string;
  resourceArn: string;
  state: 'queued' | 'leased' | 'done' | 'failed' | 'cancelled';
  leaseOwner: string | undefined;
  /** ISO time after which a leased job may be taken by another worker. */
  leaseUntil: string | undefined;
  /**
   * Who held the lease before the current holder (undefined on a first lease): a job leased again while its
   * resource is mid-way names the worker that was lost.
   */
  previousOwner: string | undefined;
  attempts: number;
  createdAt: string;
  updatedAt: string;
}

/** Jobs and their leases; what build workers, the scheduler and garbage collection use. */
export interface JobQueue {
  /** Queues a job for a resource. */
  enqueueJob(kind: string, resourceArn: string): Promise<Job>;
  /**
   * Leases the oldest job of the given kinds that is queued, or leased with an expired lease, to `owner` for
   * `leaseMs`; undefined when none is ready. Two workers never hold the same job at once.
   */
  leaseJob(kinds: readonly string[], owner: string, leaseMs: number): Promise<Job | undefined>;
  /** Extends a lease still held by `owner`; false when the lease was lost. */
  renewJob(id: number, owner: string, leaseMs: number): Promise<boolean>;
  /** Ends a job held by `owner` (or a queued one, for `cancelled`); false when it was not theirs to end. */
  finishJob(id: number, owner: string | undefined, state: 'done' | 'failed' | 'cancelled'): Promise<boolean>;
  /** Jobs matching every given filter (all jobs for an empty query), in the order they were queued. */
  listJobs(query: { resourceArn?: string; state?: Job['state'] }): Promise<Job[]>;
}
