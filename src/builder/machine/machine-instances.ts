/**
 * The instances of a machine image's build and test, and the output disk: one way to do each, used by
 * machine-build.ts's built-in workflows and by custom workflows' actions (workflows/machine-actions.ts).
 * startMachineBuild materializes the parent and advances the image to BUILDING; launchBuildInstance starts an
 * `ns` instance on the parent's root filesystem or boots a `vm` on the parent's disk (with a cloud-init seed for
 * an imported parent); makeMachineOutput turns the build instance's changes into a stored bootable disk;
 * bootTestVm boots a test VM from a stored disk.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import * as fsp from 'node:fs/promises';
import { MEDIA_TYPE_MANIFEST, writeImage, type HistoryEntry } from '../../artifacts/oci/image.js';
import { writeLayer, type LayerDescriptor } from '../../artifacts/oci/layer.js';
import { runTool } from '../../artifacts/disk/run-tool.js';
import type { CleanupStack } from '../../domain/cleanup-stack.js';
import { KilnError } from '../../domain/errors.js';
import type { ImageInventory } from '../../domain/package-inventory.js';
import { snapshotDirOf, type DriverInstance, type LaunchSpec } from '../../drivers/driver.js';
import { VmDriver } from '../../drivers/vm/vm-driver.js';
import type { VmInstance } from '../../drivers/vm/vm-instance.js';
import type { OutputSink } from '../../logs/line-assembler.js';
import type { ResourceRecord } from '../../store/store.js';
import type { InstalledPackage } from '../bases/dpkg-status.js';
import { imageFolder, type BuildServices, type InstanceHolder } from '../container/container-build.js';
import { planLine, type CompiledPlan } from '../compile-build-plan.js';
import { instanceResources, requestedInstance } from '../stages/instance-request.js';
import { advance, recipeOf, rootVolumeGiB, type BuildPlan, type ContainerImageRef } from '../stages/image-record.js';
import { loadParentImage, type ParentImage } from '../stages/parent-image.js';
import { cachedDisk } from '../cache/disk-cache.js';
import { diskFromLayers, reassembleDisk, rootfsFromDisk, rootPartitionUuid, type AssembledRoot, type MachineDisk } from './machine-disk.js';
import { isImportedParent, machineOutputOf, materializeMachineParent, type MachineParent } from './machine-parent.js';
import { diskInventory } from './disk-inspection.js';
import { importedBootSeed } from './imported-guest.js';
import type { MachineServices } from './machine-services.js';

/** What a machine image's BUILD stage makes: its disk, and for an ns build the root filesystem it came from. */
export interface MachineBuildOutput {
  disk: MachineDisk;
  rootfs?: ContainerImageRef;
  inventory?: ImageInventory;
  packages: InstalledPackage[];
}

/** The root volume size a recipe asks for (blockDeviceMappings' ebs.volumeSize in GiB), in MiB. */
export function rootVolumeMiB(image: ResourceRecord): number | undefined {
  const gib = rootVolumeGiB(image);
  return gib === undefined ? undefined : gib * 1024;
}

/** A machine image's disk: stored, or assembled once from its root filesystem and remembered on its image record. */
export async function parentDisk(services: BuildServices, machine: MachineServices, parent: MachineParent, folder: string, signal: AbortSignal, log: (text: string) => void): Promise<MachineDisk> {
  if (parent.disk && (await machine.disks.has(parent.disk.digest))) return parent.disk;
  if (!parent.rootfs) throw new KilnError('Internal', `parentImage ${parent.plan.resolved} has neither a disk nor a root filesystem`);
  log(`assembling the disk of ${parent.plan.resolved} (first use)\n`);
  const layers = await services.layers.imageLayers(parent.rootfs.manifestDigest, signal);
  const { disk } = await diskFromLayers({ layers, disks: machine.disks, workDir: path.join(machine.workRoot, `${folder}-parent-disk`), signal, log });
  if (parent.image) {
    await services.store.updateResource(parent.image.arn, (current) => ({ ...current.data, machine: { ...machineOutputOf(current), disk } }));
  }
  return disk;
}

/**
 * The parent's root filesystem for an ns build: a machine image a vm build made has only its disk, so its root
 * partition is read into a layer once and remembered on its image record.
 */
