import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StepOutput } from './results.js';

/**
 * What survives a reboot: the steps already finished (with their recorded results and chained values), `if`
 * verdicts (evaluated once, even across reboots), and how often each step asked for a reboot.
 */
export interface ExecutionState {
  executionId: string;
  finished: Record<string, StepOutput>;
  chaining: Record<string, { inputs: unknown; outputs: Record<string, string> }>;
  conditions: Record<string, 'Abort' | 'Execute' | 'Skip'>;
  reboots: Record<string, number>;
  /** True once the run ended; an ended run is never resumed. */
  done: boolean;
}

export function emptyState(executionId: string): ExecutionState {
  return { executionId, finished: {}, chaining: {}, conditions: {}, reboots: {}, done: false };
}

/** Saves and loads one execution's state in the state directory, atomically (write then rename). */
export class StateStore {
  constructor(private readonly dir: string) {}

  private file(executionId: string): string {
    return join(this.dir, `${executionId}.json`);
  }

  async load(executionId: string): Promise<ExecutionState | undefined> {
    try {
      const state = JSON.parse(await readFile(this.file(executionId), 'utf8')) as ExecutionState;
      return state.done ? undefined : state;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`state file ${this.file(executionId)} is unreadable: ${(err as Error).message}`);
    }
  }

  async save(state: ExecutionState): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const tmp = `${this.file(state.executionId)}.tmp`;
    await writeFile(tmp, JSON.stringify(state));
    await rename(tmp, this.file(state.executionId));
  }
}
