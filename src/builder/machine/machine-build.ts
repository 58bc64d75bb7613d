/**
 * One machine image build (an image recipe), AWS's stages in order. BUILD: an `ns` instance enters the parent's
 * root filesystem (as Packer's chroot builder does: no boot) or a `vm` instance boots the parent's disk; the
 * components' build and validate phases run; the result becomes a bootable disk, stored by content. TEST: a new
 * VM boots from that disk with its own bootloader and runs every test phase through the guest agent; a disk
 * that does not boot fails the image with the serial console's tail. Then DISTRIBUTING, where
 * distribution-stage.ts registers machine images per region and account with their launch permissions, and exports.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import * as fsp from 'node:fs/promises';
import { MEDIA_TYPE_MANIFEST, writeImage } from '../../artifacts/oci/image.js';
import { writeLayer } from '../../artifacts/oci/layer.js';
import { runTool } from '../../artifacts/disk/run-tool.js';
import type { CleanupStack } from '../../domain/cleanup-stack.js';
import { KilnError } from '../../domain/errors.js';
import { snapshotDirOf, type DriverInstance, type LaunchSpec } from '../../drivers/driver.js';
import { VmDriver } from '../../drivers/vm/vm-driver.js';
import type { VmInstance } from '../../drivers/vm/vm-instance.js';
import type { ResourceRecord } from '../../store/store.js';
import type { InstalledPackage } from '../bases/dpkg-status.js';
import type { ImageInventory } from '../../domain/package-inventory.js';
import { instanceResources, requestedInstance } from '../stages/instance-request.js';
import { abandonScanWithoutTests, buildChain, imageFolder, type InstanceHolder, runComponentPhases, runWorkflow, testsEnabled, testTimeoutMs, type BuildServices } from '../container/container-build.js';
import { signMachineDisk } from '../stages/image-signatures.js';
import { advance, patchImage, recipeOf, rootVolumeGiB, type BuildPlan, type ContainerImageRef } from '../stages/image-record.js';
import { planLine, type CompiledPlan } from '../compile-build-plan.js';
import { diskFromLayers, reassembleDisk, rootfsFromDisk, rootPartitionUuid, type MachineDisk } from './machine-disk.js';
import { isImportedParent, machineOutputOf, materializeMachineParent, type MachineParent } from './machine-parent.js';
import { diskInventory } from './disk-inspection.js';
import { importedBootSeed } from './imported-guest.js';
import { loadParentImage } from '../stages/parent-image.js';
import { runStep } from '../stages/step-runner.js';
import { runScanStep, scanningEnabled } from '../stages/image-scan.js';
import type { MachineServices } from './machine-services.js';
import type { OutputSink } from '../../logs/line-assembler.js';
import type { HistoryEntry } from '../../artifacts/oci/image.js';
import type { LayerDescriptor } from '../../artifacts/oci/layer.js';
import type { LayerChain } from '../cache/layer-chain.js';
import { BUILD_PHASES, componentUnits } from '../cache/build-units.js';
import { cachedDisk } from '../cache/disk-cache.js';
import type { ParentImage } from '../stages/parent-image.js';
import { managedWorkflowArn } from '../../domain/managed-workflows.js';

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
  const machine = services.machine;
  if (!machine) throw new KilnError('Unavailable', 'this Kiln has no machine-image support configured');
  const role: VmRole = slot === undefined ? 'test' : `test-${slot}`;
  await vmFolder(services, machine, image, role, cleanup);
  return bootVm(machine, holder, image, role, diskDigest, cleanup, signal, log);
}

/** A custom TEST workflow (builder/workflows/) that replaces a machine build's built-in one. */
export interface MachineStageOverrides {
  /** Runs the TEST stage (state TESTING) on the stored disk. */
  test?: (image: ResourceRecord, diskDigest: string, context: { workingDirectory: string }, signal: AbortSignal) => Promise<void>;
}

