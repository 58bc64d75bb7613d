import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadServerConfig } from './server-config.js';

function load(text: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-config-'));
  try {
    const file = path.join(dir, 'kiln.yaml');
    writeFileSync(file, text);
    return loadServerConfig(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('buildLeaseSeconds: unset leaves the worker its default; a whole number of seconds from 3 to 3600 is taken', () => {
  assert.equal(loadServerConfig(undefined).buildLeaseSeconds, undefined);
  assert.equal(load('buildLeaseSeconds: 10\n').buildLeaseSeconds, 10);
  for (const bad of ['2', '3601', '1.5', 'soon']) assert.throws(() => load(`buildLeaseSeconds: ${bad}\n`), /buildLeaseSeconds: must be a whole number of seconds from 3 to 3600/);
});

test('objectStore: every wrong setting is named by its path', () => {
  assert.throws(() => load('objectStore:\n  bucket: Bad_Name\n  color: blue\n  accessKeyId: x\n'), (err: Error) => {
    assert.match(err.message, /objectStore\.bucket: must be an S3 bucket name/);
    assert.match(err.message, /objectStore\.color: unknown setting/);
    assert.match(err.message, /objectStore: accessKeyId and secretAccessKey go together/);
    return true;
  });
  assert.deepEqual(load('objectStore:\n  bucket: kiln\n  prefix: site\n').objectStore, { bucket: 'kiln', prefix: 'site/' });
});

test('metrics.token: a bearer token of 16 or more printable characters; anything else is named', () => {
  assert.equal(loadServerConfig(undefined).metrics, undefined);
  assert.deepEqual(load('metrics:\n  token: scrape-0123456789abcdef\n').metrics, { token: 'scrape-0123456789abcdef' });
  assert.throws(() => load('metrics:\n  token: short\n  port: 9100\n'), (err: Error) => {
    assert.match(err.message, /metrics\.token: must be at least 16 printable characters without spaces/);
    assert.match(err.message, /metrics\.port: unknown setting/);
    return true;
  });
});

test('buildCacheGiB: 20 unless set; a positive number of GiB, anything else named', () => {
  assert.equal(loadServerConfig(undefined).buildCacheGiB, 20);
  assert.equal(load('regions: [local]\n').buildCacheGiB, 20);
  assert.equal(load('buildCacheGiB: 0.5\n').buildCacheGiB, 0.5);
  for (const bad of ['0', '-1', 'lots', '.inf']) assert.throws(() => load(`buildCacheGiB: ${bad}\n`), /buildCacheGiB: must be a positive number of GiB/);
});

test('vulnerabilityFeeds: osv or debian-security-tracker, each with one absolute path or http(s) URL; problems named by index', () => {
  assert.equal(loadServerConfig(undefined).vulnerabilityFeeds, undefined);
  assert.deepEqual(load('vulnerabilityFeeds:\n  - {format: osv, path: /srv/osv/debian}\n  - {format: debian-security-tracker, url: "http://feeds.test/t.json"}\n').vulnerabilityFeeds, [
    { format: 'osv', path: '/srv/osv/debian' },
    { format: 'debian-security-tracker', url: 'http://feeds.test/t.json' },
  ]);
  assert.throws(() => load('vulnerabilityFeeds:\n  - {format: nvd, path: relative}\n  - {format: osv, path: /a, url: "http://b"}\n  - {format: osv, colour: red, url: ftp://x}\n'), (err: Error) => {
    assert.match(err.message, /vulnerabilityFeeds\[0\]\.format: must be osv or debian-security-tracker/);
    assert.match(err.message, /vulnerabilityFeeds\[0\]\.path: must be an absolute path/);
    assert.match(err.message, /vulnerabilityFeeds\[1\]: give exactly one of path and url/);
    assert.match(err.message, /vulnerabilityFeeds\[2\]\.colour: unknown setting/);
    assert.match(err.message, /vulnerabilityFeeds\[2\]\.url: must be an http:\/\/ or https:\/\/ URL/);
    return true;
  });
});
