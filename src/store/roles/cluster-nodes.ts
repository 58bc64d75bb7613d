/**
 * The nodes of a Kiln cluster and the leaderships they take: every process (`kiln serve`, `kiln worker`) records
 * itself with a heartbeat, so any node can list the workers, tell a live one from a lost one, and reach another
 * node's internal endpoint; and a periodic task that must act once per tick across the cluster (the pipeline
 * scheduler, the lifecycle runner) takes a named leadership first.
 */

/** What a node does: serve the public API, run the scheduler and lifecycle ticks, run builds. */
export type NodeRole = 'api' | 'scheduler' | 'worker';

export const NODE_ROLES: readonly NodeRole[] = ['api', 'scheduler', 'worker'];

/** One Kiln process, as it last reported itself. */
export interface NodeRecord {
  /** The process's identity; for a worker, the lease owner its jobs carry (`<host>/<pid>/<nonce>`). */
  id: string;
  /** The host name the node runs on. */
  host: string;
  roles: NodeRole[];
  /** Base URL of the node's internal listener (health, metrics, forwarded instance routes); absent when it has none. */
  endpoint: string | undefined;
  /** ISO times, from the store's clock. */
  startedAt: string;
  lastSeen: string;
  /** `lost` when the last heartbeat is older than the `lostAfterMs` the list was asked with. */
  state: 'active' | 'lost';
}

/** Node registration and leaderships; times come from the store's clock, never the caller's. */
export interface ClusterNodes {
  /** Records the node, or refreshes its roles, endpoint and `lastSeen` when it exists. */
  heartbeatNode(node: { id: string; host: string; roles: readonly NodeRole[]; endpoint?: string }): Promise<void>;
  /** Every recorded node, oldest first; a node whose last heartbeat is older than `lostAfterMs` is `lost`. */
  listNodes(lostAfterMs: number): Promise<NodeRecord[]>;
  /** Forgets a node (it stopped cleanly, or it was lost and its leftovers were swept). */
  removeNode(id: string): Promise<void>;
  /**
   * Takes the leadership `name` for `ttlMs` when no one holds it, its holder's term ran out, or `owner` holds it
   * already (which renews it); true when `owner` holds it afterwards. At most one owner holds a name at a time.
   */
  acquireLeadership(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the leadership up early (on a clean stop), when `owner` holds it. */
  releaseLeadership(name: string, owner: string): Promise<void>;
}
