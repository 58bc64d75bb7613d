/**
 * The DISTRIBUTION stage of an image, whatever brought it there: a build whose tests passed, RetryImage after a
 * failed distribution, or DistributeImage of an existing image. Regions are distributed one by one and each on
 * its own: a region that fails does not stop the others. What every region got is kept on the image
 * (`data.distribution`), so a retry re-runs only the regions that failed, and outputResources lists the regions
 * that succeeded even when the image ends FAILED. The stage is bounded by the distribution configuration's
 * timeoutMinutes ("the maximum duration in minutes for this distribution configuration", 30-720; AWS reports
 * 720 and lets nobody set it).
 */
import { withTimeout } from '../../domain/abort.js';
import type { CleanupStack } from '../../domain/cleanup-stack.js';
import { KilnError, errorMessage } from '../../domain/errors.js';
import type { ResourceRecord } from '../../store/store.js';
import { runWorkflow, type BuildServices } from '../container/container-build.js';
import { advance, ImageStateChanged, patchImage, stateOf, type ContainerImageRef } from './image-record.js';
import type { MachineDisk } from '../machine/machine-disk.js';
import { distributeMachineRegion, machineRegions, type MachineDistribution } from '../machine/machine-distribution.js';
import { abortKind, runStep, type RunningStep } from './step-runner.js';
import { managedWorkflowArn } from '../../domain/managed-workflows.js';

type Obj = Record<string, unknown>;

/** AWS's value for DistributionConfiguration.timeoutMinutes, and the most it allows. */
export const DISTRIBUTION_TIMEOUT_MINUTES = 720;

/** What one region got, or why it got nothing. */
export interface RegionResult {
  region: string;
  status: 'COMPLETED' | 'FAILED';
  /** Container images: the URIs pushed or tagged. */
  imageUris?: string[];
  /** Machine images: outputResources.amis entries and the exports written. */
  amis?: MachineDistribution['amis'];
  exports?: MachineDistribution['exports'];
  /** Why the region failed, naming the field at fault. */
  error?: string;
}

/** The image's distribution record (Kiln's, not on the wire): how often it ran and each region's result. */
export interface DistributionRecord {
  attempts: number;
  regions: RegionResult[];
}

export function distributionOf(image: ResourceRecord): DistributionRecord {
  const d = image.data.distribution as DistributionRecord | undefined;
  return { attempts: d?.attempts ?? 0, regions: d?.regions ?? [] };
}

/** How long the stage may take: the image's distribution configuration snapshot's timeoutMinutes, else 720. */
export function distributionTimeoutMinutes(image: ResourceRecord): number {
  const minutes = Number(((image.data.distributionConfiguration ?? {}) as Obj).timeoutMinutes);
  return Number.isFinite(minutes) && minutes > 0 ? minutes : DISTRIBUTION_TIMEOUT_MINUTES;
}

/** outputResources from the regions that completed, in region order. */
export function outputResourcesOf(type: 'AMI' | 'DOCKER', results: readonly RegionResult[]): Obj {
  const done = results.filter((r) => r.status === 'COMPLETED');
  if (type === 'DOCKER') return { containers: done.map((r) => ({ region: r.region, imageUris: r.imageUris ?? [] })) };
  return { amis: done.flatMap((r) => r.amis ?? []) };
}

interface RegionPlan {
  region: string;
  run: (log: (text: string) => void, signal: AbortSignal) => Promise<Omit<RegionResult, 'region' | 'status'>>;
}

/** The regions to distribute to and how, from what the image's build stored. */
function planRegions(services: BuildServices, image: ResourceRecord, type: 'AMI' | 'DOCKER'): RegionPlan[] {
  if (type === 'DOCKER') {
    const built = image.data.containerImage as ContainerImageRef | undefined;
    if (!built) throw new KilnError('InvalidRequest', `image ${image.arn} has no stored container image to distribute`);
    return services.distributor.regions(image).map((region) => ({
      region,
      run: async (log, signal) => ({ imageUris: await services.distributor.distributeRegion(image, built, region, log, signal) }),
    }));
  }
  const machine = services.machine;
  if (!machine) throw new KilnError('Unavailable', 'this Kiln has no machine-image support configured');
  const built = image.data.machine as { disk?: MachineDisk; rootfs?: ContainerImageRef } | undefined;
  const disk = built?.disk;
  if (!disk) throw new KilnError('InvalidRequest', `image ${image.arn} has no stored disk to distribute`);
  const deps = { store: services.store, disks: machine.disks, exportBuckets: machine.exportBuckets, ...(machine.exportUpload ? { exportUpload: machine.exportUpload, workRoot: machine.workRoot } : {}), regions: machine.regions };
  return machineRegions(image).map((target) => ({
    region: target.region,
    run: async (log, signal) => {
      const out = await distributeMachineRegion(deps, image, { disk, ...(built.rootfs ? { rootfs: built.rootfs } : {}) }, target, log, signal);
      return { amis: out.amis, exports: out.exports };
    },
  }));
}

