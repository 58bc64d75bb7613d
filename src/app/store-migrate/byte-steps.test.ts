import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalS3, type LocalS3 } from '../../../test/helpers/s3rver.js';
import { hashFile, LocalDiskStore } from '../../artifacts/disk/disk-store.js';
import { ObjectBucket } from '../../artifacts/s3/object-bucket.js';
import { S3BlobStore } from '../../artifacts/s3/s3-blob-store.js';
import { S3DiskStore } from '../../artifacts/s3/s3-disk-store.js';
import { BucketStepLogStore, FsStepLogStore } from '../../builder/records/execution-records.js';
import { formatRecord } from '../../logs/step-log-format.js';
import { disksStep } from './disks-step.js';
import { logsStep } from './logs-step.js';
import type { MigrationContext } from './migration-step.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kiln-migrate-bytes-'));
const IMAGE = 'arn:aws:imagebuilder:local:000000000001:image/app/1.0.0/1';
const STEP = 'step-0b5ab3a4-2c3e-4a43-9d3c-0d8a9e0f6a11';
let s3: LocalS3;
before(async () => {
  s3 = await startLocalS3(path.join(dir, 's3'), ['bytes']);
});
after(async () => {
  await s3.stop();
  rmSync(dir, { recursive: true, force: true });
});

function context(dataDir: string): MigrationContext {
  const { endpoint, region, accessKeyId, secretAccessKey } = s3.settings;
  return {
    dataDir,
    store: 'postgres://unused',
    secretKeyFile: path.join(dir, 'unused.key'),
    objectStore: { bucket: 'bytes', prefix: 'site/', endpoint: endpoint!, region: region!, forcePathStyle: true, accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! },
    s3: s3.client,
    blobs: new S3BlobStore({ client: s3.client, bucket: 'bytes', prefix: 'site/' }),
    force: false,
    signal: new AbortController().signal,
  };
}

test('disks: a sparse disk reaches the bucket compactly, reads back identical through an empty cache, and the source stays', async () => {
  const dataDir = path.join(dir, 'with-disk');
  mkdirSync(dataDir);
  const raw = path.join(dataDir, 'made.raw');
  const fd = await open(raw, 'w');
  await fd.truncate(256 * 1024 * 1024);
  await fd.write(Buffer.alloc(1024 * 1024, 'kiln disk '), 0, 1024 * 1024, 64 * 1024 * 1024);
  await fd.close();
  const source = new LocalDiskStore(path.join(dataDir, 'disks'));
  const { digest } = await source.adopt(raw);

  const progress: number[] = [];
  const summary = await disksStep.run(context(dataDir), (p) => progress.push(p.done));
  assert.deepEqual([summary.items, summary.skipped, progress], [1, 0, [1]]);
  assert.ok(existsSync(source.path(digest)), 'the source disk is only read');
  assert.deepEqual(readdirSync(dataDir).filter((n) => n.startsWith('migrate-')), [], 'the scratch cache is gone');

  const cache = path.join(dir, 'fresh-cache');
  const target = new S3DiskStore({ client: s3.client, bucket: 'bytes', prefix: 'site/', cache: new LocalDiskStore(cache), cacheLimitBytes: 1024 ** 3 });
  assert.ok((await target.storedBytes(digest))! < 4 * 1024 * 1024, 'stored compactly, not at its 256 MiB');
  const lease = await target.acquire(digest);
  try {
    assert.equal(await hashFile(lease.path), digest);
    assert.ok(statSync(lease.path).blocks * 512 < 16 * 1024 * 1024, 'sparse again on this side');
  } finally {
    lease.release();
  }
  assert.equal((await disksStep.run(context(dataDir), () => undefined)).skipped, 1, 'a re-run skips what the bucket holds');
});

test('logs: each step log becomes its step in the bucket, read back slice for slice as the data directory served it', async () => {
  const dataDir = path.join(dir, 'with-logs');
  const local = new FsStepLogStore(path.join(dataDir, 'logs'));
  const sink = await local.create(IMAGE, STEP);
  for (let i = 0; i < 500; i++) sink.append(formatRecord({ time: '2026-12-06T10:00:00.000Z', stream: i % 3 ? 'stdout' : 'stderr', text: `line ${i} of the build` }));
  await sink.close();
  // An AWSTOE log folder beside the step logs stays behind.
  mkdirSync(path.join(dataDir, 'logs', 'app_1.0.0_1', 'toe'), { recursive: true });

  const summary = await logsStep.run(context(dataDir), () => undefined);
  assert.equal(summary.items, 1);
  const bucket = new BucketStepLogStore({ bucket: new ObjectBucket({ client: s3.client, bucket: 'bytes', prefix: 'site/' }).under('logs/') });
  for (const [offset, max] of [[0, 1 << 20], [0, 700], [1234, 4096]] as const) {
    assert.deepEqual(await bucket.read(IMAGE, STEP, offset, max), await local.read(IMAGE, STEP, offset, max), `slice at ${offset}, ${max} bytes`);
  }
});
