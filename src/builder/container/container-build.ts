/**
 * One container image build executing its compiled plan (compile-build-plan.ts), AWS's stages in order: BUILD
 * (materialize the parent, launch an instance from it, run the rendered Dockerfile with the components in it,
 * snapshot the changes into a layer, terminate), TEST (a new instance from the output image runs every
 * component's `test` phase), then DISTRIBUTING, where distribution-stage.ts takes over. Every instance is
 * registered on the build's cleanup stack as it launches and released on every path, unless the infrastructure
 * configuration keeps a failed one for debugging.
 */
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { BlobStore } from '../../artifacts/blob-store.js';
import { writeImage, MEDIA_TYPE_MANIFEST } from '../../artifacts/oci/image.js';
import { writeLayer, type LayerDescriptor } from '../../artifacts/oci/layer.js';
import type { LayerCache } from '../../artifacts/oci/unpack.js';
import type { CleanupStack, Deferred } from '../../domain/cleanup-stack.js';
import { errorMessage, KilnError } from '../../domain/errors.js';
import { snapshotDirOf, type DriverInstance, type InstanceDriver, type LaunchSpec } from '../../drivers/driver.js';
import { containerInstance, instanceResources } from '../stages/instance-request.js';
import type { ResourceRecord, Store } from '../../store/store.js';
import type { ModuleRegistry } from '../../toe/document/validate.js';
import { runDocuments } from '../../toe/runner/run.js';
import type { Instance } from '../../toe/instance/instance.js';
import { executeDockerfile, type ImageConfig } from '../dockerfile/dockerfile-exec.js';
import { renderDockerfileTemplate } from '../dockerfile/dockerfile-render.js';
import type { ExecutionRecorder, StepRun, WorkflowRun } from '../records/execution-records.js';
import { withExecEnv } from '../stages/instance-env.js';
import { materializeContainerParent, type ContainerParent, type ParentSource, type PlannedComponent } from '../stages/build-plan.js';
import { inventoryOfLayers } from '../stages/image-inventory.js';
import { listedPackages } from '../../domain/package-inventory.js';
import { advance, patchImage, recipeOf, type BuildPlan, type ContainerImageRef } from '../stages/image-record.js';
import { planLine, type CompiledPlan } from '../compile-build-plan.js';
import type { KeepableInstance, KeptInstances } from '../stages/kept-instances.js';
import type { MachineServices } from '../machine/machine-services.js';
import { loadParentImage, snapshotHistory, type ParentImage } from '../stages/parent-image.js';
import { abortKind, runStep } from '../stages/step-runner.js';
import { runScanStep, scanningEnabled, setScanState, type VulnerabilitySource } from '../stages/image-scan.js';
import { LayerChain } from '../cache/layer-chain.js';
import { chainBase } from '../cache/step-cache-keys.js';
import { componentUnits, dockerfileUnits } from '../cache/build-units.js';
import type { OutputSink } from '../../logs/line-assembler.js';
import type { HistoryEntry } from '../../artifacts/oci/image.js';
import { managedWorkflowArn } from '../../domain/managed-workflows.js';

type Obj = Record<string, unknown>;

/** How much of a failed run's output an image's failure reason carries. */
const TAIL_LINES = 15;
const TAIL_CHARS = 4000;

/** Pushes a built image where the recipe and the distribution configuration say, one region at a time. */
export interface ContainerDistributor {
  /** The regions the image goes to, in order. */
  regions(image: ResourceRecord): string[];
  /** Pushes or tags the image for one region; returns its image URIs. Throws naming the field at fault. */
  distributeRegion(image: ResourceRecord, built: ContainerImageRef, region: string, log: (text: string) => void, signal: AbortSignal): Promise<string[]>;
}

/** Everything a build uses; the worker owns these and shares them between builds. */
export interface BuildServices {
  store: Store;
  blobs: BlobStore;
  layers: LayerCache;
  driver: InstanceDriver;
  parents: ParentSource;
  recorder: ExecutionRecorder;
  distributor: ContainerDistributor;
  kept: KeptInstances;
  modules: ModuleRegistry;
  /** How new layers are compressed. */
  layerCompression: 'gzip' | 'zstd';
  /** Instance scratch folders (overlay upper layers) and the TOE log folders of builds. */
  paths: { scratchRoot: string; logsRoot: string };
  /** Machine-image builds; without it image recipes fail with Unavailable. */
  machine?: MachineServices;
  /** The vulnerability feeds scans match against; without it a scan says no feed is configured. */
  vulnerabilities?: VulnerabilitySource;
}