async function parentRootfs(services: BuildServices, machine: MachineServices, parent: MachineParent, folder: string, signal: AbortSignal, log: (text: string) => void): Promise<ContainerImageRef> {
  if (!parent.disk) throw new KilnError('Internal', `parentImage ${parent.plan.resolved} has neither a disk nor a root filesystem`);
  log(`reading the root filesystem of ${parent.plan.resolved} from its disk (first ns build on it)\n`);
  const t0 = Date.now();
  const created = Date.parse(String(parent.image?.data.dateCreated ?? '')) || 0;
  const lease = await machine.disks.acquire(parent.disk.digest, signal);
  let rootfs: ContainerImageRef;
  try {
    rootfs = await rootfsFromDisk(lease.path, services.blobs, path.join(machine.workRoot, `${folder}-parent-rootfs`), Math.floor(created / 1000), signal);
  } finally {
    lease.release();
  }
  log(`root filesystem ${rootfs.manifestDigest} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  if (parent.image) {
    await services.store.updateResource(parent.image.arn, (current) => ({ ...current.data, machine: { ...machineOutputOf(current), rootfs } }));
  }
  return rootfs;
}

/**
 * Removes what cloud-init kept of the build's seeded boot (instance state, logs, seeds, and the empty
 * authorized_keys its ssh module writes even with no key to add), so that the output's first boot runs cloud-init
 * again as a fresh instance; the seed drive itself never was part of the disk.
 */
async function cleanCloudInit(vm: VmInstance, signal: AbortSignal, log: (text: string) => void): Promise<void> {
  // The seed's config and final stages run no module, but may still be queued behind network-online.target:
  // stopped first, so that none writes instance state after the clean.
  const stop = 'if command -v systemctl >/dev/null; then systemctl stop cloud-final.service cloud-config.service 2>/dev/null || true; fi';
  const result = await vm.exec(['/bin/sh', '-c', `${stop}; if command -v cloud-init >/dev/null; then cloud-init clean --logs --seed && rm -rf /var/lib/cloud/instances /var/lib/cloud/instance; fi; find /root /home -maxdepth 3 -path "*/.ssh/authorized_keys" -type f -size 0 -delete; sync`], { timeoutMs: 120_000, signal });
  if (result.exitCode !== 0) throw new KilnError('Internal', `cloud-init clean failed in the build instance (exit ${String(result.exitCode)}): ${result.stderr.trim().slice(-500)}`);
  log('cloud-init clean: the seeded boot\'s instance state and logs are removed from the output\n');
}

/** How much longer a boot with a cloud-init seed may take: cloud-init's package install of the guest agent. */
const AGENT_INSTALL_MS = 15 * 60_000;

/** What a VM is for: the build, or a test (`test-N` for the Nth custom TEST workflow, which may run at once). */
type VmRole = 'build' | 'test' | `test-${number}`;

/** A VM's folder: short, because the guest agent's socket path inside it must fit a unix socket (107 bytes). */
function vmWorkDir(machine: MachineServices, image: ResourceRecord, role: VmRole): string {
  return path.join(machine.workRoot, `vm-${createHash('sha256').update(image.arn).digest('hex').slice(0, 12)}-${role}`);
}

/**
 * Boots a VM for a build or test stage through the `vm` driver, held by `holder` from the moment it answers.
 * Its folder goes in the stage's work folder; a build VM keeps its writes for CreateOutputImage. The disk is
 * held on this node until the build's stack unwinds (a kept VM's QEMU keeps it open, which the disk cache respects).
 */
async function bootVm(machine: MachineServices, holder: InstanceHolder, image: ResourceRecord, role: VmRole, digest: string, cleanup: CleanupStack, signal: AbortSignal, log: (text: string) => void, cloudInitSeed = false): Promise<VmInstance> {
  const lease = await machine.disks.acquire(digest, signal);
  cleanup.defer(`the hold on disk ${digest} for the ${role} VM of ${image.arn}`, async () => lease.release());
  const disk = lease.path;
  const wanted = requestedInstance(image);
  // A seeded boot also waits for cloud-init to download and install the agent from the image's package mirror.
  const driver = new VmDriver({ accel: machine.accel.accel, bootTimeoutMs: machine.bootTimeoutMs + (cloudInitSeed ? AGENT_INSTALL_MS : 0) });
  const spec: LaunchSpec = {
    layers: [],
    disk: { path: disk, format: 'raw', ...(role === 'build' ? { keepWrites: true } : {}), ...(cloudInitSeed ? { cloudInitSeed: true } : {}) },
    resources: { vcpus: wanted.vcpus, memoryMiB: wanted.memoryMiB },
    network: wanted.network,
    hostname: `${role}-${image.build}`,
    scratchRoot: vmWorkDir(machine, image, role),
  };
  const vm = await holder.launch(spec, signal, driver);
  log(`booted ${vm.id} (${machine.accel.accel}: ${machine.accel.reason}) to a ready guest agent in ${(vm.bootMs / 1000).toFixed(1)} s\n`);
  return vm;
}

/**
 * A VM's folder, made for one stage and registered on the build's stack. A VM kept for debugging
 * (terminateInstanceOnFailure: false) still runs from it, so it stays; the next start of Kiln empties the work
 * folder after it.
 */
async function vmFolder(services: BuildServices, machine: MachineServices, image: ResourceRecord, role: VmRole, cleanup: CleanupStack): Promise<string> {
  const dir = vmWorkDir(machine, image, role);
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  cleanup.defer(`the ${role} VM folder of ${image.arn}`, async () => {
    if (services.kept.list().some((k) => k.imageBuildVersionArn === image.arn)) return;
    await fsp.rm(dir, { recursive: true, force: true });
  });
  return dir;
}

/**
 * Boots a test VM from a stored disk, held by `holder`: the built-in TEST's launch and a custom TEST workflow's
 * LaunchInstance. Each `slot` (a custom TEST workflow's index) has its own folder, so the workflows of one
 * parallel group boot at once; one slot runs one VM at a time.
 */
export async function bootTestVm(services: BuildServices, image: ResourceRecord, holder: InstanceHolder, diskDigest: string, cleanup: CleanupStack, signal: AbortSignal, log: (text: string) => void, slot?: number): Promise<VmInstance> {
  const machine = machineOf(services);
  const role: VmRole = slot === undefined ? 'test' : `test-${slot}`;
  await vmFolder(services, machine, image, role, cleanup);
  return bootVm(machine, holder, image, role, diskDigest, cleanup, signal, log);
}

/** The machine-image support of `services`, or Unavailable. */
export function machineOf(services: BuildServices): MachineServices {
  if (!services.machine) throw new KilnError('Unavailable', 'this Kiln has no machine-image support configured');
  return services.machine;
}

/** A build on its way: the image (BUILDING), its parent materialized, and for an ns build the parent's root filesystem. */
export interface MachineBuildStart {
  image: ResourceRecord;
  plan: BuildPlan;
  parent: MachineParent;
  /** ns builds: the parent root filesystem's image, which the build instance's layer goes on. */
  parentImage?: ParentImage;
}

/**
 * Materializes the parent (pinning its digest into the plan), advances the image to BUILDING with that plan and,
 * for an ns build, makes sure the parent has a root filesystem: the start of every BUILD workflow's launch.
 */
export async function startMachineBuild(services: BuildServices, image: ResourceRecord, compiled: CompiledPlan<MachineParent>, signal: AbortSignal, log: OutputSink): Promise<MachineBuildStart> {
  const machine = machineOf(services);
  const parent = await materializeMachineParent(compiled.parent, machine.managedRootfs, signal, log);
  const plan: BuildPlan = { ...compiled.plan, parent: parent.plan };
  log(planLine(plan));
  const building = await advance(services.store, image.arn, 'BUILDING', { patch: { buildPlan: plan } });
  if (requestedInstance(building).driver !== 'ns') return { image: building, plan, parent };
  if (!parent.rootfs) parent.rootfs = await parentRootfs(services, machine, parent, imageFolder(building), signal, log);
  return { image: building, plan, parent, parentImage: await loadParentImage(services.blobs, parent.rootfs.manifestDigest) };
}

/** A machine image's build instance: an ns instance on the parent's layers, or a VM booted from its disk. */
export type MachineBuildInstance = { driver: 'ns'; instance: DriverInstance } | { driver: 'vm'; instance: VmInstance };

/**
 * Launches the build instance of a started build, held by `holder`: ns on the parent's root filesystem, vm on
 * the parent's disk in the image's build VM folder (an imported parent boots with a cloud-init seed that
 * installs the guest agent). One build instance of an image runs at a time (a VM's folder is per image).
 */
export async function launchBuildInstance(services: BuildServices, start: MachineBuildStart, holder: InstanceHolder, cleanup: CleanupStack, signal: AbortSignal, log: OutputSink): Promise<MachineBuildInstance> {
  const machine = machineOf(services);
  const { image, parent } = start;
  const wanted = requestedInstance(image);
  if (wanted.driver === 'ns') {
    const layers = await services.layers.imageLayers(parent.rootfs!.manifestDigest, signal);
    const instance = await holder.launch({ layers, resources: instanceResources(image, wanted), network: wanted.network, hostname: `build-${image.build}`, scratchRoot: services.paths.scratchRoot }, signal);
    log(`launched ${instance.id} on the parent's root filesystem (${layers.length} layers, network ${wanted.network})\n`);
    return { driver: 'ns', instance };
  }
  // Before anything boots: an imported disk known to have no way in fails now, not after the boot timeout.
  const seed = isImportedParent(parent) && importedBootSeed(parent, String(recipeOf(image).parentImage ?? ''), log);
  const disk = await parentDisk(services, machine, parent, imageFolder(image), signal, log);
  await vmFolder(services, machine, image, 'build', cleanup);
  return { driver: 'vm', instance: await bootVm(machine, holder, image, 'build', disk.digest, cleanup, signal, log, seed) };
}

