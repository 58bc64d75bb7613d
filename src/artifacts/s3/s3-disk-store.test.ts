import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CopyObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startLocalS3, type LocalS3 } from '../../../test/helpers/s3rver.js';
import { FsBlobStore } from '../blob-store.js';
import { hashFile, LocalDiskStore } from '../disk/disk-store.js';
import { runTool } from '../disk/run-tool.js';
import { registerMachineImage } from '../../builder/machine/machine-images.js';
import { collectGarbage } from '../../lifecycle/gc.js';
import { ACCOUNT, REGION, tempStore } from '../../lifecycle/testing.js';
import { multipartPut } from './multipart-put.js';
import { S3DiskStore } from './s3-disk-store.js';

// A real S3-compatible server (s3rver) on loopback and real qemu-img; each test has its own key prefix.
const dir = mkdtempSync(path.join(tmpdir(), 'kiln-s3-disks-'));
let s3: LocalS3;
let prefixes = 0;
before(async () => {
  s3 = await startLocalS3(path.join(dir, 's3'), ['kiln']);
});
after(async () => {
  await s3.stop();
  rmSync(dir, { recursive: true, force: true });
});

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** One node's view of the bucket: its own data directory's disks/ as the cache. */
function node(prefix: string, name: string, cacheLimitBytes = 100 * GiB): S3DiskStore {
  return new S3DiskStore({ client: s3.client, bucket: 'kiln', prefix, cache: new LocalDiskStore(path.join(dir, name, 'disks')), cacheLimitBytes, partBytes: 5 * MiB });
}

/** A raw disk made by qemu-img, `sizeBytes` apparent, with `dataMiB` of random (incompressible) bytes written at spread-out offsets. */
async function makeDisk(name: string, sizeBytes: number, dataMiB: number): Promise<string> {
  const file = path.join(dir, `${name}.raw`);
  await runTool('qemu-img', ['create', '-q', '-f', 'raw', file, String(sizeBytes)]);
  const handle = await fsp.open(file, 'r+');
  try {
    for (let i = 0; i < dataMiB; i++) await handle.write(randomBytes(MiB), 0, MiB, Math.floor((sizeBytes / dataMiB) * i / MiB) * MiB);
  } finally {
    await handle.close();
  }
  return file;
}

const allocated = (file: string) => statSync(file).blocks * 512;

