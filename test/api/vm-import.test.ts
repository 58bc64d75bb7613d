// Bring your own machine image: `kiln images import` uploads a disk file and answers an import task, with what its
// ext4 root holds (cloud-init, qemu-ga, os-release, dpkg's packages); the stock SDK's ImportVmImage makes an
// AVAILABLE AMI image of it that recipes take as parentImage and ListImagePackages reads; `kiln images imports`
// lists the tasks; a vm build on a disk with neither cloud-init nor the agent fails before booting anything; files
// that would make Kiln read other files, or that are not what they claim, are refused naming the field;
// ImportDiskImage is refused as unsupported. One server (with a build worker, which boots no VM) for every case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateComponentCommand,
  CreateImageCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  GetImageCommand,
  ListImagePackagesCommand,
  ImportDiskImageCommand,
  ImportVmImageCommand,
  ListImagesCommand,
  type ImagebuilderServiceException,
} from '@aws-sdk/client-imagebuilder';
import { openStore } from '../../src/app/server-start.js';
import { createAccount } from '../../src/service/accounts.js';
import { ROOT_TYPE } from '../../src/artifacts/disk/assemble.js';
import { hasTool } from '../../src/artifacts/oci/testing.js';
import { SAY_HI_DOCUMENT, startFixture } from './fixture.js';
import { kilnAs } from '../helpers/kiln-cli.js';
import { writeDebianLikeRoot, writeExt4Disk } from '../helpers/ext4-disk.js';
import { waitForImage } from '../build/helpers.js';

async function rejected(p: Promise<unknown>): Promise<ImagebuilderServiceException> {
  try {
    await p;
  } catch (err) {
    return err as ImagebuilderServiceException;
  }
  assert.fail('expected the call to fail');
}

