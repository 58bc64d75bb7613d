import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalDiskStore, hashFile, hashSparseFile } from '../../artifacts/disk/disk-store.js';
import { openStore } from '../../app/server-start.js';
import type { ResourceRecord } from '../../store/store.js';
import { requestedInstance } from '../stages/instance-request.js';
import { rootVolumeMiB } from './machine-instances.js';
import { defaultDiskMiB, type MachineDisk } from './machine-disk.js';
import { renderNameTemplate } from './machine-distribution.js';
import { findMachineImage, isAmiId, listUsableMachineImages, machineImageData, newAmiId, registerMachineImage } from './machine-images.js';

function image(data: Record<string, unknown>): ResourceRecord {
  return { arn: 'arn:aws:imagebuilder:local:111122223333:image/web/1.2.3/4', accountId: '111122223333', region: 'local', type: 'image', name: 'web', version: '1.2.3', build: 4, data, createdAt: '' };
}

test('name templates: buildDate as AWS writes it (no colons), with a format, and buildVersion', () => {
  const date = new Date('2026-11-27T09:05:07.123Z');
  assert.equal(renderNameTemplate('web {{ imagebuilder:buildDate }}', date, 4), 'web 2026-11-27T09-05-07.123Z');
  assert.equal(renderNameTemplate('web-{{imagebuilder:buildDate:yyyyMMddHHmmss}}-{{ imagebuilder:buildVersion }}', date, 4), 'web-20261127090507-4');
  assert.equal(renderNameTemplate('plain', date, 1), 'plain');
});

test('disk sizes: content with room to grow, at least 2 GiB, in steps of 256 MiB', () => {
  assert.equal(defaultDiskMiB(0), 2048);
  assert.equal(defaultDiskMiB(400 * 1024 * 1024), 2048);
  assert.equal(defaultDiskMiB(2000 * 1024 * 1024), 3328);
  assert.equal(defaultDiskMiB(2000 * 1024 * 1024) % 256, 0);
});

test('instance types and root volume: ns by default, vm.* types boot, EC2 types map; volumeSize in GiB', () => {
  assert.deepEqual(requestedInstance(image({ infrastructureConfiguration: {} })), { driver: 'ns', vcpus: 2, memoryMiB: 4096, network: 'nat', type: 'ns.medium', requested: 'ns.medium' });
  assert.equal(requestedInstance(image({ infrastructureConfiguration: { instanceTypes: ['vm.small'], subnetId: 'none' } })).driver, 'vm');
  assert.equal(requestedInstance(image({ infrastructureConfiguration: { instanceTypes: ['vm.small'], subnetId: 'none' } })).network, 'none');
  assert.throws(() => requestedInstance(image({ infrastructureConfiguration: { instanceTypes: ['zz.nothing'] } })), /instanceTypes\[0\] zz\.nothing/);
  assert.equal(rootVolumeMiB(image({ imageRecipe: { blockDeviceMappings: [{ deviceName: '/dev/xvda', ebs: { volumeSize: 8 } }] } })), 8192);
  assert.equal(rootVolumeMiB(image({ imageRecipe: { blockDeviceMappings: [{ deviceName: '/dev/sdb', ebs: { volumeSize: 20 } }, { deviceName: '/dev/sda1', ebs: { volumeSize: 4 } }] } })), 4096);
  assert.equal(rootVolumeMiB(image({ imageRecipe: {} })), undefined);
});

test('the disk store: a disk moves in under its sha256, stays sparse, and is stored once', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-disks-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const disks = new LocalDiskStore(path.join(dir, 'disks'));
  const make = (name: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, 'boot sector');
    // 64 MiB apparent, a few bytes allocated.
    const fd = statSync(file);
    assert.ok(fd.size > 0);
    return file;
  };
  const a = make('a.raw');
  await import('node:fs/promises').then((fsp) => fsp.truncate(a, 64 * 1024 * 1024));
  const expected = await hashFile(a);
  const stored = await disks.adopt(a);
  assert.equal(stored.digest, expected);
  assert.equal(stored.sizeBytes, 64 * 1024 * 1024);
  assert.equal(existsSync(a), false, 'the source is moved, not copied');
  assert.ok(statSync(disks.path(stored.digest)).blocks * 512 < 1024 * 1024, 'still sparse');
  const b = make('b.raw');
  await import('node:fs/promises').then((fsp) => fsp.truncate(b, 64 * 1024 * 1024));
  assert.deepEqual(await disks.adopt(b), stored);
  assert.equal(existsSync(b), false);
  assert.deepEqual(await disks.list(), [stored]);
  await assert.rejects(disks.require(`sha256:${'0'.repeat(64)}`), /not in the disk store/);
});