/**
 * Stores a root filesystem (the parent's layers and the build's) as an image and assembles its disk at the
 * recipe's root volume size; `cacheKey` (a step-cache chain's key) takes a disk assembled before from the
 * same layers.
 */
export async function storeRootfsDisk(services: BuildServices, image: ResourceRecord, rootfs: { layers: LayerDescriptor[]; history: HistoryEntry[]; config: unknown; created: string }, signal: AbortSignal, log: (text: string) => void, cacheKey?: string): Promise<MachineBuildOutput> {
  const machine = machineOf(services);
  const stored = await writeImage(services.blobs, { layers: rootfs.layers, config: rootfs.config as never, history: rootfs.history, created: rootfs.created });
  const ref: ContainerImageRef = { manifestDigest: stored.manifestDigest, mediaType: MEDIA_TYPE_MANIFEST, configDigest: stored.configDigest };
  const sizeMiB = rootVolumeMiB(image);
  const assemble = async (): Promise<AssembledRoot> => {
    const dirs = await services.layers.imageLayers(ref.manifestDigest, signal);
    return diskFromLayers({ layers: dirs, disks: machine.disks, workDir: path.join(machine.workRoot, `disk-${imageFolder(image)}`), ...(sizeMiB ? { sizeMiB } : {}), signal, log });
  };
  const made = cacheKey
    ? await cachedDisk({ cache: services.store, disks: machine.disks, accountId: image.accountId, key: cacheKey, layers: rootfs.layers.map((l) => l.digest), sizeMiB, log }, assemble)
    : await assemble();
  return { disk: made.disk, rootfs: ref, inventory: made.inventory, packages: made.packages };
}

