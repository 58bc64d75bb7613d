/**
 * A named leadership held across ticks: a periodic task that must act once per tick across the cluster (the
 * pipeline scheduler, the lifecycle runner) asks `lead()` before each tick and skips the tick when another node
 * holds the name. The term is a few ticks long, renewed at every tick by the holder, so a holder that dies is
 * replaced within a term; a clean stop releases it at once.
 */
import type { ClusterNodes } from './roles/cluster-nodes.js';

/** What a tick did: ran (this node leads) or skipped (another node does, or the store could not say). */
export type TickOutcome = 'ran' | 'skipped';

export interface LeadershipOptions {
  /** The store's leaderships. */
  nodes: Pick<ClusterNodes, 'acquireLeadership' | 'releaseLeadership'>;
  /** This process's node id. */
  owner: string;
  /** How long a term lasts without renewal; make it a few ticks long. */
  ttlMs: number;
}

export class Leadership {
  constructor(
    private readonly name: string,
    private readonly options: LeadershipOptions,
    private readonly log: (text: string) => void = () => undefined,
  ) {}

  /**
   * Takes or renews the leadership; true when this node holds it for the next term. A store that cannot answer
   * means no: skipping a tick is safe (the next tick catches up), acting twice may not be.
   */
  async lead(): Promise<boolean> {
    try {
      return await this.options.nodes.acquireLeadership(this.name, this.options.owner, this.options.ttlMs);
    } catch (err) {
      this.log(`${this.name}: cannot take the leadership, skipping this tick: ${err instanceof Error ? err.message : String(err)}\n`);
      return false;
    }
  }

  /** Gives the leadership up (on a clean stop) so another node takes it at its next tick; failures are logged. */
  async release(): Promise<void> {
    try {
      await this.options.nodes.releaseLeadership(this.name, this.options.owner);
    } catch (err) {
      this.log(`${this.name}: releasing the leadership failed (another node takes it when its term runs out): ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
}
