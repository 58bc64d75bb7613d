// Bring your own machine image, booted: a Debian 12 disk made here with mmdebstrap (cloud-init, OpenSSH and a
// kernel, no qemu-guest-agent) is imported with `kiln images import`, made an image with ImportVmImage, built on
// with vm.small (the build VM gets the agent from cloud-init through a NoCloud seed), tested in a boot of the
// output, exported, and the output disk holds no seed, no cloud-init instance state and no SSH key of the build;
// the packages of the imported image and of the output are read off their disks.
// One boot chain (build VM, test VM) under TCG; the slow part of this file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateComponentCommand,
  CreateImageCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  GetImageCommand,
  ImportVmImageCommand,
  ListWorkflowExecutionsCommand,
  ListWorkflowStepExecutionsCommand,
  paginateListImagePackages,
} from '@aws-sdk/client-imagebuilder';
import { assembleDisk, DEFAULT_ROOT_PART_UUID } from '../../src/artifacts/disk/assemble.js';
import { FsBlobStore } from '../../src/artifacts/blob-store.js';
import { LayerCache } from '../../src/artifacts/oci/unpack.js';
import { bootstrapDebianBase } from '../../src/builder/bases/debian-base.js';
import { containerBaseSpec } from '../../src/builder/bases/managed-bases.js';
import { customizeMachineRoot, MACHINE_BASE_PACKAGES } from '../../src/builder/bases/machine-root.js';
import { rootPartitionOf } from '../../src/builder/machine/machine-disk.js';
import { DEFAULT_DEBIAN_MIRROR } from '../../src/app/server-config.js';
import { bashComponent, machineSkipReason, startBuildServer, toolsSkipReason, waitForImage } from './helpers.js';
import { kilnAs } from '../helpers/kiln-cli.js';

/** A foreign Debian 12 cloud image: Kiln's boot layout, but cloud-init and OpenSSH instead of the guest agent. */
async function makeForeignDisk(dir: string, log: (text: string) => void): Promise<string> {
  const blobs = new FsBlobStore(path.join(dir, 'blobs'));
  const packages = [...MACHINE_BASE_PACKAGES.filter((p) => p !== 'qemu-guest-agent'), 'cloud-init', 'openssh-server'];
  const base = await bootstrapDebianBase(
    { ...containerBaseSpec(DEFAULT_DEBIAN_MIRROR), includes: packages, lean: 'machine', customize: (rootfs) => customizeMachineRoot(rootfs, DEFAULT_ROOT_PART_UUID) },
    { blobs, workDir: path.join(dir, 'bootstrap'), compression: 'zstd', onOutput: (text) => log(text) },
  );
  assert.ok(!base.packages.some((p) => p.packageName === 'qemu-guest-agent'), 'the image has no guest agent');
  assert.ok(base.packages.some((p) => p.packageName === 'cloud-init'));
  const layers = await new LayerCache(path.join(dir, 'layers'), blobs).imageLayers(base.image.manifestDigest);
  const raw = path.join(dir, 'foreign.raw');
  await assembleDisk({ rootfs: layers[0]!, out: raw, sizeMiB: 3072 });
  const qcow2 = path.join(dir, 'foreign.qcow2');
  execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  rmSync(raw);
  return qcow2;
}

