// Bring your own machine image: `kiln images import` uploads a disk file and answers an import task; the stock
// SDK's ImportVmImage makes an AVAILABLE AMI image of it that recipes take as parentImage; files that would
// make Kiln read other files, or that are not what they claim, are refused naming the field; ImportDiskImage is
// refused as unsupported. One server for every case; no build runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateComponentCommand,
  CreateImageRecipeCommand,
  GetImageCommand,
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

async function rejected(p: Promise<unknown>): Promise<ImagebuilderServiceException> {
  try {
    await p;
  } catch (err) {
    return err as ImagebuilderServiceException;
  }
  assert.fail('expected the call to fail');
}

test('kiln images import, ImportVmImage, the imported image as a parent, and refusals', { skip: hasTool('qemu-img') && hasTool('sfdisk') ? false : 'needs qemu-img and sfdisk' }, async (t) => {
  const f = await startFixture(t);
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-import-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cli = (args: string[], key = f.credentials) => kilnAs(f.server.endpoint, key, args);
  const ib = f.client();

  // A 64 MiB GPT disk with a Linux root partition and a marker at both ends, uploaded as qcow2.
  const raw = path.join(dir, 'source.raw');
  writeFileSync(raw, '');
  truncateSync(raw, 64 * 1024 * 1024);
  execFileSync('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', raw], { input: `label: gpt\nstart=2048, type=${ROOT_TYPE}, uuid=0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9\n` });
  execFileSync('sh', ['-c', `printf kiln-import-marker | dd of=${raw} bs=1 seek=${40 * 1024 * 1024} conv=notrunc status=none`]);
  const qcow2 = path.join(dir, 'disk.qcow2');
  execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);

  const imported = await cli(['images', 'import', qcow2, '--format', 'qcow2', '--json']);
  assert.equal(imported.code, 0, imported.stderr);
  const task = JSON.parse(imported.stdout) as { importTaskId: string; status: string; format: string; diskSizeBytes: number };
  assert.match(task.importTaskId, /^import-ami-[0-9a-f]{17}$/);
  assert.equal(task.status, 'completed');
  assert.equal(task.format, 'qcow2');
  assert.equal(task.diskSizeBytes, 64 * 1024 * 1024);
  const plain = await cli(['images', 'import', raw, '--format', 'raw']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout.trim(), /^import-ami-[0-9a-f]{17}$/);
  assert.notEqual(plain.stdout.trim(), task.importTaskId);

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

  // The task id belongs to its account: another account is told it does not exist; a malformed id is invalid.
  const store = openStore(f.dataDir);
  const { key } = await createAccount(store, 'stranger');
  await store.close();
  const stranger = f.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
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
});
