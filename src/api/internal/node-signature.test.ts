import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { NODE_ID_HEADER, NODE_NONCE_HEADER, NODE_SIGNATURE_HEADER, NODE_TIME_HEADER, NodeSignatureError, NodeSigner } from './node-signature.js';

const key = randomBytes(32);
const parts = { method: 'POST', path: '/internal/instances/i-1/exec', body: Buffer.from('{"argv":["true"]}') };

test('a request signed with the shared key verifies once, naming its sender', () => {
  const sender = new NodeSigner(key, 'node-a');
  const receiver = new NodeSigner(key, 'node-b');
  const headers = sender.sign(parts);
  assert.equal(receiver.verify(parts, headers), 'node-a');
  assert.throws(() => receiver.verify(parts, headers), (err: Error) => err instanceof NodeSignatureError && /seen already \(a replay\)/.test(err.message));
  // Another request from the same node is new.
  assert.equal(receiver.verify(parts, sender.sign(parts)), 'node-a');
});

test('a changed method, path, body or sender, another key, or missing headers are refused', () => {
  const sender = new NodeSigner(key, 'node-a');
  const receiver = new NodeSigner(key, 'node-b');
  const refused = (p: typeof parts, h: Record<string, string | undefined>, pattern: RegExp) =>
    assert.throws(() => receiver.verify(p, h), (err: Error) => err instanceof NodeSignatureError && pattern.test(err.message));
  refused({ ...parts, method: 'DELETE' }, sender.sign(parts), /does not match/);
  refused({ ...parts, path: '/internal/instances/i-2/exec' }, sender.sign(parts), /does not match/);
  refused({ ...parts, body: Buffer.from('{"argv":["rm","-rf","/"]}') }, sender.sign(parts), /does not match/);
  refused(parts, { ...sender.sign(parts), [NODE_ID_HEADER]: 'node-c' }, /does not match/);
  refused(parts, new NodeSigner(randomBytes(32), 'node-a').sign(parts), /does not match/);
  const { [NODE_SIGNATURE_HEADER]: _dropped, ...unsigned } = sender.sign(parts);
  refused(parts, unsigned, /must carry/);
  refused(parts, { ...sender.sign(parts), [NODE_NONCE_HEADER]: 'short' }, /x-kiln-node-nonce/);
});

test('a signature more than five minutes from the receiver clock is stale', () => {
  let now = 1_700_000_000_000;
  const sender = new NodeSigner(key, 'node-a', () => now);
  const receiver = new NodeSigner(key, 'node-b', () => now);
  const headers = sender.sign(parts);
  now += 5 * 60_000 + 1;
  assert.throws(() => receiver.verify(parts, headers), /stale or from the future/);
  // Within the window either way it holds.
  const early = sender.sign(parts);
  now -= 4 * 60_000;
  assert.equal(receiver.verify(parts, early), 'node-a');
  assert.equal(early[NODE_TIME_HEADER], String(now + 4 * 60_000));
});

test('a key shorter than 32 bytes is refused', () => {
  assert.throws(() => new NodeSigner(randomBytes(16), 'node-a'), /at least 32 bytes/);
});
