/**
 * A machine image's disk through the object store: the bytes stored for a managed-base disk against its raw
 * size, and the upload (adopt) and download (first acquire on a node with an empty cache) times of
 * S3DiskStore against a local s3rver. Also measures the compact forms considered (zstd levels, qcow2, compressed
 * qcow2) with their write and read-back times, for the record of the choice.
 *
 *   node dist/bench/machine-disk-transfer.js --rootfs DIR   a bootstrapped Debian root (mmdebstrap with the
 *                                                          machine base's packages); made into the managed
 *                                                          base's disk as Kiln does (customizeMachineRoot,
 *                                                          diskFromLayers: default size, assembleDisk)
 *   node dist/bench/machine-disk-transfer.js --disk FILE    an existing raw disk (copied, left as it is)
 *   SKIP_FORMS=1                                          only S3DiskStore, not the forms compared
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_ROOT_PART_UUID } from '../src/artifacts/disk/assemble.js';
import { hashFile, hashSparseFile, LocalDiskStore } from '../src/artifacts/disk/disk-store.js';
import { S3DiskStore } from '../src/artifacts/s3/s3-disk-store.js';
import { customizeMachineRoot } from '../src/builder/bases/machine-root.js';
import { diskFromLayers } from '../src/builder/machine/machine-disk.js';
import { startLocalS3 } from '../test/helpers/s3rver.js';

const MiB = 1024 * 1024;
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const allocated = (file: string) => statSync(file).blocks * 512;
const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim();

function timed<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const out = fn();
  return [out, performance.now() - t0];
}

const work = mkdtempSync(path.join(tmpdir(), 'kiln-bench-disks-'));
try {
  let disk: string;
  const rootfs = arg('--rootfs');
  if (rootfs) {
    await customizeMachineRoot(rootfs, DEFAULT_ROOT_PART_UUID);
    const made = await diskFromLayers({ layers: [rootfs], disks: new LocalDiskStore(path.join(work, 'made')), workDir: path.join(work, 'assemble') });
    disk = new LocalDiskStore(path.join(work, 'made')).path(made.disk.digest);
  } else {
    const given = arg('--disk');
    if (!given) throw new Error('usage: machine-disk-transfer --rootfs DIR | --disk FILE');
    disk = path.join(work, 'given.raw');
    sh(`cp --sparse=always '${given}' '${disk}'`);
  }
  const raw = statSync(disk).size;
  console.log(`disk: ${mib(raw)} raw, ${mib(allocated(disk))} allocated`);

  console.log('\ncompact forms (written to a file, then read back to a sparse raw file):');
  for (const [name, write, read] of process.env.SKIP_FORMS ? [] : ([
    ['zstd -1', `zstd -q -1 -T0 -c '${disk}' > '${work}/f'`, `zstd -q -d --sparse -f -o '${work}/back' '${work}/f'`],
    ['zstd -3', `zstd -q -3 -T0 -c '${disk}' > '${work}/f'`, `zstd -q -d --sparse -f -o '${work}/back' '${work}/f'`],
    ['zstd -9', `zstd -q -9 -T0 -c '${disk}' > '${work}/f'`, `zstd -q -d --sparse -f -o '${work}/back' '${work}/f'`],
    ['qcow2', `qemu-img convert -q -f raw -O qcow2 '${disk}' '${work}/f'`, `qemu-img convert -q -f qcow2 -O raw '${work}/f' '${work}/back'`],
    ['qcow2 -c (zlib)', `qemu-img convert -q -c -f raw -O qcow2 '${disk}' '${work}/f'`, `qemu-img convert -q -f qcow2 -O raw '${work}/f' '${work}/back'`],
  ] as const)) {
    const [, w] = timed(() => sh(write));
    const size = statSync(`${work}/f`).size;
    const [, r] = timed(() => sh(read));
    console.log(`  ${name.padEnd(16)} ${mib(size).padStart(11)}  write ${secs(w).padStart(6)}  read back ${secs(r).padStart(6)} (${mib(allocated(`${work}/back`))} allocated)`);
    rmSync(`${work}/f`);
    rmSync(`${work}/back`);
  }

  console.log('\nS3DiskStore against s3rver on loopback:');
  const s3 = await startLocalS3(path.join(work, 's3'), ['kiln']);
  try {
    const nodeA = new S3DiskStore({ client: s3.client, bucket: 'kiln', cache: new LocalDiskStore(path.join(work, 'a')), cacheLimitBytes: 100 * 1024 * MiB, log: (text) => process.stdout.write(`  node A: ${text}`) });
    const nodeB = new S3DiskStore({ client: s3.client, bucket: 'kiln', cache: new LocalDiskStore(path.join(work, 'b')), cacheLimitBytes: 100 * 1024 * MiB });
    const copy = path.join(work, 'upload.raw');
    sh(`cp --sparse=always '${disk}' '${copy}'`);
    const t0 = performance.now();
    const digest = await hashFile(copy);
    const hashMs = performance.now() - t0;
    const t1 = performance.now();
    const stored = await nodeA.adopt(copy);
    const adoptMs = performance.now() - t1;
    const bytes = (await nodeA.storedBytes(stored.digest))!;
    console.log(`  stored ${mib(bytes)} for ${mib(raw)} raw (${((bytes / raw) * 100).toFixed(1)} %; ${((bytes / allocated(disk)) * 100).toFixed(1)} % of the allocated ${mib(allocated(disk))})`);
    console.log(`  adopt ${secs(adoptMs)}: hashing the raw disk (alone, before: ${secs(hashMs)}), then the upload node A logged above (compress and multipart put)`);
    const t2 = performance.now();
    const lease = await nodeB.acquire(stored.digest);
    const fetchMs = performance.now() - t2;
    console.log(`  download into an empty cache (get, decompress sparse, verify the digest): ${secs(fetchMs)}; ${mib(allocated(lease.path))} allocated`);
    const t3 = performance.now();
    const sparseDigest = await hashSparseFile(lease.path);
    const t4 = performance.now();
    if ((await hashFile(lease.path)) !== digest || sparseDigest !== digest) throw new Error('the fetched disk differs');
    console.log(`  of which the digest check: hashSparseFile ${secs(t4 - t3)} (hashFile, reading the holes too: ${secs(performance.now() - t4)})`);
    lease.release();
  } finally {
    await s3.stop();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
