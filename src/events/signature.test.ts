import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { signBody, verifySignature } from './signature.js';

const SECRET = 'a-long-shared-secret';
const BODY = '{"Type":"Notification","Message":"ünïcode"}';
const NOW = Date.parse('2026-01-01T00:00:00Z');

test('a signature is t=<seconds>,v1=<HMAC-SHA256 of "<t>.<body>">, verifiable with the documented recipe', () => {
  const header = signBody(SECRET, BODY, NOW);
  const t = NOW / 1000;
  assert.equal(header, `t=${t},v1=${createHmac('sha256', SECRET).update(`${t}.${BODY}`).digest('hex')}`);
  assert.equal(verifySignature(SECRET, header, BODY, 300, NOW), true);
  assert.equal(verifySignature(SECRET, header, Buffer.from(BODY), 300, NOW + 299_000), true, 'raw bytes verify the same');
});

test('a wrong secret, a changed body, a stale or future time, or a malformed header does not verify', () => {
  const header = signBody(SECRET, BODY, NOW);
  assert.equal(verifySignature('other-secret', header, BODY, 300, NOW), false);
  assert.equal(verifySignature(SECRET, header, `${BODY} `, 300, NOW), false);
  assert.equal(verifySignature(SECRET, header, BODY, 300, NOW + 301_000), false, 'replayed too late');
  assert.equal(verifySignature(SECRET, header, BODY, 300, NOW - 301_000), false, 'from the future');
  for (const bad of [undefined, '', 'garbage', `v1=${'0'.repeat(64)}`, `t=${NOW / 1000}`, `t=${NOW / 1000},v1=xyz`, header.replace(/t=\d+/, 't=1')]) {
    assert.equal(verifySignature(SECRET, bad, BODY, 300, NOW), false, String(bad));
  }
});

test('any of several v1 values may match (room for rotating secrets)', () => {
  const header = signBody(SECRET, BODY, NOW);
  const other = signBody('old-secret', BODY, NOW).split(',')[1]!;
  assert.equal(verifySignature(SECRET, `${header},${other}`, BODY, 300, NOW), true);
  assert.equal(verifySignature('old-secret', `${header},${other}`, BODY, 300, NOW), true);
});
