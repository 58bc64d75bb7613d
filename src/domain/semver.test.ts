import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatVersionFilter, latestSelectors, parseSemver, parseVersionFilter, resolveLatest, semverKey } from './semver.js';

test('parseSemver accepts three in-bound decimal nodes only', () => {
  const cases: [string, ReturnType<typeof parseSemver>][] = [
    ['1.2.3', { major: 1, minor: 2, patch: 3 }],
    ['0.0.0', { major: 0, minor: 0, patch: 0 }],
    ['1073741823.0.1', { major: 1073741823, minor: 0, patch: 1 }],
    ['1073741824.0.0', undefined],
    ['1.2', undefined],
    ['1.2.3.4', undefined],
    ['01.2.3', undefined],
    ['1.x.3', undefined],
    ['a.b.c', undefined],
    ['', undefined],
    ['1.2.-3', undefined],
  ];
  for (const [input, expected] of cases) assert.deepEqual(parseSemver(input), expected, input);
});

test('parseVersionFilter follows the x rule: once x, x to the right', () => {
  const cases: [string, string | undefined][] = [
    ['x.x.x', 'x.x.x'],
    ['1.x.x', '1.x.x'],
    ['1.6.x', '1.6.x'],
    ['1.2.3', '1.2.3'],
    ['x.2.x', undefined],
    ['1.x.8', undefined],
    ['x.x.1', undefined],
    ['1.x', undefined],
  ];
  for (const [input, expected] of cases) {
    const f = parseVersionFilter(input);
    assert.equal(f && formatVersionFilter(f), expected, input);
  }
});

test('resolveLatest picks the highest matching version (the AWS doc example)', () => {
  const versions = ['2.2.4', '1.7.8', '1.6.8'].map((v) => parseSemver(v)!);
  const cases: [string, string | undefined][] = [
    ['x.x.x', '2.2.4'],
    ['1.x.x', '1.7.8'],
    ['1.6.x', '1.6.8'],
    ['1.6.8', '1.6.8'],
    ['3.x.x', undefined],
  ];
  for (const [filter, expected] of cases) {
    const best = resolveLatest(versions, parseVersionFilter(filter)!);
    assert.equal(best && `${best.major}.${best.minor}.${best.patch}`, expected, filter);
  }
  assert.equal(resolveLatest(['1.10.0', '1.9.0'].map((v) => parseSemver(v)!), {})?.minor, 10);
});

test('latestSelectors and semverKey', () => {
  assert.deepEqual(latestSelectors({ major: 1, minor: 2, patch: 3 }), { latest: 'x.x.x', major: '1.x.x', minor: '1.2.x', patch: '1.2.3' });
  // The SNS sample: 1.0.0/3 → 2^90 + 3.
  assert.equal(semverKey({ major: 1, minor: 0, patch: 0 }, 3), 1237940039285380274899124227n);
  assert.ok(semverKey({ major: 1, minor: 10, patch: 0 }) > semverKey({ major: 1, minor: 9, patch: 99 }));
});
