import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cvss3BaseScore, severityOfScore, severityOfWord } from './cvss.js';

test('cvss3BaseScore gives the base scores FIRST publishes for known vectors', () => {
  const cases: [string, number][] = [
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 10],
    ['CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.8],
    ['CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N', 3.1],
    ['CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N', 6.4],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', 0],
  ];
  for (const [vector, score] of cases) assert.equal(cvss3BaseScore(vector)?.score, score, vector);
  assert.equal(cvss3BaseScore('AV:N/AC:L/Au:N/C:P/I:P/A:P'), undefined, 'CVSS v2 is not scored');
  assert.equal(cvss3BaseScore('CVSS:3.1/AV:N/AC:L'), undefined, 'a partial vector is not scored');
});

test('severity bands and feed words map to Inspector severities', () => {
  assert.deepEqual([9.8, 7, 6.9, 4, 0.1, 0].map(severityOfScore), ['CRITICAL', 'HIGH', 'MEDIUM', 'MEDIUM', 'LOW', 'INFORMATIONAL']);
  assert.deepEqual(['high', 'medium**', 'low', 'unimportant', 'not yet assigned', undefined].map(severityOfWord), ['HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNTRIAGED', 'UNTRIAGED']);
});