/** A path's listing in the disk's root ext4, read with debugfs (no mount); '' when it does not exist. */
function lsInDisk(disk: string, offset: number, where: string): string {
  try {
    return execFileSync('debugfs', ['-R', `ls -p ${where}`, `${disk}?offset=${offset}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return '';
  }
}

const skip = (await machineSkipReason()) ?? (await toolsSkipReason(['mkfs.fat', 'mcopy', 'debugfs']));

test('an imported Debian (cloud-init, no agent) is built on with vm.small, tested, exported, and keeps no seed or build state', { skip, timeout: 45 * 60_000 }, async (t) => {
  const kilnServer = await startBuildServer(t);
  const { client, credentials } = kilnServer;
  const endpoint = kilnServer.server.endpoint;
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-vm-import-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const timed = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const out = await fn();
    t.diagnostic(`${what}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    return out;
  };

  const qcow2 = await timed('foreign disk (mmdebstrap + assemble)', () => makeForeignDisk(dir, () => undefined));
  const imported = await timed('kiln images import', () => kilnAs(endpoint, credentials, ['images', 'import', qcow2, '--format', 'qcow2']));
  assert.equal(imported.code, 0, imported.stderr);
  const taskId = imported.stdout.trim();
  const made = await client.send(new ImportVmImageCommand({ name: 'foreign-debian', semanticVersion: '1.0.0', platform: 'Linux', osVersion: 'Debian 12', vmImportTaskId: taskId }));

  const component = await client.send(
    new CreateComponentCommand({
      name: 'mark-and-check',
      semanticVersion: '1.0.0',
      platform: 'Linux',
      data: bashComponent({
        build: ['echo built-on-import > /etc/kiln-import-mark'],
        test: ['grep -qx built-on-import /etc/kiln-import-mark'],
      }),
    }),
  );
  const recipe = await client.send(new CreateImageRecipeCommand({ name: 'on-foreign', semanticVersion: '1.0.0', parentImage: made.imageArn!, components: [{ componentArn: component.componentBuildVersionArn! }] }));
  const infra = await client.send(new CreateInfrastructureConfigurationCommand({ name: 'vm-import', instanceProfileName: 'kiln', instanceTypes: ['vm.small'] }));
  const created = await client.send(new CreateImageCommand({ imageRecipeArn: recipe.imageRecipeArn, infrastructureConfigurationArn: infra.infrastructureConfigurationArn }));
  const image = await timed('vm.small build + test boot', () => waitForImage(client, created.imageBuildVersionArn!, { timeoutMs: 40 * 60_000 }));
  assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
  // Where the time went, step by step: this file is CI's slowest.
  for (const wf of (await client.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: created.imageBuildVersionArn }))).workflowExecutions ?? []) {
    for (const step of (await client.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: wf.workflowExecutionId }))).steps ?? []) {
      if (step.startTime && step.endTime) t.diagnostic(`${wf.type} ${step.name}: ${((Date.parse(step.endTime) - Date.parse(step.startTime)) / 1000).toFixed(0)} s`);
    }
  }
  const ami = image.outputResources?.amis?.[0]?.image;
  assert.match(ami ?? '', /^ami-/);

  const out = path.join(dir, 'output.raw');
  const exported = await kilnAs(endpoint, credentials, ['images', 'export', ami!, '--format', 'raw', '-o', out]);
  assert.equal(exported.code, 0, exported.stderr);
  const { offset } = await rootPartitionOf(out);
  assert.match(lsInDisk(out, offset, '/etc'), /kiln-import-mark/, 'the component ran on the imported disk');
  assert.match(lsInDisk(out, offset, '/usr/sbin'), /qemu-ga/, 'the agent cloud-init installed stays for the test boot');
  assert.doesNotMatch(lsInDisk(out, offset, '/var/lib/cloud'), /instances?\//, 'no cloud-init instance state: the first boot of a copy runs cloud-init again');
  assert.doesNotMatch(lsInDisk(out, offset, '/var/lib/cloud'), /\/seed\//, 'no seed copied in');
  assert.doesNotMatch(lsInDisk(out, offset, '/var/log'), /cloud-init/, 'no cloud-init logs of the build');
  assert.equal(lsInDisk(out, offset, '/root/.ssh').includes('authorized_keys'), false, 'no authorized_keys for root (cloud-init writes an empty one)');
  assert.doesNotMatch(lsInDisk(out, offset, '/home'), /\/debian\//, 'no default user made by the build');
  const got = await client.send(new GetImageCommand({ imageBuildVersionArn: created.imageBuildVersionArn }));
  assert.equal(got.image?.imageRecipe?.parentImage, made.imageArn);

  // What the import read off the disk, and the packages of the imported image and of the output (read off its disk).
  const tasks = await kilnAs(endpoint, credentials, ['images', 'imports', '--json']);
  assert.equal(tasks.code, 0, tasks.stderr);
  assert.deepEqual((JSON.parse(tasks.stdout) as { guest: unknown }[])[0]?.guest, { cloudInit: true, agent: false });
  const names = async (arn: string) => {
    const all: (string | undefined)[] = [];
    for await (const page of paginateListImagePackages({ client }, { imageBuildVersionArn: arn })) all.push(...(page.imagePackageList ?? []).map((p) => p.packageName));
    return all;
  };
  const before = await names(made.imageArn!);
  assert.ok(before.length > 25, `the imported image lists all its packages, over pages (${before.length})`);
  assert.ok(before.includes('cloud-init') && !before.includes('qemu-guest-agent'), 'the imported image lists its own packages');
  assert.ok((await names(created.imageBuildVersionArn!)).includes('qemu-guest-agent'), 'the output lists the agent the build installed');
});