const tools = ['qemu-img', 'sfdisk', 'mkfs.ext4', 'debugfs'];
test('kiln images import, ImportVmImage, the imported image as a parent, and refusals', { skip: tools.every(hasTool) ? false : `needs ${tools.join(', ')}` }, async (t) => {
  const f = await startFixture(t, { roles: ['api', 'worker'] });
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-import-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cli = (args: string[], key = f.credentials) => kilnAs(f.server.endpoint, key, args);
  const ib = f.client();

  // A 64 MiB GPT disk with an ext4 Linux root partition (a Debian-like root with cloud-init, no agent, three
  // packages) and a marker after it, uploaded as qcow2.
  const raw = path.join(dir, 'source.raw');
  const root = path.join(dir, 'root');
  const packages: [string, string][] = [['bash', '5.2.15-2+b2'], ['cloud-init', '22.4.2-1'], ['openssh-server', '1:9.2p1-2']];
  writeDebianLikeRoot(root, { packages, cloudInit: true, agent: false });
  writeExt4Disk(raw, root, { label: 'gpt', type: ROOT_TYPE, uuid: '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9', mib: 16, diskMib: 64 });
  execFileSync('sh', ['-c', `printf kiln-import-marker | dd of=${raw} bs=1 seek=${40 * 1024 * 1024} conv=notrunc status=none`]);
  const qcow2 = path.join(dir, 'disk.qcow2');
  execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);

  const imported = await cli(['images', 'import', qcow2, '--format', 'qcow2', '--json']);
  assert.equal(imported.code, 0, imported.stderr);
  const task = JSON.parse(imported.stdout) as { importTaskId: string; status: string; format: string; diskSizeBytes: number; guest: unknown; os?: { id: string; prettyName: string }; packageCount: number };
  assert.match(task.importTaskId, /^import-ami-[0-9a-f]{17}$/);
  assert.equal(task.status, 'completed');
  assert.equal(task.format, 'qcow2');
  assert.equal(task.diskSizeBytes, 64 * 1024 * 1024);
  // Read from the disk: /etc/os-release through its symlink into /usr/lib, cloud-init in /usr/bin, no qemu-ga.
  assert.deepEqual(task.guest, { cloudInit: true, agent: false });
  assert.equal(task.os?.prettyName, 'Debian GNU/Linux 12 (bookworm)');
  assert.equal(task.packageCount, 3);
  const plain = await cli(['images', 'import', raw, '--format', 'raw']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout.trim(), /^import-ami-[0-9a-f]{17}$/);
  assert.notEqual(plain.stdout.trim(), task.importTaskId);
  // A root with neither cloud-init nor the guest agent (its /sbin is /usr/sbin, where qemu-ga would be).
  const bareRoot = path.join(dir, 'bare-root');
  mkdirSync(bareRoot);
  writeDebianLikeRoot(bareRoot, { packages: [['bash', '5.2.15-2+b2']], cloudInit: false, agent: false });
  const bareDisk = path.join(dir, 'bare.raw');
  writeExt4Disk(bareDisk, bareRoot, { label: 'dos', type: '83', mib: 8 });
  const bare = await cli(['images', 'import', bareDisk, '--format', 'raw', '--json']);
  assert.equal(bare.code, 0, bare.stderr);
  const bareTask = JSON.parse(bare.stdout) as { importTaskId: string; guest: unknown };
  assert.deepEqual(bareTask.guest, { cloudInit: false, agent: false });

  // ImportVmImage: an AVAILABLE AMI image of the caller's, imported, with its machine image as output.
  const made = await ib.send(new ImportVmImageCommand({ name: 'My Imported', semanticVersion: '1.0.0', platform: 'Linux', osVersion: 'Debian 12', vmImportTaskId: task.importTaskId, description: 'brought along', tags: { team: 'a' } }));
  assert.match(made.imageArn ?? '', /^arn:aws:imagebuilder:local:\d{12}:image\/my-imported\/1\.0\.0\/1$/);
  const image = (await ib.send(new GetImageCommand({ imageBuildVersionArn: made.imageArn }))).image!;
  assert.equal(image.state?.status, 'AVAILABLE');
  assert.equal(image.type, 'AMI');
  assert.equal(image.platform, 'Linux');
  assert.equal(image.osVersion, 'Debian 12');
  assert.equal(image.buildType, 'IMPORT');
  assert.equal(image.imageSource, 'IMPORTED');
  assert.deepEqual(image.tags, { team: 'a' });
  const ami = image.outputResources?.amis?.[0];
  assert.match(ami?.image ?? '', /^ami-[0-9a-f]{17}$/);
  assert.equal(ami?.name, task.importTaskId);
  const listedPackages = await ib.send(new ListImagePackagesCommand({ imageBuildVersionArn: made.imageArn }));
  assert.deepEqual(listedPackages.imagePackageList?.map((p) => [p.packageName, p.packageVersion]), packages);
  const listed = await ib.send(new ListImagesCommand({}));
  assert.ok(listed.imageVersionList?.some((v) => v.arn === 'arn:aws:imagebuilder:local:' + made.imageArn!.split(':')[4] + ':image/my-imported/1.0.0'), 'listed as the caller\'s');

  // The exported machine image holds the uploaded bytes.
  const out = path.join(dir, 'exported.raw');
  const exported = await cli(['images', 'export', ami!.image!, '--format', 'raw', '-o', out]);
  assert.equal(exported.code, 0, exported.stderr);
  execFileSync('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'raw', raw, out]);

  // Recipes take it as their parent, by image ARN and by machine image id.
  const component = await ib.send(new CreateComponentCommand({ name: 'say-hi', semanticVersion: '1.0.0', platform: 'Linux', data: SAY_HI_DOCUMENT }));
  const components = [{ componentArn: component.componentBuildVersionArn! }];
  const byArn = await ib.send(new CreateImageRecipeCommand({ name: 'on-imported', semanticVersion: '1.0.0', parentImage: made.imageArn!.replace(/\/1\.0\.0\/1$/, '/x.x.x'), components }));
  assert.ok(byArn.imageRecipeArn);
  const byAmi = await ib.send(new CreateImageRecipeCommand({ name: 'on-imported-ami', semanticVersion: '1.0.0', parentImage: ami!.image!, components }));
  assert.ok(byAmi.imageRecipeArn);

  // A vm build on the disk with neither cloud-init nor the agent fails at LaunchInstance, before any boot.
  const bareImage = await ib.send(new ImportVmImageCommand({ name: 'bare', semanticVersion: '1.0.0', platform: 'Linux', vmImportTaskId: bareTask.importTaskId }));
  const bareRecipe = await ib.send(new CreateImageRecipeCommand({ name: 'on-bare', semanticVersion: '1.0.0', parentImage: bareImage.imageArn!, components }));
  const vmInfra = await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'vm-small', instanceProfileName: 'kiln', instanceTypes: ['vm.small'] }));
  const t0 = Date.now();
  const build = await ib.send(new CreateImageCommand({ imageRecipeArn: bareRecipe.imageRecipeArn, infrastructureConfigurationArn: vmInfra.infrastructureConfigurationArn }));
  const failed = await waitForImage(ib, build.imageBuildVersionArn!, { timeoutMs: 60_000 });
  const failedIn = Date.now() - t0;
  t.diagnostic(`vm build on a disk with no way in failed in ${failedIn} ms`);
  assert.equal(failed.state?.status, 'FAILED');
  assert.match(failed.state?.reason ?? '', /parentImage arn:aws:imagebuilder:local:\d{12}:image\/bare\/1\.0\.0\/1: the imported disk has neither cloud-init nor the QEMU guest agent/);
  assert.match(failed.state?.reason ?? '', /Install cloud-init or qemu-guest-agent in the image/);
  assert.ok(failedIn < 20_000, `failed after ${failedIn} ms: a boot was waited for`);

  // The caller's import tasks, newest first, with the images made from them; the table names what was found.
  const tasks = await cli(['images', 'imports', '--json']);
  assert.equal(tasks.code, 0, tasks.stderr);
  const rows = JSON.parse(tasks.stdout) as { importTaskId: string; imageArns: string[]; guest: unknown }[];
  assert.deepEqual(rows.map((r) => r.importTaskId), [bareTask.importTaskId, plain.stdout.trim(), task.importTaskId]);
  assert.deepEqual(rows.map((r) => r.imageArns), [[bareImage.imageArn], [], [made.imageArn]]);
  assert.deepEqual(rows[1]!.guest, { cloudInit: true, agent: false });
  const table = await cli(['images', 'imports']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^TASK ID\s+STATUS\s+FORMAT\s+SIZE\s+CREATED\s+GUEST\s+OS\s+IMAGES\n/);
  assert.match(table.stdout, new RegExp(`${task.importTaskId}\\s+completed\\s+qcow2\\s+67108864\\s+\\S+\\s+cloud-init\\s+Debian GNU/Linux 12 \\(bookworm\\)\\s+${made.imageArn!.replace(/[./]/g, '\\$&')}`));
  assert.match(table.stdout, new RegExp(`${bareTask.importTaskId}\\s+completed\\s+raw\\s+\\d+\\s+\\S+\\s+none\\s`));

  // The task id belongs to its account: another account is told it does not exist; a malformed id is invalid.
  const store = openStore(f.dataDir);
  const { key } = await createAccount(store, 'stranger');
  await store.close();
  const stranger = f.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
  const theirTasks = await cli(['images', 'imports', '--json'], { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
  assert.equal(theirTasks.code, 0, theirTasks.stderr);
  assert.deepEqual(JSON.parse(theirTasks.stdout), [], 'another account lists none of them');
  const foreign = await rejected(stranger.send(new ImportVmImageCommand({ name: 'theirs', semanticVersion: '1.0.0', platform: 'Linux', vmImportTaskId: task.importTaskId })));
  assert.equal(foreign.name, 'ResourceNotFoundException');
  assert.match(foreign.message, /vmImportTaskId/);
  const malformed = await rejected(ib.send(new ImportVmImageCommand({ name: 'bad', semanticVersion: '1.0.0', platform: 'Linux', vmImportTaskId: 'import-ami-123' })));
  assert.equal(malformed.name, 'InvalidParameterValueException');
  assert.match(malformed.message, /vmImportTaskId/);
  const windows = await rejected(ib.send(new ImportVmImageCommand({ name: 'win', semanticVersion: '1.0.0', platform: 'Windows', vmImportTaskId: task.importTaskId })));
  assert.equal(windows.name, 'InvalidParameterValueException');
  assert.match(windows.message, /platform/);

  const iso = await rejected(ib.send(new ImportDiskImageCommand({ name: 'win', semanticVersion: '1.0.0', platform: 'Windows', osVersion: 'Microsoft Windows Server 2022', infrastructureConfigurationArn: 'arn:aws:imagebuilder:local:123456789012:infrastructure-configuration/x', uri: 's3://bucket/win.iso' })));
  assert.equal(iso.name, 'InvalidRequestException');
  assert.match(iso.message, /not supported by Kiln/);

  // Refused uploads name the field, never a host path.
  const backed = path.join(dir, 'backed.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', '/etc/hostname', '-F', 'raw', backed, '64M']);
  const claimsRaw = await cli(['images', 'import', qcow2, '--format', 'raw']);
  const vmdkDescriptor = path.join(dir, 'desc.vmdk');
  writeFileSync(vmdkDescriptor, '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\nRW 131072 FLAT "/etc/hostname" 0\n');
  const cases: [string, Awaited<ReturnType<typeof cli>>, RegExp][] = [
    ['backing file', await cli(['images', 'import', backed, '--format', 'qcow2']), /file: the qcow2 image has a backing file/],
    ['qcow2 sent as raw', claimsRaw, /format: the file is a qcow2 image, not raw/],
    ['vmdk descriptor', await cli(['images', 'import', vmdkDescriptor, '--format', 'vmdk']), /file: the VMDK is not a single sparse/],
    ['raw sent as vhd', await cli(['images', 'import', raw, '--format', 'vhd']), /format: the file is not a VHD image/],
    ['unknown format', await cli(['images', 'import', raw, '--format', 'iso']), /--format must be qcow2, raw, vmdk or vhd/],
  ];
  for (const [what, result, message] of cases) {
    assert.notEqual(result.code, 0, what);
    assert.match(result.stderr, message, what);
    assert.doesNotMatch(result.stderr, new RegExp(`${f.dataDir}|/etc/hostname`), what);
  }
  assert.match(cases[0]![1].stderr, /InvalidParameterValueException/);

  // The upload route is signed like the others.
  const unsigned = await fetch(`${f.server.endpoint}/kiln/images/import?format=raw`, { method: 'PUT', body: 'x', headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(unsigned.status, 403);
  const unsignedList = await fetch(`${f.server.endpoint}/kiln/images/imports`);
  assert.equal(unsignedList.status, 403);
});
