import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalS3, type LocalS3 } from '../../../test/helpers/s3rver.js';
import { digestOf } from '../blob-store.js';
import { runBlobStoreSuite } from '../testsuite/blob-store-suite.js';
import { S3BlobStore } from './s3-blob-store.js';

// A real S3-compatible server (s3rver) on loopback; each test gets its own key prefix in one bucket.
const dir = mkdtempSync(path.join(tmpdir(), 'kiln-s3-blobs-'));
let s3: LocalS3;
let stores = 0;
before(async () => {
  s3 = await startLocalS3(dir, ['kiln']);
});
after(async () => {
  await s3.stop();
  rmSync(dir, { recursive: true, force: true });
});

function openStore(): Promise<{ store: S3BlobStore; close: () => Promise<void> }> {
  const store = new S3BlobStore({ client: s3.client, bucket: 'kiln', prefix: `t${++stores}/` });
  return Promise.resolve({ store, close: () => Promise.resolve() });
}

runBlobStoreSuite('s3', openStore, { leftovers: (store) => (store as S3BlobStore).listUploads() });

test('s3: a stream of several parts goes through a multipart upload and lands under its digest, with no temp object left', async () => {
  const { store } = await openStore();
  const part = Buffer.alloc(7 * 1024 * 1024);
  const chunks = [0, 1, 2, 3, 4].map((i) => Buffer.from(part.fill(65 + i)));
  const whole = Buffer.concat(chunks);
  async function* source() {
    for (const c of chunks) yield c;
  }
  const info = await store.put(source(), { expectedDigest: digestOf(whole) });
  assert.deepEqual(info, { digest: digestOf(whole), size: whole.length });
  assert.deepEqual(await store.get(info.digest), whole);
  const tail: Buffer[] = [];
  for await (const c of await store.open(info.digest, { start: whole.length - 10 })) tail.push(c);
  assert.deepEqual(Buffer.concat(tail), whole.subarray(whole.length - 10));
  assert.deepEqual(await store.listUploads(), []);

  async function* broken() {
    yield chunks[0]!;
    yield chunks[1]!;
    yield chunks[2]!;
    throw new Error('source broke after two parts');
  }
  await assert.rejects(store.put(broken()), /source broke/);
  assert.deepEqual(await store.listUploads(), []);
  assert.deepEqual((await store.list()).map((b) => b.digest), [info.digest]);
});
