import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseByteSize } from './byte-sizes.js';

test('parseByteSize: bytes, or k/m/g/t with or without B or iB, powers of 1024 as docker reads them', () => {
  assert.equal(parseByteSize('0'), 0);
  assert.equal(parseByteSize('512'), 512);
  assert.equal(parseByteSize('100m'), 100 * 1024 ** 2);
  assert.equal(parseByteSize('1.5GiB'), 1.5 * 1024 ** 3);
  assert.equal(parseByteSize('20 GB'), 20 * 1024 ** 3);
  assert.equal(parseByteSize('2k'), 2048);
  assert.equal(parseByteSize('3b'), 3);
  for (const bad of ['', '-1', 'ten', '1.5x', '1e3', 'g', '3ib', '99999999999t']) assert.equal(parseByteSize(bad), undefined, bad);
});