/**
 * AWS collects scan findings in the test workflow: with tests disabled an image with scanning enabled is not
 * scanned, and its scanState says why.
 */
export async function abandonScanWithoutTests(store: Store, image: ResourceRecord): Promise<void> {
  if (scanningEnabled(image)) await setScanState(store, image, 'ABANDONED', 'image tests are disabled: scan findings are collected by the test workflow');
}

/** Filesystem-safe id of an image build: name_version_build. */
export function imageFolder(image: ResourceRecord): string {
  return `${image.name}_${image.version}_${image.build}`;
}

/** The launch of a container build's instance: ns types only. */
export function launchSpecFor(image: ResourceRecord, layers: string[], scratchRoot: string, role: 'build' | 'test'): LaunchSpec {
  const wanted = containerInstance(image);
  return { layers, resources: instanceResources(image, wanted), network: wanted.network, hostname: `${role}-${image.build}`, scratchRoot };
}

export function terminateOnFailure(image: ResourceRecord): boolean {
  return ((image.data.infrastructureConfiguration ?? {}) as Obj).terminateInstanceOnFailure !== false;
}

export function testsEnabled(image: ResourceRecord): boolean {
  return ((image.data.imageTestsConfiguration ?? {}) as Obj).imageTestsEnabled !== false;
}

export function testTimeoutMs(image: ResourceRecord): number {
  // AWS's default and maximum for the test stage.
  const minutes = Number(((image.data.imageTestsConfiguration ?? {}) as Obj).timeoutMinutes ?? 720);
  return (Number.isFinite(minutes) && minutes > 0 ? minutes : 720) * 60_000;
}

/** Runs the given phases of the components in one AWSTOE run on the instance; throws with AWSTOE's failure message. */
export async function runComponentPhases(services: BuildServices, image: ResourceRecord, instance: Instance, components: PlannedComponent[], phases: string[], step: StepRun, signal: AbortSignal, workingDirectory: string): Promise<Obj> {
  if (components.length === 0) {
    step.log('no components to run\n');
    return { status: 'Success' };
  }
  const logDirectory = path.join(services.paths.logsRoot, imageFolder(image), 'toe');
  let tail = '';
  await mkdir(logDirectory, { recursive: true });
  await instance.fs.mkdir(workingDirectory, { recursive: true });
  const result = await runDocuments({
    documents: components.map((c) => ({ path: c.entry.arn, text: c.document, parameters: c.entry.parameters })),
    phases,
    workingDirectory,
    logDirectory,
    instance,
    modules: services.modules,
    signal,
    onOutput: (text, stream) => {
      step.log(text, stream);
      tail = (tail + text).slice(-TAIL_CHARS);
    },
  });
  const { summary } = result;
  if (summary.status === 'Failed' || summary.status === 'Cancelled') {
    const lines = tail.trimEnd().split('\n').slice(-TAIL_LINES).join('\n');
    throw new KilnError(summary.status === 'Cancelled' ? 'Cancelled' : 'Internal', `AWSTOE ${summary.status}: ${summary.failureMessage || 'a step failed'} (log folder ${result.logFolder})${lines ? `\nLast output:\n${lines}` : ''}`);
  }
  return { runCommandId: summary.executionId, status: summary.status, logFolder: result.logFolder };
}

/**
 * The instance of one workflow: registered on the build's cleanup stack the moment it launches, released at the
 * end of its stage, or handed to the kept instances after a failure when the configuration asks.
 */
export class InstanceHolder {
  private current: { instance: KeepableInstance; deferred: Deferred } | undefined;

  constructor(
    private readonly services: Pick<BuildServices, 'driver' | 'kept'>,
    private readonly image: ResourceRecord,
    private readonly cleanup: CleanupStack,
  ) {}

