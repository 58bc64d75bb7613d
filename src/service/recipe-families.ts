import { checkDockerfileTemplate } from '../builder/dockerfile/dockerfile-parse.js';
import { KilnError, type Issue } from '../domain/errors.js';
import type { VersionedFamily } from '../resources/family.js';
import type { TypedRecord } from '../resources/typed-record.js';
import type { Store } from '../store/store.js';
import type { ParentKind } from './parent-check.js';
import { amiParentProblem, containerParentProblem, instanceImageProblem, platformOfParent } from './parent-image.js';
import { checkAdditionalInstanceConfiguration, checkBlockDeviceMappings, checkCommon, checkTags } from './recipe-input.js';
import { str, type JsonObject } from '../domain/json.js';

/**
 * A recipe as stored: Create's input as the caller sent it (less clientToken and semanticVersion), with the
 * platform it resolved to and its creation date.
 */
export type RecipeData = JsonObject & { name: string; platform: string; parentImage?: string; dateCreated: string; tags?: Record<string, string> };

/** A recipe family: its descriptor for src/resources/, and the Create rules that differ between image and container recipes. */
export interface RecipeFamily {
  family: VersionedFamily<RecipeData>;
  /** The wire noun: `ImageRecipe`, `ContainerRecipe`. */
  Noun: string;
  /** Throws InvalidCombination for mutually exclusive members, before any other check. */
  checkCombination?: (input: JsonObject) => void;
  /** Every issue of the input that needs no store lookup. */
  checkInput: (input: JsonObject) => Issue[];
  /** The platform the caller names (platformOverride) or the parent image announces, when either does. */
  parentPlatform: (input: JsonObject) => string | undefined;
  /** What the recipe builds, which decides the kind of image its parentImage must resolve to. */
  parentKind: ParentKind;
}

/** Pipelines keep the recipe they build under one of these fields; a recipe in use cannot be deleted. */
const PIPELINE_REFERENCES = ['imageRecipeArn', 'containerRecipeArn'];

/** Pipelines of the account that build this recipe; they hold it by its exact ARN. */
async function pipelinesUsing(store: Store, record: TypedRecord<RecipeData>): Promise<string[]> {
  const pipelines = await store.listResources({ accountId: record.accountId, region: record.region, type: 'image-pipeline' });
  return pipelines.filter((p) => PIPELINE_REFERENCES.some((k) => p.data[k] === record.arn)).map((p) => p.arn);
}

/**
 * What both recipe families declare alike: a version is the resource (no builds), shared through resource
 * policies, its ARN checked in full before the caller's reach, and the messages recipes have always answered with.
 */
function recipeFamily(
  type: 'image-recipe' | 'container-recipe',
  noun: string,
  listOperation: string,
  filters: readonly string[],
  toShape: (record: TypedRecord<RecipeData>) => JsonObject,
  toVersionSummary: (record: TypedRecord<RecipeData>) => JsonObject,
): VersionedFamily<RecipeData> {
  return {
    noun,
    types: [type],
    builds: false,
    shared: true,
    listOperation,
    pageQuery: [],
    ownerViewsInMessage: true,
    arn: {
      matches: (t) => t === type,
      shape: `…:${type}/<name>/<major>.<minor>.<patch>`,
      versionShape: `…/${type}/<name>/<major>.<minor>.<patch>`,
      versionRequired: true,
      hiddenNoun: noun,
      checkedBeforeScope: true,
    },
    filters,
    toShape,
    toVersionSummary,
    dependents: pipelinesUsing,
    inUse: (arn, users) => `The ${noun} ${arn} is used by the image pipeline(s) ${users.join(', ')}; change or delete them first.`,
  };
}

/** A Dockerfile template is stored inline; the model's limit for it. */
const MAX_DOCKERFILE = 16000;
const ECR_REPOSITORY_RE = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const CONTAINER_PLATFORMS = new Set(['Linux', 'Windows']);


/** The fields every recipe shows: name and version from the record, the rest as the caller sent them. */
function common(record: TypedRecord<RecipeData>): JsonObject {
  const d = record.data;
  return { arn: record.arn, name: d.name, version: record.version, owner: record.accountId, platform: d.platform, parentImage: d.parentImage, dateCreated: d.dateCreated, tags: d.tags ?? {} };
}

/** Image recipes: an AMI parent (AMI id, `ssm:` parameter or image ARN) and components. */
export const imageRecipeFamily: RecipeFamily = {
  Noun: 'ImageRecipe',
  family: recipeFamily('image-recipe', 'image recipe', 'ListImageRecipes', ['name', 'parentImage', 'platform'], toImageRecipe, common),
  checkInput: (input) => {
    const issues = checkCommon(input);
    const parent = amiParentProblem(String(input.parentImage));
    if (parent) issues.push({ path: 'parentImage', message: `${String(input.parentImage)} ${parent}` });
    issues.push(...checkBlockDeviceMappings('blockDeviceMappings', input.blockDeviceMappings));
    issues.push(...checkAdditionalInstanceConfiguration(input.additionalInstanceConfiguration));
    issues.push(...checkTags('amiTags', input.amiTags));
    return issues;
  },
  parentPlatform: (input) => platformOfParent(String(input.parentImage)),
  parentKind: 'machine',
};

