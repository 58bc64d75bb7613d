import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { compareDpkgVersions, parseDpkgVersion } from './dpkg-version.js';

test('parseDpkgVersion splits epoch, upstream and revision at the first colon and the last hyphen', () => {
  assert.deepEqual(parseDpkgVersion('1:2.36-9+deb12u4'), { epoch: 1, upstream: '2.36', revision: '9+deb12u4' });
  assert.deepEqual(parseDpkgVersion('5.2.15-2+b7'), { epoch: 0, upstream: '5.2.15', revision: '2+b7' });
  assert.deepEqual(parseDpkgVersion('1.0-rc1-3'), { epoch: 0, upstream: '1.0-rc1', revision: '3' });
  assert.deepEqual(parseDpkgVersion('7'), { epoch: 0, upstream: '7', revision: '' });
});

test('compareDpkgVersions follows the documented cases of deb-version(7)', () => {
  const lt: [string, string][] = [
    ['1.0~rc1', '1.0'],
    ['1.0~~', '1.0~'],
    ['1.0', '1.0a'],
    ['1.0a', '1.0+'],
    ['1.9', '1.10'],
    ['1:0.1', '2:0.0'],
    ['9.9', '1:0.0'],
    ['2.36-9+deb12u3', '2.36-9+deb12u4'],
    ['2.36-9', '2.36-9+deb12u1'],
    ['1.0-1~bpo1', '1.0-1'],
  ];
  for (const [a, b] of lt) {
    assert.equal(compareDpkgVersions(a, b), -1, `${a} < ${b}`);
    assert.equal(compareDpkgVersions(b, a), 1, `${b} > ${a}`);
  }
  for (const [a, b] of [['1.0', '1.0-0'], ['0:1.0', '1.0'], ['1.01', '1.1'], ['1.0-', '1.0']]) {
    assert.equal(compareDpkgVersions(a!, b!), 0, `${a} = ${b}`);
  }
});

/** A small deterministic generator (mulberry32), so a failure names pairs that reproduce. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A syntactically valid Debian version drawn from a small alphabet, so that pairs often share prefixes. */
function version(next: () => number): string {
  const pick = (s: string): string => s[Math.floor(next() * s.length)]!;
  const run = (alphabet: string, max: number): string => Array.from({ length: Math.floor(next() * max) }, () => pick(alphabet)).join('');
  const epoch = next() < 0.2 ? `${pick('0123')}:` : '';
  const upstream = pick('0123456789') + run('0012.9a~+bZ', 6);
  const revision = next() < 0.6 ? `-${pick('01a~')}${run('01.9b~+', 4)}` : '';
  return `${epoch}${upstream}${revision}`;
}

/** Characters that may follow any valid version and keep it valid. */
function suffix(next: () => number): string {
  return Array.from({ length: 1 + Math.floor(next() * 3) }, () => '0~a.+1'[Math.floor(next() * 6)]).join('');
}

test('compareDpkgVersions agrees with dpkg --compare-versions on generated pairs', { skip: !existsSync('/usr/bin/dpkg') && 'dpkg is not installed' }, () => {
  const next = random(18);
  const pairs: [string, string][] = [];
  for (let i = 0; i < 300; i++) {
    const a = version(next);
    // Every fourth pair shares a prefix, where the subtle rules (~, trailing zeros, revisions) decide.
    pairs.push([a, i % 4 === 0 ? a + suffix(next) : version(next)]);
  }
  // One shell runs every comparison: a process per pair from Node would take several seconds.
  const script = 'while read -r a b; do if dpkg --compare-versions "$a" lt "$b"; then echo -1; elif dpkg --compare-versions "$a" eq "$b"; then echo 0; else echo 1; fi; done';
  const out = execFileSync('sh', ['-c', script], { input: pairs.map(([a, b]) => `${a} ${b}`).join('\n') + '\n', encoding: 'utf8' });
  const expected = out.trim().split('\n').map(Number);
  assert.equal(expected.length, pairs.length);
  const wrong = pairs.filter(([a, b], i) => compareDpkgVersions(a, b) !== expected[i]).map(([a, b]) => `${a} vs ${b}`);
  assert.deepEqual(wrong, []);
});