  /** Launches on `driver` (the build's own by default) and holds the instance. */
  async launch<T extends DriverInstance = DriverInstance>(spec: LaunchSpec, signal: AbortSignal, driver?: { launch(spec: LaunchSpec, signal?: AbortSignal): Promise<T> }): Promise<T> {
    const instance = driver ? await driver.launch(spec, signal) : ((await this.services.driver.launch(spec, signal)) as T);
    this.current = { instance, deferred: this.cleanup.defer(`instance ${instance.id}`, () => instance.dispose()) };
    return instance;
  }

  /** Releases the current instance (a no-op when none); a failed release is logged as a leak and thrown. */
  async terminate(): Promise<void> {
    const held = this.current;
    this.current = undefined;
    await held?.deferred.release();
  }

  /** After a failure: keeps the instance for `kiln instances shell` when the configuration says so; else terminates. */
  async afterFailure(cancelled: boolean, stage: string): Promise<string | undefined> {
    const held = this.current;
    if (!held) return undefined;
    if (cancelled || terminateOnFailure(this.image)) {
      await this.terminate();
      return undefined;
    }
    this.current = undefined;
    held.deferred.dismiss();
    this.services.kept.add({ instance: held.instance, imageArn: this.image.arn, stage });
    return held.instance.id;
  }
}

/**
 * The units of one build with the step cache on (ADR 0013): each unit's instance is launched with `spec` through
 * the stage's holder, so a failed unit's instance is kept or released like any build instance.
 */
export function buildChain(
  services: BuildServices,
  image: ResourceRecord,
  holder: InstanceHolder,
  options: { kind: 'container' | 'machine'; plan: BuildPlan; parent: ParentImage; spec: (layers: string[]) => LaunchSpec; log: OutputSink; signal: AbortSignal },
): LayerChain {
  return new LayerChain({
    cache: services.store,
    blobs: services.blobs,
    layers: services.layers,
    compression: services.layerCompression,
    accountId: image.accountId,
    parent: options.parent,
    base: chainBase({ accountId: image.accountId, kind: options.kind, plan: options.plan }),
    launch: (layers, signal) => holder.launch(options.spec(layers), signal),
    terminate: () => holder.terminate(),
    log: options.log,
    signal: options.signal,
  });
}

/**
 * Runs one stage's workflow; on failure the workflow is closed and the instance released (or kept). What the
 * stage acquires goes on `cleanup`, the build's stack. `workflowArn` defaults to the container workflows.
 */
export async function runWorkflow(
  services: BuildServices,
  image: ResourceRecord,
  stage: 'BUILD' | 'TEST' | 'DISTRIBUTION',
  steps: number,
  signal: AbortSignal,
  cleanup: CleanupStack,
  body: (wf: WorkflowRun, holder: InstanceHolder) => Promise<void>,
  workflowArn = managedWorkflowArn(image.region, 'container', stage),
): Promise<void> {
  const wf = await services.recorder.startWorkflow({ image, type: stage, workflowBuildVersionArn: workflowArn, totalStepCount: steps });
  const holder = new InstanceHolder(services, image, cleanup);
  try {
    await body(wf, holder);
    await wf.finish('COMPLETED');
  } catch (err) {
    const cancelled = abortKind(signal) === 'cancelled';
    // A release that fails leaks what the instance held: the step record says so rather than claiming a release.
    let kept: string | undefined;
    let leaked: string | undefined;
    try {
      kept = await holder.afterFailure(cancelled, stage);
    } catch (cleanup) {
      leaked = errorMessage(cleanup);
    }
    const terminate = stage === 'BUILD' ? 'TerminateBuildInstance' : 'TerminateTestInstance';
    if (stage !== 'DISTRIBUTION') {
      const message = kept
        ? `instance ${kept} kept (terminateInstanceOnFailure is false): kiln instances shell ${kept}`
        : leaked
          ? `${leaked} (the next start of Kiln sweeps what it left)`
          : 'the instance was released when the workflow stopped';
      await wf.skipStep({ name: terminate, action: 'TerminateInstance', message });
    }
    await wf.finish(cancelled ? 'CANCELLED' : 'FAILED', err instanceof Error ? err.message : String(err));
    throw err;
  }
}

/** A container build's parent, materialized and pinned into the image's plan (state BUILDING). */
export interface MaterializedParent {
  image: ResourceRecord;
  plan: BuildPlan;
  parentImage: ParentImage;
  manifestDigest: string;
}

