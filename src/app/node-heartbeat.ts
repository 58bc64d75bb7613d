/**
 * A node's heartbeat: records the node in the store at start, refreshes it every period, and forgets it on a
 * clean stop, so `kiln workers ls` and other nodes see it active while it runs and lost once it has missed
 * LOST_AFTER_BEATS periods.
 */
import type { ClusterNodes, NodeRole } from '../store/roles/cluster-nodes.js';

/** Default period of a node's heartbeat. */
export const HEARTBEAT_MS = 5_000;
/** Missed heartbeats after which a node is lost (15 s at the default period). */
export const LOST_AFTER_BEATS = 3;

export interface HeartbeatOptions {
  nodes: Pick<ClusterNodes, 'heartbeatNode' | 'removeNode'>;
  node: { id: string; host: string; roles: readonly NodeRole[]; endpoint?: string };
  periodMs?: number;
  log?: (text: string) => void;
}

export class NodeHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> = Promise.resolve();
  private failing = false;

  constructor(private readonly options: HeartbeatOptions) {}

  /** Records the node now (rejects when the store cannot), then every period in the background. */
  async start(): Promise<void> {
    await this.options.nodes.heartbeatNode(this.options.node);
    this.timer = setInterval(() => {
      this.beating = this.beat();
    }, this.options.periodMs ?? HEARTBEAT_MS);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    try {
      await this.options.nodes.heartbeatNode(this.options.node);
      if (this.failing) this.options.log?.(`node ${this.options.node.id}: heartbeats reach the store again\n`);
      this.failing = false;
    } catch (err) {
      // Logged once per outage, not at every period: other nodes will list this one as lost until it recovers.
      if (!this.failing) this.options.log?.(`node ${this.options.node.id}: heartbeat failed (other nodes see this node as lost until one succeeds): ${err instanceof Error ? err.message : String(err)}\n`);
      this.failing = true;
    }
  }

  /** Stops beating and removes the node's record; a failed removal is logged (the record then ends lost). */
  async stop(): Promise<void> {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
    try {
      await this.options.nodes.removeNode(this.options.node.id);
    } catch (err) {
      this.options.log?.(`node ${this.options.node.id}: removing its record failed; it stays listed until lost: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
}