/**
 * The output disk of a build instance (CreateImage): an ns instance's changes become one layer over the parent's
 * root filesystem and its disk is assembled; a VM (cloud-init state cleaned when its parent was imported) powers
 * off cleanly and its overlay is reassembled from its root filesystem, or stored as the guest left it when Kiln
 * did not lay the disk out (imported). A VM is off afterwards.
 */
export async function makeMachineOutput(services: BuildServices, start: MachineBuildStart, built: MachineBuildInstance, created: string, signal: AbortSignal, log: (text: string) => void): Promise<MachineBuildOutput> {
  const machine = machineOf(services);
  const { image } = start;
  if (built.driver === 'ns') {
    const base = start.parentImage!;
    const layer = await writeLayer(services.blobs, snapshotDirOf(built.instance), { source: 'overlay-upper', sourceDateEpoch: base.sourceDateEpoch, compression: services.layerCompression, signal, unpackInto: services.layers });
    log(`root filesystem layer ${layer.digest} (${layer.size} bytes)\n`);
    const history = [...base.history, { created, created_by: `kiln: ${image.name} ${image.version}/${image.build}`, comment: 'kiln machine image build' }];
    return storeRootfsDisk(services, image, { layers: [...base.layers, layer], history, config: base.config, created }, signal, log);
  }
  const vm = built.instance;
  const imported = isImportedParent(start.parent);
  if (imported) await cleanCloudInit(vm, signal, log);
  const down = await vm.shutdown(signal);
  // A guest killed mid-write leaves a disk nobody should boot: fail rather than store it.
  if (!down.clean) throw new KilnError('Internal', `the build instance did not power off cleanly within its time; its disk is not kept\n${vm.serialTail()}`);
  log(`guest powered off cleanly in ${(down.ms / 1000).toFixed(1)} s\n`);
  const raw = path.join(vmWorkDir(machine, image, 'build'), 'disk.raw');
  if (!vm.diskOverlay) throw new KilnError('Internal', `${vm.id} was booted without an overlay for its writes`);
  try {
    await runTool('qemu-img', ['convert', '-q', '-f', 'qcow2', '-O', 'raw', vm.diskOverlay, raw], { signal });
    if (imported) {
      // A disk Kiln did not lay out keeps its own partitions and bootloader: stored as the guest left it.
      const rootPartUuid = await rootPartitionUuid(raw, signal);
      const found = await diskInventory(raw, path.join(machine.workRoot, `inspect-${imageFolder(image)}`), signal, log);
      const stored = await machine.disks.adopt(raw, signal);
      log(`disk stored as ${stored.digest} (the imported layout, as the guest left it)\n`);
      return { disk: { ...stored, format: 'raw', rootPartUuid, kernelVersion: '' }, ...found };
    }
    // Reassembled from its root filesystem, so that a kernel the build installed is the one that boots and
    // blockDeviceMappings applies as in an ns build.
    const sizeMiB = rootVolumeMiB(image);
    return await reassembleDisk(raw, { disks: machine.disks, workDir: path.join(machine.workRoot, `disk-${imageFolder(image)}`), ...(sizeMiB ? { sizeMiB } : {}), signal, log });
  } finally {
    await fsp.rm(raw, { force: true });
  }
}
