import assert from 'node:assert/strict';
import test from 'node:test';
import { parseParameters } from './toe-commands.js';

test('--parameters: pairs, values with = and commas, and bad input', () => {
  assert.deepEqual(parseParameters('a=1,b=2'), { a: '1', b: '2' });
  assert.deepEqual(parseParameters('Hosts=127.0.0.1,localhost,Other=x=y'), { Hosts: '127.0.0.1,localhost', Other: 'x=y' });
  assert.deepEqual(parseParameters(''), {});
  assert.throws(() => parseParameters('novalue'), /--parameters: "novalue" is not name=value/);
});