/**
 * Makes the compiled parent present (pull, managed bootstrap), pins it into the plan and moves the image to
 * BUILDING: what a build's LaunchInstance does before any instance exists.
 */
export async function materializeBuildParent(services: BuildServices, image: ResourceRecord, compiled: CompiledPlan<ContainerParent>, signal: AbortSignal, log: OutputSink): Promise<MaterializedParent> {
  const parent = await materializeContainerParent(compiled.plan, compiled.parent, services.parents, image.accountId, signal, log);
  log(planLine(parent.plan));
  const building = await advance(services.store, image.arn, 'BUILDING', { patch: { buildPlan: parent.plan } });
  const parentImage = await loadParentImage(services.blobs, parent.image.manifestDigest);
  return { image: building, plan: parent.plan, parentImage, manifestDigest: parent.image.manifestDigest };
}

/** What running the recipe's Dockerfile produced: the image config and the history of its instructions. */
export interface DockerfileResult {
  config: ImageConfig;
  history: { created_by: string; comment: string; empty_layer?: boolean }[];
}

/** Runs the recipe's rendered Dockerfile, with its build components in it, on one instance (no step cache). */
export async function runRecipeDockerfile(services: BuildServices, image: ResourceRecord, input: { instance: Instance; plan: BuildPlan; parentImage: ParentImage; components: PlannedComponent[]; workingDirectory: string; step: StepRun; signal: AbortSignal }): Promise<DockerfileResult> {
  const { instance, plan, step, signal } = input;
  const { dockerfile } = renderDockerfileTemplate({ template: String(recipeOf(image).dockerfileTemplateData ?? ''), parentImage: plan.parent.resolved });
  const buildComponents = input.components.filter((c) => c.entry.type === 'BUILD');
  const result = await executeDockerfile({
    instance,
    dockerfile,
    parentConfig: input.parentImage.config,
    parentImage: plan.parent.resolved,
    onOutput: (text, stream) => step.log(text, stream),
    signal,
    runComponents: async (env, workdir) => {
      await runComponentPhases(services, image, withExecEnv(instance, env), buildComponents, ['build', 'validate'], step, signal, workdir && workdir !== '/' ? workdir : input.workingDirectory);
    },
  });
  return { config: result.config, history: result.history };
}

/** Stores an instance's changes over its parent as one layer and writes the output image; answers its reference. */
export async function snapshotContainerImage(services: BuildServices, instance: DriverInstance, input: { parentImage: ParentImage; dockerfile: DockerfileResult; created: string; step: StepRun; signal: AbortSignal }): Promise<ContainerImageRef> {
  const { parentImage, step } = input;
  const config = input.dockerfile.config as Obj;
  const layer = await writeLayer(services.blobs, snapshotDirOf(instance), { source: 'overlay-upper', sourceDateEpoch: parentImage.sourceDateEpoch, compression: services.layerCompression, signal: input.signal, unpackInto: services.layers });
  step.log(`layer ${layer.digest} (${layer.size} bytes, ${layer.uncompressedSize} uncompressed)\n`);
  const stored = await writeImage(services.blobs, {
    layers: [...parentImage.layers, layer],
    config: { ...config, Entrypoint: (config.Entrypoint as string[] | null | undefined) ?? undefined, Cmd: (config.Cmd as string[] | null | undefined) ?? undefined } as never,
    history: [...parentImage.history, ...snapshotHistory(input.dockerfile.history, input.created)],
    created: input.created,
  });
  step.log(`image ${stored.manifestDigest}\n`);
  return { manifestDigest: stored.manifestDigest, mediaType: MEDIA_TYPE_MANIFEST, configDigest: stored.configDigest };
}

/** Where a container build's workflows run and when its output is stamped. */
export interface ContainerStageContext {
  workingDirectory: string;
  created: string;
}

/** Custom workflows (builder/workflows/) that replace a container build's built-in BUILD or TEST workflow. */
export interface ContainerStageOverrides {
  /** Runs the BUILD stage; answers the output image. */
  build?: (image: ResourceRecord, context: ContainerStageContext, signal: AbortSignal) => Promise<ContainerImageRef>;
  /** Runs the TEST stage on the output image (state TESTING). */
  test?: (image: ResourceRecord, output: ContainerImageRef, context: ContainerStageContext, signal: AbortSignal) => Promise<void>;
}

