/**
 * The `nodes` row both SQL backends read, and how it becomes a NodeRecord. Roles are stored as one
 * comma-separated text column (`api,scheduler,worker`): they are only ever read whole.
 */
import { NODE_ROLES, type NodeRecord, type NodeRole } from '../roles/cluster-nodes.js';
import type { StoredFlag, StoredTime } from './rows.js';

export interface NodeRow {
  id: string;
  host: string;
  roles: string;
  endpoint: string | null;
  started_at: StoredTime;
  last_seen: StoredTime;
  /** Computed by the query against the store's clock: the last heartbeat is older than the lost-after bound. */
  lost: StoredFlag;
}

const iso = (t: StoredTime): string => (typeof t === 'string' ? t : t.toISOString());

/** The text a node's roles are stored as, in NODE_ROLES order whatever order they were given in. */
export const rolesText = (roles: readonly NodeRole[]): string => NODE_ROLES.filter((r) => roles.includes(r)).join(',');

export const toNode = (r: NodeRow): NodeRecord => ({
  id: r.id,
  host: r.host,
  roles: NODE_ROLES.filter((role) => r.roles.split(',').includes(role)),
  endpoint: r.endpoint ?? undefined,
  startedAt: iso(r.started_at),
  lastSeen: iso(r.last_seen),
  state: r.lost === true || r.lost === 1 ? 'lost' : 'active',
});
