import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { withTimeout } from './abort.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('withTimeout aborts with a TimeoutError after its time, even when only the signal is kept and GC runs', async () => {
  // The bound's own timer does not keep the process alive (as AbortSignal.timeout's does not): this one does.
  const alive = setTimeout(() => undefined, 10_000);
  const { signal } = withTimeout(new AbortController().signal, 100);
  const fired = new Promise<unknown>((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
  for (let i = 0; i < 5; i++) gc();
  const reason = (await fired) as DOMException;
  clearTimeout(alive);
  assert.equal(reason.name, 'TimeoutError');
});

test("withTimeout follows its parent's abort with the parent's reason, and clear stops the timer", async () => {
  const parent = new AbortController();
  const bounded = withTimeout(parent.signal, 10_000);
  parent.abort(new Error('cancelled by the caller'));
  assert.equal((bounded.signal.reason as Error).message, 'cancelled by the caller');
  bounded.clear();
  const cleared = withTimeout(new AbortController().signal, 20);
  cleared.clear();
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(cleared.signal.aborted, false);
  const already = new AbortController();
  already.abort(new Error('before'));
  assert.equal(withTimeout(already.signal, 10_000).signal.aborted, true);
});