/**
 * Executes the compiled plan of one container image (state CREATING): builds and tests it, leaving it
 * DISTRIBUTING with its output stored; the caller distributes it, handles the outcome's state and unwinds
 * `cleanup`. A stage in `custom` runs instead of its built-in workflow.
 */
export async function buildContainerImage(services: BuildServices, initial: ResourceRecord, compiled: CompiledPlan<ContainerParent>, signal: AbortSignal, cleanup: CleanupStack, custom: ContainerStageOverrides = {}): Promise<void> {
  const { store } = services;
  let image = initial;
  const recipe = recipeOf(image);
  const { components } = compiled;
  const workingDirectory = compiled.plan.recipe?.workingDirectory ?? '/tmp';
  const created = new Date().toISOString();
  let built: ContainerImageRef | undefined;

  if (custom.build) built = await custom.build(image, { workingDirectory, created }, signal);
  else await runWorkflow(services, image, 'BUILD', 4, signal, cleanup, async (wf, holder) => {
    // Materializing the parent is part of the launch: pulling or bootstrapping it is what takes time, and its
    // output belongs in the step's log. It pins the parent's digest into the plan before any instance launches.
    let buildInstance: DriverInstance | undefined;
    let plan!: BuildPlan;
    let parentImage!: ParentImage;
    let chain: LayerChain | undefined;
    await runStep(wf, { name: 'LaunchBuildInstance', action: 'LaunchInstance', inputs: { parentImage: String(recipe.parentImage ?? '') } }, signal, async (step) => {
      const parent = await materializeBuildParent(services, image, compiled, signal, (text, stream) => step.log(text, stream));
      ({ plan, parentImage, image } = parent);
      if (plan.stepCache) {
        // Each unit launches its own instance over the layers before it, and only when it is not cached.
        chain = buildChain(services, image, holder, {
          kind: 'container',
          plan,
          parent: parentImage,
          spec: (layers) => launchSpecFor(image, layers, services.paths.scratchRoot, 'build'),
          log: (text, stream) => currentLog(text, stream),
          signal,
        });
        step.log('the step cache is on (kiln:cache): each build unit runs on its own instance, launched only when its layer is not cached\n');
        return { stepCache: true };
      }
      const layers = await services.layers.imageLayers(parent.manifestDigest, signal);
      const spec = launchSpecFor(image, layers, services.paths.scratchRoot, 'build');
      buildInstance = await holder.launch(spec, signal);
      step.log(`launched ${buildInstance.id} (${spec.layers.length} layers, network ${spec.network}, ${spec.resources.vcpus} vCPU, ${spec.resources.memoryMiB} MiB)\n`);
      return { instanceId: buildInstance.id };
    });
    let dockerConfig: ImageConfig = parentImage.config;
    let dockerHistory: { created_by: string; comment: string; empty_layer?: boolean }[] = [];
    // Where the chain's units log: the step that runs them.
    let currentLog: OutputSink = () => undefined;
    await runStep(wf, { name: 'ApplyBuildComponents', action: 'ExecuteComponents', inputs: { components: plan.components.map((c) => c.arn) } }, signal, async (step) => {
      currentLog = (text, stream) => step.log(text, stream);
      if (!chain) {
        ({ config: dockerConfig, history: dockerHistory } = await runRecipeDockerfile(services, image, { instance: buildInstance!, plan, parentImage, components, workingDirectory, step, signal }));
        return { status: 'Success' };
      }
      const { dockerfile } = renderDockerfileTemplate({ template: String(recipe.dockerfileTemplateData ?? ''), parentImage: plan.parent.resolved });
      const buildComponents = components.filter((c) => c.entry.type === 'BUILD');
      const units = chain;
      const result = await executeDockerfile({
        units: dockerfileUnits(units),
        dockerfile,
        parentConfig: parentImage.config,
        parentImage: plan.parent.resolved,
        onOutput: (text, stream) => step.log(text, stream),
        signal,
        runComponents: (env, workdir, info) => {
          const dir = workdir && workdir !== '/' ? workdir : workingDirectory;
          return componentUnits(units, buildComponents, { env, workdir: dir, user: info.user }, (instance, component) =>
            runComponentPhases(services, image, withExecEnv(instance, env), [component], ['build', 'validate'], step, signal, dir),
          );
        },
      });
      dockerConfig = result.config;
      dockerHistory = result.history;
      step.setMessage(units.cached > 0 ? `cached: ${units.cached} of ${units.cached + units.ran} build units` : `${units.ran} build units ran`);
      return { status: 'Success', cachedComponents: units.cachedComponents, ranComponents: units.ranComponents, cachedUnits: units.cached, ranUnits: units.ran };
    });
    await runStep(wf, { name: 'CreateOutputImage', action: 'CreateImage' }, signal, async (step) => {
      if (!chain) {
        built = await snapshotContainerImage(services, buildInstance!, { parentImage, dockerfile: { config: dockerConfig, history: dockerHistory }, created, step, signal });
        return { imageDigest: built.manifestDigest };
      }
      const config = dockerConfig as Obj;
      // One layer per unit, as Docker keeps one per RUN: reusing them is what the cache is for (ADR 0013).
      const layers: LayerDescriptor[] = [...parentImage.layers, ...chain.layers];
      const history: HistoryEntry[] = [...parentImage.history, ...dockerHistory.map((e) => ({ ...e, created }))];
      step.log(`${chain.layers.length} layers from ${chain.cached + chain.ran} build units (${chain.cached} cached)\n`);
      const stored = await writeImage(services.blobs, {
        layers,
        config: { ...config, Entrypoint: (config.Entrypoint as string[] | null | undefined) ?? undefined, Cmd: (config.Cmd as string[] | null | undefined) ?? undefined } as never,
        history,
        created,
      });
      built = { manifestDigest: stored.manifestDigest, mediaType: MEDIA_TYPE_MANIFEST, configDigest: stored.configDigest };
      step.log(`image ${stored.manifestDigest}\n`);
      return { imageDigest: stored.manifestDigest };
    });
    await runStep(wf, { name: 'TerminateBuildInstance', action: 'TerminateInstance' }, signal, async () => {
      await holder.terminate();
      return {};
    });
  });
  if (!built) throw new KilnError('Internal', 'the build workflow ended without an image');
  const output = built;
  const inventory = await inventoryOfLayers(await services.layers.imageLayers(output.manifestDigest, signal));
  image = await patchImage(store, image.arn, { containerImage: output, inventory, packages: listedPackages(inventory) });

  if (testsEnabled(image)) {
    image = await advance(store, image.arn, 'TESTING');
    const testSignal = AbortSignal.any([signal, AbortSignal.timeout(testTimeoutMs(image))]);
    if (custom.test) await custom.test(image, output, { workingDirectory, created }, testSignal);
    else await runWorkflow(services, image, 'TEST', scanningEnabled(image) ? 4 : 3, testSignal, cleanup, async (wf, holder) => {
      const layers = await services.layers.imageLayers(output.manifestDigest, testSignal);
      let testInstance: DriverInstance | undefined;
      await runStep(wf, { name: 'LaunchTestInstance', action: 'LaunchInstance', inputs: { image: output.manifestDigest } }, testSignal, async (step) => {
        testInstance = await holder.launch(launchSpecFor(image, layers, services.paths.scratchRoot, 'test'), testSignal);
        step.log(`launched ${testInstance.id} from the output image\n`);
        return { instanceId: testInstance.id };
      });
      if (scanningEnabled(image)) await runScanStep(wf, store, services.vulnerabilities, image, testSignal);
      await runStep(wf, { name: 'ApplyTestComponents', action: 'ExecuteComponents' }, testSignal, (step) => runComponentPhases(services, image, testInstance!, components, ['test'], step, testSignal, workingDirectory));
      await runStep(wf, { name: 'TerminateTestInstance', action: 'TerminateInstance' }, testSignal, async () => {
        await holder.terminate();
        return {};
      });
    });
  } else await abandonScanWithoutTests(store, image);

  // The stored image is what distribution (now, or on RetryImage) pushes.
  await advance(store, image.arn, 'DISTRIBUTING', { patch: { distribution: { attempts: 0, regions: [] } } });
}
