import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeHeartbeat } from './node-heartbeat.js';

/** Waits until `cond` holds (the heartbeat runs on timers; a busy machine delays them). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('heartbeat: records at start and every period; an outage is logged once and its end once; stop removes the node', async () => {
  const calls: string[] = [];
  let down = false;
  const nodes = {
    heartbeatNode: async (node: { id: string }) => {
      calls.push(`beat ${node.id}`);
      if (down) throw new Error('store unreachable');
    },
    removeNode: async (id: string) => void calls.push(`remove ${id}`),
  };
  const logs: string[] = [];
  const beat = new NodeHeartbeat({ nodes, node: { id: 'h/1/abcd', host: 'h', roles: ['worker'] }, periodMs: 20, log: (text) => logs.push(text) });
  await beat.start();
  assert.deepEqual(calls, ['beat h/1/abcd'], 'recorded before start resolves');
  await until(() => calls.length >= 3, 'beats every period');
  down = true;
  const failedFrom = calls.length;
  await until(() => calls.length >= failedFrom + 3, 'three failed beats');
  down = false;
  await until(() => logs.length >= 2, 'the recovery to be logged');
  assert.equal(logs.length, 2, logs.join(''));
  assert.match(logs[0]!, /heartbeat failed .*store unreachable/);
  assert.match(logs[1]!, /reach the store again/);
  await beat.stop();
  const after = calls.length;
  assert.equal(calls.at(-1), 'remove h/1/abcd');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(calls.length, after, 'no beat after stop');
});
