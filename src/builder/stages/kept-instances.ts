/**
 * Instances kept after a failed build (`terminateInstanceOnFailure: false`), so that a person can open a shell
 * in them (`kiln instances shell`) and release them (`kiln instances rm`). They live as long as the Kiln process;
 * the start-up sweep releases any that a previous process left.
 */
import { leakLine } from '../../domain/cleanup-stack.js';
import { errorMessage, KilnError } from '../../domain/errors.js';
import type { Instance } from '../../toe/instance/instance.js';

/** An instance that can be kept: any driver's, as long as it can be released. */
export type KeepableInstance = Instance & { dispose(): Promise<void> };

/** A kept instance as listed. */
export interface KeptInstanceInfo {
  instanceId: string;
  imageBuildVersionArn: string;
  /** The workflow stage that failed: BUILD or TEST. */
  stage: string;
  keptAt: string;
  /** Host PID of the instance's PID 1, to enter its namespaces; undefined for drivers without one. */
  hostPid: number | undefined;
  /** The account the instance belongs to: the image's owner, or whoever launched it. */
  accountId: string;
  /** The instance's serial console log, for VMs. */
  consoleLog?: string;
}

export class KeptInstances {
  private readonly kept = new Map<string, { instance: KeepableInstance; info: KeptInstanceInfo }>();

  add(input: { instance: KeepableInstance; imageArn: string; stage: string; accountId?: string; consoleLog?: string }): void {
    const hostPid = (input.instance as { initHostPid?: unknown }).initHostPid;
    this.kept.set(input.instance.id, {
      instance: input.instance,
      info: {
        instanceId: input.instance.id,
        imageBuildVersionArn: input.imageArn,
        stage: input.stage,
        keptAt: new Date().toISOString(),
        hostPid: typeof hostPid === 'number' ? hostPid : undefined,
        // The owner of an image build ARN is its fifth field.
        accountId: input.accountId ?? input.imageArn.split(':')[4] ?? '',
        ...(input.consoleLog ? { consoleLog: input.consoleLog } : {}),
      },
    });
  }

  /** The instance itself, to run commands in it; undefined when there is none by that id. */
  instance(instanceId: string): KeepableInstance | undefined {
    return this.kept.get(instanceId)?.instance;
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

  /**
   * Releases every kept instance (at shutdown: their processes would not outlive Kiln anyway), each to its end
   * even when one fails; a failure is logged with the instance it leaked.
   */
  async releaseAll(log: (text: string) => void): Promise<void> {
    const all = [...this.kept.keys()];
    const results = await Promise.allSettled(all.map((id) => this.release(id)));
    results.forEach((r, i) => {
      if (r.status === 'rejected') log(leakLine('kept instances', { what: `instance ${all[i]!}`, error: errorMessage(r.reason) }));
    });
  }
}