test('s3 disks: a 2 GiB sparse disk with 12 MiB of data is stored compactly in parts, and fetched into an empty cache identical and sparse', async () => {
  const prefix = `t${++prefixes}/`;
  const a = node(prefix, 'a1');
  const file = await makeDisk('big', 2 * GiB, 12);
  const digest = await hashFile(file);
  const stored = await a.adopt(file);
  assert.deepEqual(stored, { digest, sizeBytes: 2 * GiB });
  const bytes = await a.storedBytes(digest);
  assert.ok(bytes !== undefined && bytes > 11 * MiB && bytes < 14 * MiB, `12 MiB of random data in a 2 GiB disk is stored as about 12 MiB, got ${bytes}`);
  const objects = await s3.client.send(new ListObjectsV2Command({ Bucket: 'kiln', Prefix: prefix }));
  assert.deepEqual(objects.Contents?.map((o) => [o.Key, o.Size]), [[a.key(digest), bytes]], 'one object, the disk');
  assert.deepEqual(await a.list(), [{ digest, sizeBytes: 2 * GiB }]);

  // Another node, empty data directory.
  const b = node(prefix, 'b1');
  assert.equal(await b.has(digest), true);
  const lease = await b.acquire(digest);
  try {
    assert.equal(lease.path, path.join(dir, 'b1', 'disks', 'sha256', `${digest.slice(7)}.raw`));
    assert.equal(statSync(lease.path).size, 2 * GiB);
    assert.ok(allocated(lease.path) < 16 * MiB, `the fetched disk is sparse: ${allocated(lease.path)} bytes allocated`);
    assert.equal(await hashFile(lease.path), digest);
    // Byte for byte, by qemu-img, against the disk as the first node keeps it.
    await runTool('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'raw', path.join(dir, 'a1', 'disks', 'sha256', `${digest.slice(7)}.raw`), lease.path]);
  } finally {
    lease.release();
  }
  await assert.rejects(b.acquire(`sha256:${'0'.repeat(64)}`), (err: Error & { kind?: string }) => err.kind === 'NotFound' && /not in the object store/.test(err.message));
  assert.deepEqual((await fsp.readdir(path.join(dir, 'b1', 'disks', 'sha256'))).sort(), [`${digest.slice(7)}.raw`], 'no partial file is left');
  // A fetch killed with its process leaves a partial file; the next start removes it and only it.
  await fsp.writeFile(path.join(dir, 'b1', 'disks', 'sha256', `${digest.slice(7)}.raw.0a1b2c3d.partial`), 'half a disk');
  assert.equal(await b.removePartials(), 1);
  assert.deepEqual(await fsp.readdir(path.join(dir, 'b1', 'disks', 'sha256')), [`${digest.slice(7)}.raw`]);
});

test('s3 disks: a disk whose object does not hash to its name is refused and leaves nothing in the cache', async () => {
  const prefix = `t${++prefixes}/`;
  const a = node(prefix, 'a2');
  const one = await a.adopt(await makeDisk('one', 64 * MiB, 1));
  const two = await a.adopt(await makeDisk('two', 64 * MiB, 1));
  // The object of `two` put under `one`'s name, as a bucket edited by hand would have it.
  await s3.client.send(new CopyObjectCommand({ Bucket: 'kiln', Key: a.key(one.digest), CopySource: `kiln/${a.key(two.digest)}` }));
  const b = node(prefix, 'b2');
  await assert.rejects(b.acquire(one.digest), /holds sha256:/);
  assert.deepEqual(await fsp.readdir(path.join(dir, 'b2', 'disks', 'sha256')), []);
});

test('s3 disks: the cache evicts the least recently used disks beyond its limit, never one held or open in a process', async () => {
  const prefix = `t${++prefixes}/`;
  const a = node(prefix, 'a3');
  const disks: string[] = [];
  for (const name of ['c1', 'c2', 'c3']) disks.push((await a.adopt(await makeDisk(name, 256 * MiB, 6))).digest);
  const [one, two, three] = disks as [string, string, string];
  // 10 MiB: room for one 6 MiB disk. The data directory is reached through a symlink, as /var/lib/kiln may be:
  // the kernel names open files by their real path.
  mkdirSync(path.join(dir, 'b3'));
  symlinkSync(path.join(dir, 'b3'), path.join(dir, 'b3-link'));
  const b = new S3DiskStore({ client: s3.client, bucket: 'kiln', prefix, cache: new LocalDiskStore(path.join(dir, 'b3-link', 'disks')), cacheLimitBytes: 10 * MiB });
  const cached = (digest: string) => existsSync(path.join(dir, 'b3', 'disks', 'sha256', `${digest.slice(7)}.raw`));

  (await b.acquire(one)).release();
  (await b.acquire(two)).release();
  assert.deepEqual([cached(one), cached(two)], [false, true], 'fetching the second evicted the first, least recently used');

  // `two` open in another process, as QEMU holds a disk it boots; `three` held by a lease.
  const holder = spawn('sh', ['-c', 'exec 3<"$0"; echo ready; exec sleep 60', path.join(dir, 'b3', 'disks', 'sha256', `${two.slice(7)}.raw`)], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve) => holder.stdout.once('data', resolve));
  const lease = await b.acquire(three);
  const trim = await b.trimCache();
  assert.deepEqual([trim.evicted, trim.inUse], [[], 2]);
  assert.deepEqual([cached(two), cached(three)], [true, true], 'both stay beyond the limit while in use');

  holder.kill('SIGKILL');
  await new Promise((resolve) => holder.once('close', resolve));
  const afterKill = await b.trimCache();
  assert.deepEqual(afterKill.evicted, [two], 'closed, the least recently used goes');
  assert.equal(cached(three), true);
  lease.release();

  // An evicted disk comes back from the bucket on its next use.
  const again = await b.acquire(one);
  assert.equal(await hashFile(again.path), one);
  again.release();
  assert.deepEqual([cached(one), cached(three)], [true, false]);
});

