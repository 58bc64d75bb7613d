import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { runTestRounds, testRounds } from './test-groups.js';

const wf = (name: string, parallelGroup?: string) => ({ name, ...(parallelGroup === undefined ? {} : { parallelGroup }) });

test('rounds: a group runs where the image first names it, ungrouped workflows alone in their place', () => {
  const rounds = testRounds([wf('a', 'g1'), wf('b'), wf('c', 'g2'), wf('d', 'g1'), wf('e')]);
  assert.deepEqual(rounds.map((r) => r.map((w) => w.name)), [['a', 'd'], ['b'], ['c'], ['e']]);
});

test('a group of seven runs five at once, starts the rest as others end, and the next round waits for all', async () => {
  let running = 0;
  let most = 0;
  const order: string[] = [];
  const tests = [...Array.from({ length: 7 }, (_, i) => wf(`g${i}`, 'big')), wf('after')];
  await runTestRounds(tests, new AbortController().signal, async (t) => {
    running++;
    most = Math.max(most, running);
    await sleep(t.name === 'g0' ? 60 : 20);
    order.push(t.name);
    running--;
  });
  assert.equal(most, 5);
  assert.equal(order.length, 8);
  assert.equal(order.at(-1), 'after', 'the next round starts once the whole group has ended');
  assert.ok(order.indexOf('g0') > order.indexOf('g6'), 'g5 and g6 started while g0 still ran');
});

test('a failure cancels the rest of its round, waits for them, throws the first failure and runs no later round', async () => {
  const seen: string[] = [];
  const tests = [wf('slow', 'g'), wf('bad', 'g'), wf('later')];
  await assert.rejects(
    runTestRounds(tests, new AbortController().signal, async (t, signal) => {
      if (t.name === 'bad') {
        await sleep(10);
        throw new Error('bad failed');
      }
      if (t.name === 'later') seen.push('later');
      try {
        await sleep(5_000, undefined, { signal });
      } catch (err) {
        seen.push(`${t.name}: ${(signal.reason as Error).message}`);
        throw err;
      }
    }),
    /bad failed/,
  );
  assert.deepEqual(seen, ['slow: another TEST workflow of parallel group g failed']);
});

test('a cancel of the build reaches every workflow of the running round', async () => {
  const build = new AbortController();
  const cancelled: string[] = [];
  const run = runTestRounds([wf('a', 'g'), wf('b', 'g')], build.signal, async (t, signal) => {
    await sleep(5_000, undefined, { signal }).catch((err: unknown) => {
      cancelled.push(t.name);
      throw err;
    });
  });
  setTimeout(() => build.abort(), 20);
  await assert.rejects(run);
  assert.deepEqual(cancelled.sort(), ['a', 'b']);
});
