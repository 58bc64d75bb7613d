/**
 * Plan, then execute: before an image's BUILD workflow starts, every reference of its build is resolved from
 * store reads (components to concrete builds and document hashes, the parent to a concrete build or reference,
 * the recipe's inputs, the platform and instance type) and the plan is stored on the image. The stages execute
 * the compiled plan and look nothing up again; a problem with a reference fails the image, naming the field,
 * before any instance launches. ADR 0007 says why materializing a parent is left to execution.
 */
import type { ResourceRecord, Store } from '../store/store.js';
import { containerInstance, requestedInstance } from './stages/instance-request.js';
import { compileMachineParent, type MachineParent } from './machine/machine-parent.js';
import { compileComponents, compileContainerParent, sha256Hex, type ContainerParent, type PlannedComponent } from './stages/build-plan.js';
import { patchImage, recipeOf, type BuildPlan } from './stages/image-record.js';

/** A compiled build: the plan as stored, the component documents it runs, and the parent to materialize. */
export interface CompiledPlan<P> {
  plan: BuildPlan;
  components: PlannedComponent[];
  parent: P;
}

/** A container recipe's build or an image recipe's (machine) build. */
export type CompiledBuild = { kind: 'container'; compiled: CompiledPlan<ContainerParent> } | { kind: 'machine'; compiled: CompiledPlan<MachineParent> };

/** The working directory components run in: the recipe's, or /tmp as AWS's default. */
export function workingDirectoryOf(image: ResourceRecord): string {
  const recipe = recipeOf(image);
  return typeof recipe.workingDirectory === 'string' && recipe.workingDirectory !== '' ? recipe.workingDirectory : '/tmp';
}

/**
 * Compiles the build of `image` from store reads and stores the plan on it (`data.buildPlan`). Throws
 * InvalidArgument naming the field (`components[1].componentArn`, `parentImage`, `instanceTypes[0]`) when a
 * reference does not resolve.
 */
export async function compileBuildPlan(store: Store, image: ResourceRecord): Promise<CompiledBuild> {
  const recipe = recipeOf(image);
  const stepCache = await stepCacheWanted(store, image);
  const components = await compileComponents(store, image);
  // A container build refuses a vm.* type here, before its parent is pulled, rather than at the launch.
  const instance = image.data.type === 'AMI' ? requestedInstance(image) : containerInstance(image);
  const template = typeof recipe.dockerfileTemplateData === 'string' ? recipe.dockerfileTemplateData : undefined;
  const base = (parent: BuildPlan['parent']): BuildPlan => ({
    planVersion: 1,
    parent,
    components: components.map((c) => c.entry),
    recipe: { arn: String(recipe.arn ?? ''), workingDirectory: workingDirectoryOf(image), ...(template === undefined ? {} : { dockerfileTemplateSha256: sha256Hex(template) }) },
    platform: String(image.data.platform ?? 'Linux'),
    instanceType: instance.type,
    ...(stepCache ? { stepCache: true as const } : {}),
  });
  let build: CompiledBuild;
  if (image.data.type === 'AMI') {
    const parent = await compileMachineParent(store, image);
    build = { kind: 'machine', compiled: { plan: base(parent.plan), components, parent } };
  } else {
    const { plan, parent } = await compileContainerParent(store, image);
    build = { kind: 'container', compiled: { plan: base(plan), components, parent } };
  }
  await patchImage(store, image.arn, { buildPlan: build.compiled.plan });
  return build;
}

/** The tag that turns the step cache on for a recipe or a pipeline (ADR 0013). */
export const STEP_CACHE_TAG = 'kiln:cache';

function tagSaysCache(tags: unknown): boolean | undefined {
  const value = typeof tags === 'object' && tags !== null ? (tags as Record<string, unknown>)[STEP_CACHE_TAG] : undefined;
  return typeof value === 'string' ? value.trim().toLowerCase() === 'true' : undefined;
}

/**
 * Whether the build uses the step cache: the pipeline's tag when the image is a pipeline run and the pipeline
 * has the tag, else the recipe's; off when neither says `true`, as EC2 Image Builder runs every component afresh.
 */
async function stepCacheWanted(store: Store, image: ResourceRecord): Promise<boolean> {
  const pipelineArn = image.data.sourcePipelineArn;
  if (typeof pipelineArn === 'string') {
    const pipeline = await store.getResource(pipelineArn);
    const said = tagSaysCache(pipeline?.data.tags);
    if (said !== undefined) return said;
  }
  return tagSaysCache(recipeOf(image).tags) ?? false;
}

/** The line a build logs its plan with (tests and people look for it in the LaunchBuildInstance log). */
export function planLine(plan: BuildPlan): string {
  return `build plan: parent ${plan.parent.resolved} (${plan.parent.manifestDigest}); ${plan.components.map((c) => c.arn).join(', ') || 'no components'}\n`;
}
