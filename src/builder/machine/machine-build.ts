/**
 * One machine image build (an image recipe), AWS's stages in order. BUILD: an `ns` instance enters the parent's
 * root filesystem (as Packer's chroot builder does: no boot) or a `vm` instance boots the parent's disk; the
 * components' build and validate phases run; the result becomes a bootable disk, stored by content. TEST: a new
 * VM boots from that disk with its own bootloader and runs every test phase through the guest agent; a disk
 * that does not boot fails the image with the serial console's tail. Then DISTRIBUTING, where
 * distribution-stage.ts registers machine images per region and account with their launch permissions, and exports.
 */
import type { CleanupStack } from '../../domain/cleanup-stack.js';
import { KilnError } from '../../domain/errors.js';
import type { VmInstance } from '../../drivers/vm/vm-instance.js';
import type { ResourceRecord } from '../../store/store.js';
import { abandonScanWithoutTests, buildChain, runComponentPhases, runWorkflow, testsEnabled, testTimeoutMs, type BuildServices } from '../container/container-build.js';
import { signMachineDisk } from '../stages/image-signatures.js';
import { advance, patchImage, recipeOf } from '../stages/image-record.js';
import type { CompiledPlan } from '../compile-build-plan.js';
import type { MachineParent } from './machine-parent.js';
import { runStep } from '../stages/step-runner.js';
import { runScanStep, scanningEnabled } from '../stages/image-scan.js';
import type { OutputSink } from '../../logs/line-assembler.js';
import type { LayerChain } from '../cache/layer-chain.js';
import { BUILD_PHASES, componentUnits } from '../cache/build-units.js';
import { managedWorkflowArn } from '../../domain/managed-workflows.js';
import { instanceResources, requestedInstance } from '../stages/instance-request.js';
import { bootTestVm, launchBuildInstance, machineOf, makeMachineOutput, startMachineBuild, storeRootfsDisk, type MachineBuildInstance, type MachineBuildOutput, type MachineBuildStart } from './machine-instances.js';

/** Custom workflows (builder/workflows/) that replace a machine build's built-in ones. */
export interface MachineStageOverrides {
  /** Runs the BUILD stage; answers the stored output (the image is BUILDING by then). */
  build?: (image: ResourceRecord, context: { workingDirectory: string; created: string }, signal: AbortSignal) => Promise<MachineBuildOutput>;
  /** Runs the TEST stage (state TESTING) on the stored disk. */
  test?: (image: ResourceRecord, diskDigest: string, context: { workingDirectory: string }, signal: AbortSignal) => Promise<void>;
}

/**
 * Executes the compiled plan of one machine image (state CREATING): builds and tests it, leaving it
 * DISTRIBUTING with its disk stored; the caller distributes it, handles the outcome's state and unwinds
 * `cleanup`. Custom BUILD and TEST workflows in `custom` run instead of the built-in ones.
 */
export async function buildMachineImage(services: BuildServices, initial: ResourceRecord, compiled: CompiledPlan<MachineParent>, signal: AbortSignal, cleanup: CleanupStack, custom: MachineStageOverrides = {}): Promise<void> {
  // A Kiln without machine support fails here, before the image moves on or a custom workflow starts.
  machineOf(services);
  const { store } = services;
  let image = initial;
  const recipe = recipeOf(image);
  const workingDirectory = compiled.plan.recipe?.workingDirectory ?? '/tmp';
  const wanted = requestedInstance(image);
  const { components } = compiled;
  let output: MachineBuildOutput | undefined;
  const created = new Date().toISOString();
  const wf = (stage: 'BUILD' | 'TEST') => managedWorkflowArn(image.region, 'image', stage);

  if (custom.build) output = await custom.build(image, { workingDirectory, created }, signal);
  else await runWorkflow(services, image, 'BUILD', 4, signal, cleanup, async (run, holder) => {
    let start!: MachineBuildStart;
    let built: MachineBuildInstance | undefined;
    let chain: LayerChain | undefined;
    // Where the chain's units log: the step that runs them.
    let currentLog: OutputSink = () => undefined;
    await runStep(run, { name: 'LaunchBuildInstance', action: 'LaunchInstance', inputs: { parentImage: String(recipe.parentImage ?? ''), instanceType: wanted.type } }, signal, async (step) => {
      const log: OutputSink = (text, stream) => step.log(text, stream);
      start = await startMachineBuild(services, image, compiled, signal, log);
      image = start.image;
      if (wanted.driver === 'ns' && start.plan.stepCache) {
        const rootfs = start.parent.rootfs!;
        chain = buildChain(services, image, holder, {
          kind: 'machine',
          // The chain starts from the root filesystem's manifest (a disk parent's is made from its disk).
          plan: { ...start.plan, parent: { ...start.plan.parent, manifestDigest: rootfs.manifestDigest } },
          parent: start.parentImage!,
          spec: (layers) => ({ layers, resources: instanceResources(image, wanted), network: wanted.network, hostname: `build-${image.build}`, scratchRoot: services.paths.scratchRoot }),
          log: (text, stream) => currentLog(text, stream),
          signal,
        });
        log('the step cache is on (kiln:cache): each component runs on its own instance, launched only when its layer is not cached\n');
        return { stepCache: true };
      }
      built = await launchBuildInstance(services, start, holder, cleanup, signal, log);
      return { instanceId: built.instance.id };
    });
    const buildComponents = components.filter((c) => c.entry.type === 'BUILD');
    await runStep(run, { name: 'ApplyBuildComponents', action: 'ExecuteComponents', inputs: { components: components.map((c) => c.entry.arn) } }, signal, async (step) => {
      if (!chain) return runComponentPhases(services, image, built!.instance, buildComponents, BUILD_PHASES, step, signal, workingDirectory);
      currentLog = (text, stream) => step.log(text, stream);
      await componentUnits(chain, buildComponents, { env: {}, workdir: workingDirectory, user: '' }, (instance, component) =>
        runComponentPhases(services, image, instance, [component], BUILD_PHASES, step, signal, workingDirectory),
      );
      step.setMessage(chain.cached > 0 ? `cached: ${chain.cached} of ${chain.cached + chain.ran} components` : `${chain.ran} components ran`);
      return { status: 'Success', cachedComponents: chain.cachedComponents, ranComponents: chain.ranComponents };
    });
    await runStep(run, { name: 'CreateOutputImage', action: 'CreateImage' }, signal, async (step) => {
      const log = (text: string) => step.log(text);
      if (chain) {
        const base = start.parentImage!;
        log(`root filesystem: ${chain.layers.length} layers from ${chain.cached + chain.ran} components (${chain.cached} cached)\n`);
        const history = [...base.history, ...chain.history.map((e) => ({ ...e, created }))];
        output = await storeRootfsDisk(services, image, { layers: [...base.layers, ...chain.layers], history, config: base.config, created }, signal, log, chain.currentKey);
      } else output = await makeMachineOutput(services, start, built!, created, signal, log);
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
