import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SecretBox } from './secret-box.js';

test('deriveKey: the same key and purpose give the same key on every node, another purpose or key another', () => {
  const key = randomBytes(32);
  const a = SecretBox.fromKey(key);
  const b = SecretBox.fromKey(Buffer.from(key));
  assert.deepEqual(a.deriveKey('internal-requests'), b.deriveKey('internal-requests'));
  assert.equal(a.deriveKey('internal-requests').length, 32);
  assert.notDeepEqual(a.deriveKey('internal-requests'), a.deriveKey('something-else'));
  assert.notDeepEqual(a.deriveKey('internal-requests'), key, 'never the sealing key itself');
  assert.notDeepEqual(SecretBox.fromKey(randomBytes(32)).deriveKey('internal-requests'), a.deriveKey('internal-requests'));
  // Sealing is unchanged by deriving.
  assert.equal(b.open(a.seal('secret')), 'secret');
});
