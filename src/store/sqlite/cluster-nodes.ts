/**
 * The ClusterNodes role on SQLite. Times are SQLite's own clock (`strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`, ISO text
 * to the millisecond, so times compare as text); every process sharing the file reads the same host clock.
 */
import type Database from 'better-sqlite3';
import { asPromise } from './as-promise.js';
import type { ClusterNodes, NodeRecord, NodeRole } from '../roles/cluster-nodes.js';
import { rolesText, toNode, type NodeRow } from '../sql/node-rows.js';

const NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
/** SQLite's clock shifted by a number of milliseconds bound as a parameter (`+N.NNN seconds`). */
const shifted = (param: string) => `strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('%+.3f seconds', ${param} / 1000.0))`;

/** The ClusterNodes methods over one open database; the store class delegates to them. */
export function sqliteClusterNodes(db: Database.Database): ClusterNodes {
  const heartbeat = db.prepare(
    `INSERT INTO nodes (id, host, roles, endpoint, started_at, last_seen) VALUES (?, ?, ?, ?, ${NOW}, ${NOW})
     ON CONFLICT (id) DO UPDATE SET host = excluded.host, roles = excluded.roles, endpoint = excluded.endpoint, last_seen = excluded.last_seen`,
  );
  const list = db.prepare(`SELECT *, last_seen < ${shifted('?')} AS lost FROM nodes ORDER BY started_at, id`);
  const remove = db.prepare('DELETE FROM nodes WHERE id = ?');
  // The conflict branch runs only for the holder (a renewal) or once the term ran out; otherwise no row comes back.
  const acquire = db.prepare(
    `INSERT INTO leaderships (name, owner, until) VALUES (?, ?, ${shifted('?')})
     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
     WHERE leaderships.owner = excluded.owner OR leaderships.until <= ${NOW}
     RETURNING owner`,
  );
  const release = db.prepare('DELETE FROM leaderships WHERE name = ? AND owner = ?');
  return {
    heartbeatNode: (node: { id: string; host: string; roles: readonly NodeRole[]; endpoint?: string }) =>
      asPromise(() => void heartbeat.run(node.id, node.host, rolesText(node.roles), node.endpoint ?? null)),
    listNodes: (lostAfterMs: number): Promise<NodeRecord[]> => asPromise(() => (list.all(-lostAfterMs) as NodeRow[]).map(toNode)),
    removeNode: (id: string) => asPromise(() => void remove.run(id)),
    acquireLeadership: (name: string, owner: string, ttlMs: number) => asPromise(() => acquire.get(name, owner, ttlMs) !== undefined),
    releaseLeadership: (name: string, owner: string) => asPromise(() => void release.run(name, owner)),
  };
}
