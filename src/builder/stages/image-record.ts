/**
 * The build engine's view of an image record: the fields it reads and the updates it makes, each one atomic
 * through Store.updateResource and checked against the image state machine, so that a cancel that landed
 * meanwhile is never overwritten.
 */
import { KilnError } from '../../domain/errors.js';
import { canTransition, transition, type ImageState, type ImageStatus } from '../../domain/image-state.js';
import type { ResourceRecord, ResourceStore } from '../../store/store.js';

type Obj = Record<string, unknown>;

/** Where a built container image lives in the blob store. */
export interface ContainerImageRef {
  manifestDigest: string;
  mediaType: string;
  configDigest: string;
}

/**
 * The concrete inputs of one build, recorded on the image (`data.buildPlan`) before its BUILD workflow starts
 * (AWS's build plan): compiled from store reads by compileBuildPlan, then executed by the stages, which look
 * nothing up again. A step cache and remote workers key on it (planKey). Fields marked optional are absent on
 * plans stored before they existed; a plan compiled now has them all.
 */
export interface BuildPlan {
  /** The layout of this record; a change of meaning bumps it, so that keys of older plans never match. */
  planVersion?: 1;
  /**
   * The parent as requested and as resolved. `manifestDigest` (for machine parents: the root filesystem's
   * manifest, or the disk's digest when there is none) is '' until the parent is materialized: a registry tag
   * is pulled, or a managed base bootstrapped, before any instance launches, and the plan is stored again.
   */
  parent: { requested: string; resolved: string; manifestDigest: string; source: 'image' | 'registry' | 'managed' };
  /** In recipe order; `sha256` is the document's, `parameters` the values AWSTOE gets. */
  components: { requested: string; arn: string; type: 'BUILD' | 'TEST'; sha256: string; parameters: Record<string, string> }[];
  /** The recipe the image was created with and the inputs the build takes from it. */
  recipe?: { arn: string; workingDirectory: string; dockerfileTemplateSha256?: string };
  /** The image's platform (Linux). */
  platform?: string;
  /** The instance type the build and test stages launch, resolved (ns.small, vm.medium). */
  instanceType?: string;
  /** The step cache is on (the recipe's or pipeline's tag `kiln:cache` is `true`; ADR 0013). */
  stepCache?: true;
}

export function stateOf(record: ResourceRecord): ImageState {
  return record.data.state as ImageState;
}

/** The recipe snapshot an image was created with (container or image recipe). */
export function recipeOf(record: ResourceRecord): Obj {
  const recipe = (record.data.containerRecipe ?? record.data.imageRecipe) as Obj | undefined;
  if (!recipe) throw new KilnError('Internal', `image ${record.arn} has no recipe snapshot`);
  return recipe;
}

/**
 * The root volume size a recipe asks for, in GiB: the root mapping's `ebs.volumeSize` in `blockDeviceMappings`
 * (image recipes) or `instanceConfiguration.blockDeviceMappings` (container recipes); undefined when none.
 */
export function rootVolumeGiB(record: ResourceRecord): number | undefined {
  const recipe = recipeOf(record);
  const instance = recipe.instanceConfiguration as Obj | undefined;
  const mappings = (recipe.blockDeviceMappings ?? instance?.blockDeviceMappings ?? []) as Obj[];
  const root = mappings.find((m) => ['/dev/xvda', '/dev/sda1', '/dev/sda', '/dev/vda', '/dev/nvme0n1'].includes(String(m.deviceName))) ?? mappings.find((m) => (m.ebs as Obj | undefined)?.volumeSize !== undefined);
  const size = Number((root?.ebs as Obj | undefined)?.volumeSize);
  return Number.isInteger(size) && size > 0 ? size : undefined;
}

/** Thrown when the image left the states a step expects (it was cancelled, most often). */
export class ImageStateChanged extends Error {
  override readonly name = 'ImageStateChanged';
  constructor(readonly current: ImageState) {
    super(`the image is ${current.status}`);
  }
}

/**
 * Moves the image to `to` (with a reason for FAILED/CANCELLED) and merges `patch` into its data, atomically.
 * Throws ImageStateChanged when the stored state may not move there (a CancelImageCreation won the race).
 */
export async function advance(store: ResourceStore, arn: string, to: ImageStatus, options: { reason?: string; patch?: Obj } = {}): Promise<ResourceRecord> {
  let refused: ImageState | undefined;
  const record = await store.updateResource(arn, (current) => {
    const state = stateOf(current);
    if (state.status === to && options.patch === undefined) return current.data;
    if (state.status !== to && !canTransition(state.status, to)) {
      refused = state;
      return current.data;
    }
    const next = state.status === to ? state : transition(state, to, options.reason);
    return { ...current.data, ...options.patch, state: next };
  });
  if (refused) throw new ImageStateChanged(refused);
  return record;
}

/** Merges fields into the image's data without touching its state. */
export async function patchImage(store: ResourceStore, arn: string, patch: Obj): Promise<ResourceRecord> {
  return store.updateResource(arn, (current) => ({ ...current.data, ...patch, state: current.data.state }));
}
