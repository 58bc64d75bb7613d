/**
 * The order an image's TEST workflows run in, as Image Builder documents `parallelGroup`: the workflows of one
 * named group run at the same time, at most five at once, the next starting as one ends; groups run one after
 * another in the order the image first names them, and a workflow without a group runs alone in its place.
 */
import { CancelledBecause } from '../stages/step-runner.js';

/** How many workflows of one parallel group run at once (Image Builder's limit). */
export const PARALLEL_GROUP_LIMIT = 5;

/** The TEST workflows in run order: each inner list runs at once (within the limit), the lists one after another. */
export function testRounds<T extends { parallelGroup?: string }>(tests: readonly T[]): T[][] {
  const rounds: T[][] = [];
  const byGroup = new Map<string, T[]>();
  for (const test of tests) {
    if (test.parallelGroup === undefined) {
      rounds.push([test]);
      continue;
    }
    const round = byGroup.get(test.parallelGroup);
    if (round) round.push(test);
    else {
      const fresh = [test];
      byGroup.set(test.parallelGroup, fresh);
      rounds.push(fresh);
    }
  }
  return rounds;
}

/**
 * Runs the TEST workflows round by round. `one` throws when its workflow's failure must end the image (it
 * handles CONTINUE itself); the other workflows of that round are then cancelled through the signal they got,
 * every one of them is waited for (each unwinds its own instances), and the first failure is thrown.
 */
export async function runTestRounds<T extends { parallelGroup?: string }>(tests: readonly T[], signal: AbortSignal, one: (test: T, signal: AbortSignal) => Promise<void>, limit = PARALLEL_GROUP_LIMIT): Promise<void> {
  for (const round of testRounds(tests)) {
    if (round.length === 1) {
      await one(round[0]!, signal);
      continue;
    }
    const siblings = new AbortController();
    const roundSignal = AbortSignal.any([signal, siblings.signal]);
    const failures: unknown[] = [];
    let next = 0;
    const worker = async () => {
      while (next < round.length && failures.length === 0 && !roundSignal.aborted) {
        const test = round[next++]!;
        try {
          await one(test, roundSignal);
        } catch (err) {
          failures.push(err);
          siblings.abort(new CancelledBecause(`another TEST workflow of parallel group ${test.parallelGroup ?? ''} failed`));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, round.length) }, worker));
    if (failures.length > 0) throw failures[0];
    signal.throwIfAborted();
  }
}
