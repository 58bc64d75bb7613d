import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../domain/clock.js';
import type { Store } from '../store/store.js';
import { PipelineScheduler, type TickOutcome } from './scheduler.js';

function scheduler(store: Partial<Store>, outcomes: TickOutcome[]): PipelineScheduler {
  return new PipelineScheduler({
    store: store as Store,
    clock: systemClock,
    resolveTag: async () => 'sha256:0',
    runs: { startScheduledRun: async () => Promise.reject(new Error('no run expected')) },
    onTick: (outcome) => outcomes.push(outcome),
  });
}

test('onTick hears what each tick did, and a tick that failed, which still rejects', async () => {
  const outcomes: TickOutcome[] = [];
  const quiet = scheduler({ listResourcesOfType: async () => [], updateResources: async () => [] }, outcomes);
  const report = await quiet.tick(new Date());
  assert.deepEqual(outcomes, [{ ok: true, report }]);
  assert.deepEqual(report, { due: 0, started: [], skipped: 0, failed: 0 });

  const down = new Error('the store cannot be reached');
  const failing = scheduler({ listResourcesOfType: async () => Promise.reject(down) }, outcomes);
  await assert.rejects(failing.tick(new Date()), down);
  assert.deepEqual(outcomes[1], { ok: false, error: down });
});