/**
 * Executes the compiled plan of one machine image (state CREATING): builds and tests it, leaving it
 * DISTRIBUTING with its disk stored; the caller distributes it, handles the outcome's state and unwinds
 * `cleanup`. A custom TEST workflow in `custom` runs instead of the built-in one.
 */
export async function buildMachineImage(services: BuildServices, initial: ResourceRecord, compiled: CompiledPlan<MachineParent>, signal: AbortSignal, cleanup: CleanupStack, custom: MachineStageOverrides = {}): Promise<void> {
  const machine = services.machine;
  if (!machine) throw new KilnError('Unavailable', 'this Kiln has no machine-image support configured');
  const { store } = services;
  let image = initial;
  const recipe = recipeOf(image);
  const workingDirectory = compiled.plan.recipe?.workingDirectory ?? '/tmp';
  const wanted = requestedInstance(image);
  const { components } = compiled;
  let output: { disk: MachineDisk; rootfs?: ContainerImageRef; inventory?: ImageInventory; packages: InstalledPackage[] } | undefined;
  const created = new Date().toISOString();
  const wf = (stage: 'BUILD' | 'TEST') => managedWorkflowArn(image.region, 'image', stage);

  // An imported parent has no guest agent and a layout of its own (vm builds only: see cloud-init-seed.ts).
  const imported = isImportedParent(compiled.parent);
  await runWorkflow(services, image, 'BUILD', 4, signal, cleanup, async (run, holder) => {
    let parent!: MachineParent;
    let nsInstance: DriverInstance | undefined;
    let vm: VmInstance | undefined;
    let chain: LayerChain | undefined;
    let parentImage: ParentImage | undefined;
    // Where the chain's units log: the step that runs them.
    let currentLog: OutputSink = () => undefined;
    await runStep(run, { name: 'LaunchBuildInstance', action: 'LaunchInstance', inputs: { parentImage: String(recipe.parentImage ?? ''), instanceType: wanted.type } }, signal, async (step) => {
      const log: OutputSink = (text, stream) => step.log(text, stream);
      parent = await materializeMachineParent(compiled.parent, machine.managedRootfs, signal, log);
      const plan: BuildPlan = { ...compiled.plan, parent: parent.plan };
      log(planLine(plan));
      image = await advance(store, image.arn, 'BUILDING', { patch: { buildPlan: plan } });
      if (wanted.driver === 'ns') {
        if (!parent.rootfs) parent.rootfs = await parentRootfs(services, machine, parent, imageFolder(image), signal, log);
        parentImage = await loadParentImage(services.blobs, parent.rootfs.manifestDigest);
        if (plan.stepCache) {
          chain = buildChain(services, image, holder, {
            kind: 'machine',
            // The chain starts from the root filesystem's manifest (a disk parent's is made from its disk).
            plan: { ...plan, parent: { ...plan.parent, manifestDigest: parent.rootfs.manifestDigest } },
            parent: parentImage,
            spec: (layers) => ({ layers, resources: instanceResources(image, wanted), network: wanted.network, hostname: `build-${image.build}`, scratchRoot: services.paths.scratchRoot }),
            log: (text, stream) => currentLog(text, stream),
            signal,
          });
          log('the step cache is on (kiln:cache): each component runs on its own instance, launched only when its layer is not cached\n');
          return { stepCache: true };
        }
        const layers = await services.layers.imageLayers(parent.rootfs.manifestDigest, signal);
        nsInstance = await holder.launch({ layers, resources: instanceResources(image, wanted), network: wanted.network, hostname: `build-${image.build}`, scratchRoot: services.paths.scratchRoot }, signal);
        log(`launched ${nsInstance.id} on the parent's root filesystem (${layers.length} layers, network ${wanted.network})\n`);
        return { instanceId: nsInstance.id };
      }
      // Before anything boots: an imported disk known to have no way in fails now, not after the boot timeout.
      const seed = imported && importedBootSeed(parent, String(recipe.parentImage ?? ''), log);
      const disk = await parentDisk(services, machine, parent, imageFolder(image), signal, log);
      await vmFolder(services, machine, image, 'build', cleanup);
      vm = await bootVm(machine, holder, image, 'build', disk.digest, cleanup, signal, log, seed);
      return { instanceId: vm.id };
    });
    const buildComponents = components.filter((c) => c.entry.type === 'BUILD');
    await runStep(run, { name: 'ApplyBuildComponents', action: 'ExecuteComponents', inputs: { components: components.map((c) => c.entry.arn) } }, signal, async (step) => {
      if (!chain) return runComponentPhases(services, image, nsInstance ?? vm!, buildComponents, BUILD_PHASES, step, signal, workingDirectory);
      currentLog = (text, stream) => step.log(text, stream);
      await componentUnits(chain, buildComponents, { env: {}, workdir: workingDirectory, user: '' }, (instance, component) =>
        runComponentPhases(services, image, instance, [component], BUILD_PHASES, step, signal, workingDirectory),
      );
      step.setMessage(chain.cached > 0 ? `cached: ${chain.cached} of ${chain.cached + chain.ran} components` : `${chain.ran} components ran`);
      return { status: 'Success', cachedComponents: chain.cachedComponents, ranComponents: chain.ranComponents };
    });
    await runStep(run, { name: 'CreateOutputImage', action: 'CreateImage' }, signal, async (step) => {
      const log = (text: string) => step.log(text);
      if (nsInstance || chain) {
        const base = parentImage!;
        let layers: LayerDescriptor[];
        let history: HistoryEntry[];
        if (chain) {
          layers = [...base.layers, ...chain.layers];
          history = [...base.history, ...chain.history.map((e) => ({ ...e, created }))];
          log(`root filesystem: ${chain.layers.length} layers from ${chain.cached + chain.ran} components (${chain.cached} cached)\n`);
        } else {
          const layer = await writeLayer(services.blobs, snapshotDirOf(nsInstance!), { source: 'overlay-upper', sourceDateEpoch: base.sourceDateEpoch, compression: services.layerCompression, signal, unpackInto: services.layers });
          log(`root filesystem layer ${layer.digest} (${layer.size} bytes)\n`);
          layers = [...base.layers, layer];
          history = [...base.history, { created, created_by: `kiln: ${image.name} ${image.version}/${image.build}`, comment: 'kiln machine image build' }];
        }
        const stored = await writeImage(services.blobs, { layers, config: base.config as never, history, created });
        const rootfs: ContainerImageRef = { manifestDigest: stored.manifestDigest, mediaType: MEDIA_TYPE_MANIFEST, configDigest: stored.configDigest };
        const sizeMiB = rootVolumeMiB(image);
        const assemble = async () => {
          const dirs = await services.layers.imageLayers(rootfs.manifestDigest, signal);
          return diskFromLayers({ layers: dirs, disks: machine.disks, workDir: path.join(machine.workRoot, `disk-${imageFolder(image)}`), ...(sizeMiB ? { sizeMiB } : {}), signal, log });
        };
        const made = chain
          ? await cachedDisk({ cache: store, disks: machine.disks, accountId: image.accountId, key: chain.currentKey, layers: layers.map((l) => l.digest), sizeMiB, log }, assemble)
          : await assemble();
        output = { disk: made.disk, rootfs, inventory: made.inventory, packages: made.packages };
      } else {
        if (imported) await cleanCloudInit(vm!, signal, log);
        const down = await vm!.shutdown(signal);
        // A guest killed mid-write leaves a disk nobody should boot: fail rather than store it.
        if (!down.clean) throw new KilnError('Internal', `the build instance did not power off cleanly within its time; its disk is not kept\n${vm!.serialTail()}`);
        log(`guest powered off cleanly in ${(down.ms / 1000).toFixed(1)} s\n`);
        const raw = path.join(vmWorkDir(machine, image, 'build'), 'disk.raw');
        if (!vm!.diskOverlay) throw new KilnError('Internal', `${vm!.id} was booted without an overlay for its writes`);
        await runTool('qemu-img', ['convert', '-q', '-f', 'qcow2', '-O', 'raw', vm!.diskOverlay, raw], { signal });
        if (imported) {
          // A disk Kiln did not lay out keeps its own partitions and bootloader: stored as the guest left it.
          const rootPartUuid = await rootPartitionUuid(raw, signal);
          const found = await diskInventory(raw, path.join(machine.workRoot, `inspect-${imageFolder(image)}`), signal, log);
          const stored = await machine.disks.adopt(raw, signal);
          log(`disk stored as ${stored.digest} (the imported layout, as the guest left it)\n`);
          output = { disk: { ...stored, format: 'raw', rootPartUuid, kernelVersion: '' }, ...found };
        } else {
          // Reassembled from its root filesystem, so that a kernel the build installed is the one that boots and
          // blockDeviceMappings applies as in an ns build.
          const sizeMiB = rootVolumeMiB(image);
          output = await reassembleDisk(raw, { disks: machine.disks, workDir: path.join(machine.workRoot, `disk-${imageFolder(image)}`), ...(sizeMiB ? { sizeMiB } : {}), signal, log });
        }
        await fsp.rm(raw, { force: true });
      }
      return { imageId: output.disk.digest };
    });
    await runStep(run, { name: 'TerminateBuildInstance', action: 'TerminateInstance' }, signal, async () => {
      await holder.terminate();
      return {};
    });
  }, wf('BUILD'));
  if (!output) throw new KilnError('Internal', 'the build workflow ended without a disk');
  const built = output;
  // Signed as soon as the disk is stored: `kiln images verify` later checks the disk still has this digest.
  const signature = await signMachineDisk(store, image.accountId, image.arn, built.disk.digest);
  image = await patchImage(store, image.arn, { machine: { disk: built.disk, ...(built.rootfs ? { rootfs: built.rootfs } : {}) }, signature, packages: built.packages, ...(built.inventory ? { inventory: built.inventory } : {}) });

  if (testsEnabled(image)) {
    image = await advance(store, image.arn, 'TESTING');
    const testSignal = AbortSignal.any([signal, AbortSignal.timeout(testTimeoutMs(image))]);
    if (custom.test) await custom.test(image, built.disk.digest, { workingDirectory }, testSignal);
    else await runWorkflow(services, image, 'TEST', scanningEnabled(image) ? 4 : 3, testSignal, cleanup, async (run, holder) => {
      let vm: VmInstance | undefined;
      await runStep(run, { name: 'LaunchTestInstance', action: 'LaunchInstance', inputs: { image: built.disk.digest } }, testSignal, async (step) => {
        vm = await bootTestVm(services, image, holder, built.disk.digest, cleanup, testSignal, (text) => step.log(text));
        return { instanceId: vm.id, bootMs: vm.bootMs };
      });
      if (scanningEnabled(image)) await runScanStep(run, store, services.vulnerabilities, image, testSignal);
      await runStep(run, { name: 'ApplyTestComponents', action: 'ExecuteComponents' }, testSignal, (step) => runComponentPhases(services, image, vm!, components, ['test'], step, testSignal, workingDirectory));
      await runStep(run, { name: 'TerminateTestInstance', action: 'TerminateInstance' }, testSignal, async () => {
        await holder.terminate();
        return {};
      });
    }, wf('TEST'));
  } else await abandonScanWithoutTests(store, image);

  // The stored disk is what distribution (now, or on RetryImage) registers.
  image = await advance(store, image.arn, 'DISTRIBUTING', { patch: { distribution: { attempts: 0, regions: [] } } });
}