test('s3 disks: garbage collection deletes unreferenced disks from the bucket and the local cache, keeps referenced ones', async (t) => {
  const prefix = `t${++prefixes}/`;
  const { store, dir: storeDir } = tempStore(t);
  const blobs = new FsBlobStore(path.join(storeDir, 'blobs'));
  const disks = node(prefix, 'a4');
  const kept = await disks.adopt(await makeDisk('kept', 64 * MiB, 1));
  const gone = await disks.adopt(await makeDisk('gone', 64 * MiB, 2));
  await registerMachineImage(store, { accountId: ACCOUNT, region: REGION, name: 'web 1', sourceImageArn: `arn:aws:imagebuilder:${REGION}:${ACCOUNT}:image/web/1.0.0/1`, disk: { ...kept, format: 'raw', rootPartUuid: '00000000-0000-0000-0000-000000000000', kernelVersion: '6.1.0' } });
  const goneBytes = await disks.storedBytes(gone.digest);

  const young = await collectGarbage({ store, blobs, disks, graceMs: 60_000 });
  assert.deepEqual([young.disks, young.young], [0, 1], 'a disk stored moments ago is spared');
  const report = await collectGarbage({ store, blobs, disks, graceMs: 0 });
  assert.deepEqual([report.disks, report.diskBytes], [1, goneBytes]);
  assert.deepEqual((await disks.list()).map((d) => d.digest), [kept.digest]);
  assert.equal(await disks.has(gone.digest), false);
  assert.equal(existsSync(path.join(dir, 'a4', 'disks', 'sha256', `${gone.digest.slice(7)}.raw`)), false, 'the local copy goes too');
  assert.equal(existsSync(path.join(dir, 'a4', 'disks', 'sha256', `${kept.digest.slice(7)}.raw`)), true);
});

test('multipart put: a body that fails after two parts leaves no object, and an abort the server refuses is reported, not swallowed', async () => {
  const key = `t${++prefixes}/broken`;
  const leaks: string[] = [];
  async function* body() {
    yield randomBytes(5 * MiB);
    yield randomBytes(5 * MiB);
    yield randomBytes(MiB);
    throw new Error('the source broke');
  }
  await assert.rejects(multipartPut({ client: s3.client, bucket: 'kiln', key, body: body(), partBytes: 5 * MiB, onLeak: (what) => leaks.push(what) }), /the source broke/);
  // s3rver has no AbortMultipartUpload: there the undo fails, and must say which upload it leaked.
  assert.ok(leaks.length <= 1 && leaks.every((l) => new RegExp(`^multipart upload \\S+ of kiln/${key}$`).test(l)), leaks.join('\n'));
  leaks.length = 0;
  await assert.rejects(s3.client.send(new HeadObjectCommand({ Bucket: 'kiln', Key: key })), (err: { name?: string }) => err.name === 'NotFound');
  const whole = await multipartPut({ client: s3.client, bucket: 'kiln', key, body: [randomBytes(6 * MiB), randomBytes(6 * MiB)], partBytes: 5 * MiB, metadata: { note: 'x' }, onLeak: (what) => leaks.push(what) });
  assert.deepEqual(whole, { size: 12 * MiB, parts: 2 });
  const head = await s3.client.send(new HeadObjectCommand({ Bucket: 'kiln', Key: key }));
  assert.deepEqual([head.ContentLength, head.Metadata?.note], [12 * MiB, 'x']);
  assert.deepEqual(leaks, []);
});
