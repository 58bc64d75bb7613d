import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalDiskStore } from '../artifacts/disk/disk-store.js';
import { S3DiskStore } from '../artifacts/s3/s3-disk-store.js';
import { openDiskStore } from './disk-store-open.js';
import { loadServerConfig } from './server-config.js';

test('openDiskStore: the data directory without objectStore, the bucket with this node\'s cache with it; diskCacheGiB is checked', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-disk-open-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  const embedded = await openDiskStore(loadServerConfig(undefined), path.join(dir, 'disks'));
  assert.ok(embedded instanceof LocalDiskStore);

  const partial = path.join(dir, 'node', 'sha256', `${'a'.repeat(64)}.raw.00000000.partial`);
  mkdirSync(path.dirname(partial), { recursive: true });
  writeFileSync(partial, 'half a disk');
  const lines: string[] = [];
  const config = loadServerConfig(file('kiln.yaml', 'objectStore:\n  bucket: kiln\n  endpoint: http://127.0.0.1:9\n  forcePathStyle: true\n  accessKeyId: a\n  secretAccessKey: b\ndiskCacheGiB: 0.5\n'));
  assert.equal(config.diskCacheGiB, 0.5);
  const clustered = await openDiskStore(config, path.join(dir, 'node'), (text) => lines.push(text));
  assert.ok(clustered instanceof S3DiskStore);
  assert.equal(existsSync(partial), false, 'a killed fetch\'s partial file is removed at start');
  assert.deepEqual(lines, ['removed 1 partial disk(s) left by an earlier process\n']);

  assert.throws(() => loadServerConfig(file('bad.yaml', 'diskCacheGiB: -1\n')), /diskCacheGiB: must be a positive number of GiB/);
});
