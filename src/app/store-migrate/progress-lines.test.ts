import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, progressLine, throttledProgress } from './progress-lines.js';

test('progress lines read like "blobs: 120/340, 1.2 GiB"', () => {
  assert.equal(progressLine('blobs', { done: 120, total: 340, bytes: 1.2 * 1024 ** 3 }), 'blobs: 120/340, 1.2 GiB');
  assert.equal(progressLine('rows', { done: 5, total: 9 }), 'rows: 5/9');
  assert.equal(formatBytes(12), '12 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
});

test('progress is written at most once a second per step, and always when a step is done', () => {
  let now = 0;
  const lines: string[] = [];
  const report = throttledProgress((l) => lines.push(l), 1000, () => now);
  report('blobs', { done: 1, total: 3 });
  now = 500;
  report('blobs', { done: 2, total: 3 });
  report('rows', { done: 1, total: 2 });
  now = 600;
  report('blobs', { done: 3, total: 3 });
  now = 1200;
  report('rows', { done: 2, total: 2 });
  assert.deepEqual(lines, ['blobs: 1/3', 'rows: 1/2', 'blobs: 3/3', 'rows: 2/2']);
});
