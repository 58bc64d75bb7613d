/**
 * A managed base prepared on one node is used by another node with an empty data directory, when blobs and
 * disks live in the object store (a real s3rver): its root filesystem (OCI layers in the bucket, the record in
 * the shared store) without bootstrapping again, and its machine disk without assembling it again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalS3, type LocalS3 } from '../helpers/s3rver.js';
import { writeImage } from '../../src/artifacts/oci/image.js';
import { LayerCache } from '../../src/artifacts/oci/unpack.js';
import { hashFile, LocalDiskStore } from '../../src/artifacts/disk/disk-store.js';
import { runTool } from '../../src/artifacts/disk/run-tool.js';
import { S3BlobStore } from '../../src/artifacts/s3/s3-blob-store.js';
import { S3DiskStore } from '../../src/artifacts/s3/s3-disk-store.js';
import { DEBIAN_MACHINE_BASE, ManagedBases, registerManagedBases } from '../../src/builder/bases/managed-bases.js';
import type { DebianBase, DebianBaseDeps } from '../../src/builder/bases/debian-base.js';
import { parentDisk } from '../../src/builder/machine/machine-instances.js';
import { compileMachineRef, machineOutputOf } from '../../src/builder/machine/machine-parent.js';
import type { MachineServices } from '../../src/builder/machine/machine-services.js';
import type { BuildServices } from '../../src/builder/container/container-build.js';
import { makeLayer, tempStore } from '../../src/lifecycle/testing.js';
import { KILN_MANAGED_OWNER } from '../../src/store/visibility.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kiln-bases-s3-'));
let s3: LocalS3;
before(async () => {
  s3 = await startLocalS3(path.join(dir, 's3'), ['kiln']);
});
after(async () => {
  await s3.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a managed base bootstrapped on one worker is reused by a worker with an empty data directory: no second bootstrap, no second disk assembly', async (t) => {
  // The shared store (PostgreSQL in a cluster; the Store contract is the same) and one bucket.
  const { store } = tempStore(t);
  await registerManagedBases(store, ['local']);
  const nodeDir = (n: string) => path.join(dir, n);
  const blobsOf = () => new S3BlobStore({ client: s3.client, bucket: 'kiln', prefix: 'kiln/' });
  const disksOf = (n: string) => new S3DiskStore({ client: s3.client, bucket: 'kiln', prefix: 'kiln/', cache: new LocalDiskStore(path.join(nodeDir(n), 'disks')), cacheLimitBytes: 1024 ** 3 });
  const [record] = await store.listResources({ accountId: KILN_MANAGED_OWNER, region: 'local', type: 'image', name: DEBIAN_MACHINE_BASE });
  assert.ok(record);

  // Worker A bootstraps (a stand-in for mmdebstrap that writes a real layer) and assembles the base's disk.
  let bootstrapsOnA = 0;
  const bootstrapA = async (_spec: unknown, deps: DebianBaseDeps): Promise<DebianBase> => {
    bootstrapsOnA++;
    const layer = await makeLayer(deps.blobs, 'etc/os-release', 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n');
    const image = await writeImage(deps.blobs, { layers: [layer], created: '2023-11-14T22:13:20Z', config: {} });
    return { image, packages: [], sourceDateEpoch: 1_700_000_000 };
  };
  const managedA = new ManagedBases({ store, blobs: blobsOf(), mirror: 'http://mirror.invalid/debian', workRoot: path.join(nodeDir('a'), 'work'), regions: ['local'], bootstrap: bootstrapA });
  const refA = await managedA.image(record, AbortSignal.timeout(30_000));
  assert.equal(bootstrapsOnA, 1);
  const disksA = disksOf('a');
  const raw = path.join(dir, 'base.raw');
  await runTool('qemu-img', ['create', '-q', '-f', 'raw', raw, String(256 * 1024 ** 2)]);
  await runTool('sh', ['-c', `printf 'the base disk' | dd of=${raw} bs=1M seek=3 conv=notrunc status=none`]);
  const digest = await hashFile(raw);
  const disk = { ...(await disksA.adopt(raw)), format: 'raw' as const, rootPartUuid: '00000000-0000-0000-0000-000000000000', kernelVersion: '6.1.0' };
  // As parentDisk records a disk it assembled on the base's record.
  await store.updateResource(record.arn, (current) => ({ ...current.data, machine: { ...machineOutputOf(current), disk } }));

  // Worker B: its own, empty data directory; a bootstrap or an assembly there fails the test.
  const blobsB = blobsOf();
  const managedB = new ManagedBases({
    store,
    blobs: blobsB,
    mirror: 'http://mirror.invalid/debian',
    workRoot: path.join(nodeDir('b'), 'work'),
    regions: ['local'],
    bootstrap: () => Promise.reject(new Error('worker B bootstrapped the base again')),
  });
  assert.deepEqual((await managedB.status()).find((b) => b.name === DEBIAN_MACHINE_BASE)?.state, 'ready');
  const current = (await store.getResource(record.arn))!;
  assert.deepEqual(await managedB.image(current, AbortSignal.timeout(30_000)), refA);
  // Its root filesystem unpacks on B from the bucket.
  const [layerDir] = await new LayerCache(path.join(nodeDir('b'), 'layers'), blobsB).imageLayers(refA.manifestDigest);
  assert.equal(readFileSync(path.join(layerDir!, 'etc/os-release'), 'utf8'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n');

  // Its disk: found in the bucket (no assembly: the layer cache would throw), fetched into B's cache on use.
  const disksB = disksOf('b');
  const machine = { disks: disksB, workRoot: path.join(nodeDir('b'), 'work') } as unknown as MachineServices;
  const services = { store, layers: { imageLayers: () => Promise.reject(new Error('worker B assembled the disk again')) } } as unknown as BuildServices;
  const parent = await compileMachineRef(store, { accountId: '123456789012', region: 'local', arn: 'worker-b-test' }, record.arn, 'parentImage');
  assert.deepEqual(await parentDisk(services, machine, parent, 'f', AbortSignal.timeout(30_000), () => undefined), disk);
  const cached = path.join(nodeDir('b'), 'disks', 'sha256', `${digest.slice(7)}.raw`);
  assert.equal(existsSync(cached), false, 'not fetched before it is used');
  const lease = await disksB.acquire(digest);
  assert.equal(lease.path, cached);
  assert.equal(await hashFile(lease.path), digest);
  lease.release();
});
