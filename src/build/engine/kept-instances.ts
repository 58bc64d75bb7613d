/**
 * Instances kept after a failed build (`terminateInstanceOnFailure: false`), so that a person can open a shell
 * in them (`kiln instances shell`) and release them (`kiln instances rm`). They live as long as the Kiln process;
 * the start-up sweep releases any that a previous process left.
 */
import { KilnError } from '../../domain/errors.js';
import type { DriverInstance } from '../../drivers/driver.js';

/** A kept instance as listed. */
export interface KeptInstanceInfo {
  instanceId: string;
  imageBuildVersionArn: string;
  /** The workflow stage that failed: BUILD or TEST. */
  stage: string;
  keptAt: string;
  /** Host PID of the instance's PID 1, to enter its namespaces; undefined for drivers without one. */
  hostPid: number | undefined;
}

export class KeptInstances {
  private readonly kept = new Map<string, { instance: DriverInstance; info: KeptInstanceInfo }>();

  add(input: { instance: DriverInstance; imageArn: string; stage: string }): void {
    const hostPid = (input.instance as { initHostPid?: unknown }).initHostPid;
    this.kept.set(input.instance.id, {
      instance: input.instance,
      info: { instanceId: input.instance.id, imageBuildVersionArn: input.imageArn, stage: input.stage, keptAt: new Date().toISOString(), hostPid: typeof hostPid === 'number' ? hostPid : undefined },
    });
  }

  list(): KeptInstanceInfo[] {
    return [...this.kept.values()].map((k) => k.info);
  }

  get(instanceId: string): KeptInstanceInfo | undefined {
    return this.kept.get(instanceId)?.info;
  }

  has(instanceId: string): boolean {
    return this.kept.has(instanceId);
  }

  /** Releases one kept instance; NotFound when there is none by that id. */
  async release(instanceId: string): Promise<void> {
    const entry = this.kept.get(instanceId);
    if (!entry) throw new KilnError('NotFound', `no kept instance ${instanceId}`);
    this.kept.delete(instanceId);
    await entry.instance.dispose();
  }

  /** Releases every kept instance (at shutdown: their processes would not outlive Kiln anyway). */
  async releaseAll(): Promise<void> {
    const all = [...this.kept.keys()];
    await Promise.allSettled(all.map((id) => this.release(id)));
  }
}
