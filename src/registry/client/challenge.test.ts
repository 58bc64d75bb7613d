import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseChallenges } from './challenge.js';

test('Bearer and Basic challenges, quoted values with commas and escapes, several in one header', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/debian:pull' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="kiln"'), [{ scheme: 'basic', params: { realm: 'kiln' } }]);
  assert.deepEqual(parseChallenges('Basic realm="a, \\"b\\"", Bearer realm=http://x/t , scope="repository:a:pull,push repository:b:pull"'), [
    { scheme: 'basic', params: { realm: 'a, "b"' } },
    { scheme: 'bearer', params: { realm: 'http://x/t', scope: 'repository:a:pull,push repository:b:pull' } },
  ]);
  assert.deepEqual(parseChallenges(''), []);
  assert.deepEqual(parseChallenges('Negotiate'), [{ scheme: 'negotiate', params: {} }]);
});
