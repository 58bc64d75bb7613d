import { checkDockerfileTemplate } from '../builder/dockerfile/dockerfile-parse.js';
import { KilnError, type Issue } from '../domain/errors.js';
import type { ResourceRecord } from '../store/store.js';
import { amiParentProblem, containerParentProblem, instanceImageProblem, platformOfParent } from './parent-image.js';
import { checkAdditionalInstanceConfiguration, checkBlockDeviceMappings, checkCommon, checkTags } from './recipe-input.js';
import { str } from '../domain/json.js';

/** What differs between image recipes and container recipes; the handlers in recipes.ts are shared. */
export interface RecipeFamily {
  type: 'image-recipe' | 'container-recipe';
  noun: string;
  /** Create, Get, List, Delete operation names. */
  operations: [string, string, string, string];
  listOperation: string;
  arnField: string;
  resultField: string;
  listField: string;
  filters: string[];
  /** Throws InvalidCombination for mutually exclusive members, before any other check. */
  checkCombination?: (input: Record<string, unknown>) => void;
  /** Every issue of the input that needs no store lookup. */
  checkInput: (input: Record<string, unknown>) => Issue[];
  /** The platform the caller names (platformOverride) or the parent image announces, when either does. */
  parentPlatform: (input: Record<string, unknown>) => string | undefined;
  toResource: (record: ResourceRecord) => Record<string, unknown>;
  toSummary: (record: ResourceRecord) => Record<string, unknown>;
}

/** A Dockerfile template is stored inline; the model's limit for it. */
const MAX_DOCKERFILE = 16000;
const ECR_REPOSITORY_RE = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const CONTAINER_PLATFORMS = new Set(['Linux', 'Windows']);


/** The fields every recipe shows: name and version from the record, the rest as the caller sent them. */
function common(record: ResourceRecord): Record<string, unknown> {
  const d = record.data;
  return { arn: record.arn, name: d.name, version: record.version, owner: record.accountId, platform: d.platform, parentImage: d.parentImage, dateCreated: d.dateCreated, tags: d.tags ?? {} };
}

/** Image recipes: an AMI parent (AMI id, `ssm:` parameter or image ARN) and components. */
export const imageRecipeFamily: RecipeFamily = {
  type: 'image-recipe',
  noun: 'image recipe',
  operations: ['CreateImageRecipe', 'GetImageRecipe', 'ListImageRecipes', 'DeleteImageRecipe'],
  listOperation: 'ListImageRecipes',
  arnField: 'imageRecipeArn',
  resultField: 'imageRecipe',
  listField: 'imageRecipeSummaryList',
  filters: ['name', 'parentImage', 'platform'],
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
  toResource: (record) => {
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
  },
  toSummary: common,
};

function checkContainer(input: Record<string, unknown>): Issue[] {
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

function checkDockerfile(input: Record<string, unknown>): Issue[] {
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
  type: 'container-recipe',
  noun: 'container recipe',
  operations: ['CreateContainerRecipe', 'GetContainerRecipe', 'ListContainerRecipes', 'DeleteContainerRecipe'],
  listOperation: 'ListContainerRecipes',
  arnField: 'containerRecipeArn',
  resultField: 'containerRecipe',
  listField: 'containerRecipeSummaryList',
  filters: ['containerType', 'name', 'parentImage', 'platform'],
  checkCombination: (input) => {
    if (input.dockerfileTemplateData !== undefined && input.dockerfileTemplateUri !== undefined) {
      throw new KilnError('InvalidCombination', "The parameters 'dockerfileTemplateData' and 'dockerfileTemplateUri' are mutually exclusive; send exactly one.");
    }
  },
  checkInput: checkContainer,
  parentPlatform: (input) => str(input.platformOverride) ?? platformOfParent(String(input.parentImage)),
  toResource: (record) => {
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
  },
  toSummary: (record) => {
    const instance = record.data.instanceConfiguration as { image?: string } | undefined;
    return { ...common(record), containerType: record.data.containerType, instanceImage: instance?.image };
  },
};