test('disk hashes: equal bytes give equal digests whether zeros are holes or written; any byte changes it', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-hash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const size = 9 * 1024 * 1024 + 17;
  const sparse = path.join(dir, 'sparse');
  writeFileSync(sparse, 'head');
  await import('node:fs/promises').then((fsp) => fsp.truncate(sparse, size));
  const dense = Buffer.alloc(size);
  dense.write('head');
  writeFileSync(path.join(dir, 'dense'), dense);
  dense[5 * 1024 * 1024] = 1;
  writeFileSync(path.join(dir, 'changed'), dense);
  const [a, b, c] = await Promise.all(['sparse', 'dense', 'changed'].map((n) => hashFile(path.join(dir, n))));
  assert.match(a!, /^sha256:[0-9a-f]{64}$/);
  assert.equal(a, b);
  assert.notEqual(a, c);
  // Reading only the data qemu-img map reports gives the same digests, holes or not, for a tail block too.
  const tail = path.join(dir, 'tail');
  writeFileSync(tail, 'head');
  await import('node:fs/promises').then(async (fsp) => {
    await fsp.truncate(tail, size);
    const h = await fsp.open(tail, 'r+');
    await h.write(Buffer.from([1]), 0, 1, size - 3);
    await h.close();
  });
  const withTail = Buffer.alloc(size);
  withTail.write('head');
  withTail[size - 3] = 1;
  writeFileSync(path.join(dir, 'tail-dense'), withTail);
  assert.deepEqual(await Promise.all(['sparse', 'dense', 'changed', 'tail', 'tail-dense'].map((n) => hashSparseFile(path.join(dir, n)))), [a, a, c, ...(await Promise.all(['tail', 'tail-dense'].map((n) => hashFile(path.join(dir, n)))))]);
  assert.notEqual(await hashSparseFile(tail), a);
});

test('machine images: ami- ids, unique names per account and region, launch permissions by account and group all', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-amis-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openStore(dir);
  t.after(() => store.close());
  assert.ok(isAmiId(newAmiId()));
  assert.equal(isAmiId('ami-123'), false);
  const disk: MachineDisk = { digest: `sha256:${'a'.repeat(64)}`, sizeBytes: 1, format: 'raw', rootPartUuid: 'x', kernelVersion: '6.1.0-28-cloud-amd64' };
  const base = { region: 'local', sourceImageArn: 'arn:aws:imagebuilder:local:111111111111:image/web/1.0.0/1', disk };
  const shared = await registerMachineImage(store, { ...base, accountId: '111111111111', name: 'web 1', launchPermission: { userIds: ['222222222222'] } });
  const open = await registerMachineImage(store, { ...base, accountId: '111111111111', name: 'web 2', launchPermission: { userGroups: ['all'] } });
  const secret = await registerMachineImage(store, { ...base, accountId: '111111111111', name: 'web 3' });
  await assert.rejects(registerMachineImage(store, { ...base, accountId: '111111111111', name: 'web 1' }), /already has a machine image named "web 1"/);
  const id = (r: ResourceRecord) => machineImageData(r).amiId;
  assert.equal((await findMachineImage(store, '111111111111', 'local', id(secret)))?.arn, secret.arn, 'the owner uses its own');
  assert.equal((await findMachineImage(store, '222222222222', 'local', id(shared)))?.arn, shared.arn, 'a named account may launch it');
  assert.equal(await findMachineImage(store, '333333333333', 'local', id(shared)), undefined, 'another may not');
  assert.equal((await findMachineImage(store, '333333333333', 'local', id(open)))?.arn, open.arn, 'the group all makes it public');
  assert.equal(await findMachineImage(store, '222222222222', 'local', id(secret)), undefined);
  assert.equal(await findMachineImage(store, '111111111111', 'other', id(secret)), undefined, 'machine images are regional');
  assert.deepEqual((await listUsableMachineImages(store, '222222222222', 'local')).map(id).sort(), [id(shared), id(open)].sort());
});