/**
 * Runs the DISTRIBUTION workflow of an image that is DISTRIBUTING (the built-in one, or `custom`) and moves it
 * to AVAILABLE. Regions that
 * completed in an earlier attempt are kept as they are. When any region fails, the image keeps the others'
 * outputs and the error (a StepFailed naming each failed region) is left to the caller, which fails the image.
 */
/** Distributes every region of the plan as one step does; throws naming the regions that failed. */
export type RegionsDistributor = (step: RunningStep, signal: AbortSignal) => Promise<Obj>;

/** A custom DISTRIBUTION workflow (builder/workflows/) run in place of the built-in one; its distribution step calls `distribute`. */
export type DistributionOverride = (image: ResourceRecord, distribute: RegionsDistributor, signal: AbortSignal) => Promise<void>;

export async function distributeImage(services: BuildServices, initial: ResourceRecord, signal: AbortSignal, cleanup: CleanupStack, custom?: DistributionOverride): Promise<void> {
  const { store } = services;
  if (stateOf(initial).status !== 'DISTRIBUTING') throw new ImageStateChanged(stateOf(initial));
  const type = initial.data.type === 'AMI' ? 'AMI' : 'DOCKER';
  const previous = distributionOf(initial);
  const plan = planRegions(services, initial, type);
  const minutes = distributionTimeoutMinutes(initial);
  const stage = withTimeout(signal, minutes * 60_000);
  const stageSignal = stage.signal;
  const stepName = type === 'AMI' ? 'DistributeImage' : 'DistributeContainerImage';
  let image = initial;
  const results: RegionResult[] = [];
  const distribute: RegionsDistributor = async (step, stepSignal) => {
    // A second distribution step of a custom workflow distributes again from the same start.
    results.length = 0;
    for (const target of plan) {
      const done = previous.regions.find((r) => r.region === target.region && r.status === 'COMPLETED');
      if (done) {
        step.log(`${target.region}: distributed by an earlier attempt, kept\n`);
        results.push(done);
        continue;
      }
      const t0 = Date.now();
      try {
        if (stepSignal.aborted) throw new KilnError('Cancelled', 'not started');
        const out = await target.run((text) => step.log(`${target.region}: ${text}`), stepSignal);
        results.push({ region: target.region, status: 'COMPLETED', ...out });
        step.log(`${target.region}: COMPLETED in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      } catch (err) {
        const kind = abortKind(stepSignal);
        if (kind === 'cancelled') throw err;
        const error = kind === 'timeout' ? `the distribution ran out of time (timeoutMinutes ${minutes} of the distribution configuration): ${errorMessage(err)}` : errorMessage(err);
        step.log(`${target.region}: FAILED: ${error}\n`);
        results.push({ region: target.region, status: 'FAILED', error });
      }
    }
    image = await patchImage(store, image.arn, { distribution: { attempts: previous.attempts + 1, regions: results }, outputResources: outputResourcesOf(type, results), ...exportsPatch(results) });
    const failed = results.filter((r) => r.status === 'FAILED');
    if (failed.length > 0) {
      throw new KilnError('Internal', `distribution failed in ${failed.length} of ${results.length} regions: ${failed.map((f) => `region ${f.region}: ${f.error}`).join('; ')}`);
    }
    return { succeededRegions: results.map((r) => r.region), failedRegions: [] };
  };
  try {
    if (custom) await custom(image, distribute, stageSignal);
    else {
      await runWorkflow(services, image, 'DISTRIBUTION', 1, stageSignal, cleanup, async (wf) => {
        await runStep(wf, { name: stepName, action: stepName, inputs: { regions: plan.map((p) => p.region), attempt: previous.attempts + 1 } }, stageSignal, (step) => distribute(step, stageSignal));
      }, managedWorkflowArn(image.region, type === 'AMI' ? 'image' : 'container', 'DISTRIBUTION'));
    }
  } finally {
    stage.clear();
  }
  await advance(store, image.arn, 'AVAILABLE');
}

function exportsPatch(results: readonly RegionResult[]): Obj {
  const exports = results.flatMap((r) => (r.status === 'COMPLETED' ? (r.exports ?? []) : []));
  return exports.length > 0 ? { exports } : {};
}
