import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CleanupStack } from './cleanup-stack.js';

function stack(): { cleanup: CleanupStack; lines: string[]; ran: string[] } {
  const lines: string[] = [];
  const ran: string[] = [];
  return { cleanup: new CleanupStack('image/web/1.0.0/1', { log: (text) => lines.push(text) }), lines, ran };
}

test('unwind runs the undos newest first', async () => {
  const { cleanup, ran } = stack();
  for (const what of ['scratch dir', 'instance i-1', 'temp blob']) cleanup.defer(what, async () => void ran.push(what));
  assert.deepEqual(cleanup.held(), ['temp blob', 'instance i-1', 'scratch dir']);
  assert.deepEqual(await cleanup.unwind(), []);
  assert.deepEqual(ran, ['temp blob', 'instance i-1', 'scratch dir']);
});

test('a failing undo is logged with the resource it leaked, and the others still run', async () => {
  const { cleanup, lines, ran } = stack();
  cleanup.defer('scratch dir /x', async () => void ran.push('scratch'));
  cleanup.defer('instance ns-7', async () => {
    throw new Error('EBUSY: mount still in use');
  });
  cleanup.defer('temp blob', async () => void ran.push('blob'));
  const leaks = await cleanup.unwind();
  assert.deepEqual(ran, ['blob', 'scratch']);
  assert.deepEqual(leaks, [{ what: 'instance ns-7', error: 'EBUSY: mount still in use' }]);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^image\/web\/1\.0\.0\/1: releasing instance ns-7 failed, .*EBUSY: mount still in use\n$/);
});

test('unwind is idempotent: a second call releases nothing twice', async () => {
  const { cleanup, ran } = stack();
  cleanup.defer('instance i-1', async () => void ran.push('i-1'));
  await cleanup.unwind();
  assert.deepEqual(await cleanup.unwind(), []);
  assert.deepEqual(ran, ['i-1']);
});

test('release runs one undo now and takes it off the stack; dismiss hands it over without running it', async () => {
  const { cleanup, lines, ran } = stack();
  const first = cleanup.defer('instance build', async () => void ran.push('build'));
  const kept = cleanup.defer('instance kept', async () => void ran.push('kept'));
  const broken = cleanup.defer('instance broken', async () => {
    throw new Error('gone');
  });
  await first.release();
  await first.release();
  kept.dismiss();
  await assert.rejects(broken.release(), /releasing instance broken failed: gone/);
  assert.equal(lines.length, 1, 'a failed release is logged as a leak too');
  assert.deepEqual(await cleanup.unwind(), []);
  assert.deepEqual(ran, ['build']);
});

test('undos get a live signal even when the build was cancelled, and a resource acquired after unwind is released at once', async () => {
  const { cleanup, ran } = stack();
  cleanup.defer('instance i-1', async (signal) => void ran.push(`i-1 aborted=${signal.aborted}`));
  await cleanup.unwind();
  cleanup.defer('late instance', async () => void ran.push('late'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(ran, ['i-1 aborted=false', 'late']);
});