function toImageRecipe(record: TypedRecord<RecipeData>): JsonObject {
  const d = record.data;
  return {
    ...common(record),
    type: 'AMI',
    description: d.description,
    components: d.components,
    blockDeviceMappings: d.blockDeviceMappings,
    workingDirectory: d.workingDirectory,
    additionalInstanceConfiguration: d.additionalInstanceConfiguration,
    amiTags: d.amiTags,
  };
}

function checkContainer(input: JsonObject): Issue[] {
  const issues = checkCommon(input);
  if (input.containerType !== 'DOCKER') issues.push({ path: 'containerType', message: `must be DOCKER, not ${String(input.containerType)}` });
  const parent = containerParentProblem(String(input.parentImage));
  if (parent) issues.push({ path: 'parentImage', message: `${String(input.parentImage)} ${parent}` });
  const repo = (input.targetRepository ?? {}) as { service?: string; repositoryName?: string };
  if (repo.service !== 'ECR') issues.push({ path: 'targetRepository.service', message: `must be ECR, not ${String(repo.service)}` });
  const name = repo.repositoryName ?? '';
  if (name.length < 2 || name.length > 256 || !ECR_REPOSITORY_RE.test(name)) {
    issues.push({ path: 'targetRepository.repositoryName', message: 'must be 2-256 characters: lower-case letters and digits separated by ., _, - or /' });
  }
  if (input.platformOverride !== undefined && !CONTAINER_PLATFORMS.has(String(input.platformOverride))) {
    issues.push({ path: 'platformOverride', message: 'must be Linux or Windows' });
  }
  const os = str(input.imageOsVersionOverride);
  if (os !== undefined && (os.length < 1 || os.length > 1024)) issues.push({ path: 'imageOsVersionOverride', message: 'must be 1-1024 characters' });
  const instance = input.instanceConfiguration as { image?: string; blockDeviceMappings?: unknown } | undefined;
  const image = instance?.image === undefined ? undefined : instanceImageProblem(instance.image);
  if (image) issues.push({ path: 'instanceConfiguration.image', message: `${String(instance?.image)} ${image}` });
  issues.push(...checkBlockDeviceMappings('instanceConfiguration.blockDeviceMappings', instance?.blockDeviceMappings));
  issues.push(...checkDockerfile(input));
  return issues;
}

function checkDockerfile(input: JsonObject): Issue[] {
  if (input.dockerfileTemplateUri !== undefined) {
    return [{ path: 'dockerfileTemplateUri', message: "Kiln does not fetch Dockerfile templates by URI yet; send the template inline as 'dockerfileTemplateData'" }];
  }
  const data = str(input.dockerfileTemplateData);
  if (data === undefined) return [{ path: 'dockerfileTemplateData', message: "is required (or 'dockerfileTemplateUri')" }];
  if (data.length < 1 || data.length > MAX_DOCKERFILE) return [{ path: 'dockerfileTemplateData', message: `must be 1-${MAX_DOCKERFILE} characters` }];
  return checkDockerfileTemplate(data).map((i) => ({ path: `dockerfileTemplateData: line ${i.line}`, message: i.message }));
}

/** Container recipes: an OCI or image-ARN parent, a Dockerfile template and an ECR target repository. */
export const containerRecipeFamily: RecipeFamily = {
  Noun: 'ContainerRecipe',
  family: recipeFamily('container-recipe', 'container recipe', 'ListContainerRecipes', ['containerType', 'name', 'parentImage', 'platform'], toContainerRecipe, (record) => {
    const instance = record.data.instanceConfiguration as { image?: string } | undefined;
    return { ...common(record), containerType: record.data.containerType, instanceImage: instance?.image };
  }),
  checkCombination: (input) => {
    if (input.dockerfileTemplateData !== undefined && input.dockerfileTemplateUri !== undefined) {
      throw new KilnError('InvalidCombination', "The parameters 'dockerfileTemplateData' and 'dockerfileTemplateUri' are mutually exclusive; send exactly one.");
    }
  },
  checkInput: checkContainer,
  parentPlatform: (input) => str(input.platformOverride) ?? platformOfParent(String(input.parentImage)),
  parentKind: 'container',
};

function toContainerRecipe(record: TypedRecord<RecipeData>): JsonObject {
  const d = record.data;
  return {
    ...common(record),
    containerType: d.containerType,
    description: d.description,
    components: d.components,
    instanceConfiguration: d.instanceConfiguration,
    dockerfileTemplateData: d.dockerfileTemplateData,
    kmsKeyId: d.kmsKeyId,
    encrypted: true,
    workingDirectory: d.workingDirectory,
    targetRepository: d.targetRepository,
  };
}
