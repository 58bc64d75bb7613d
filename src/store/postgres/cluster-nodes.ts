/**
 * The ClusterNodes role on PostgreSQL. Every time is the database's `now()`, so nodes with skewed clocks agree on
 * who is lost and whose leadership ran out.
 */
import type pg from 'pg';
import type { ClusterNodes, NodeRecord, NodeRole } from '../roles/cluster-nodes.js';
import { rolesText, toNode, type NodeRow } from '../sql/node-rows.js';

const millis = (param: string) => `make_interval(secs => ${param}::double precision / 1000)`;

/** The ClusterNodes methods over a pool; the store class delegates to them. */
export function postgresClusterNodes(pool: Pick<pg.Pool, 'query'>): ClusterNodes {
  return {
    async heartbeatNode(node: { id: string; host: string; roles: readonly NodeRole[]; endpoint?: string }): Promise<void> {
      await pool.query(
        `INSERT INTO nodes (id, host, roles, endpoint) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET host = excluded.host, roles = excluded.roles, endpoint = excluded.endpoint, last_seen = now()`,
        [node.id, node.host, rolesText(node.roles), node.endpoint ?? null],
      );
    },
    async listNodes(lostAfterMs: number): Promise<NodeRecord[]> {
      const { rows } = await pool.query<NodeRow>(`SELECT *, last_seen < now() - ${millis('$1')} AS lost FROM nodes ORDER BY started_at, id`, [lostAfterMs]);
      return rows.map(toNode);
    },
    async removeNode(id: string): Promise<void> {
      await pool.query('DELETE FROM nodes WHERE id = $1', [id]);
    },
    async acquireLeadership(name: string, owner: string, ttlMs: number): Promise<boolean> {
      // The upsert locks the row: of two nodes racing for a free or expired leadership, the second re-checks the
      // condition against the first's write and gets no row back.
      const { rowCount } = await pool.query(
        `INSERT INTO leaderships (name, owner, until) VALUES ($1, $2, now() + ${millis('$3')})
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
         WHERE leaderships.owner = excluded.owner OR leaderships.until <= now()
         RETURNING owner`,
        [name, owner, ttlMs],
      );
      return (rowCount ?? 0) > 0;
    },
    async releaseLeadership(name: string, owner: string): Promise<void> {
      await pool.query('DELETE FROM leaderships WHERE name = $1 AND owner = $2', [name, owner]);
    },
  };
}
