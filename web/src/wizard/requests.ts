/**
 * The API requests the wizard sends, made from its drafts as typed. Required fields are sent even when empty
 * (so the API names them); optional ones are left out when empty. No value is checked here.
 */
import type {
  CreateContainerRecipeCommandInput,
  CreateDistributionConfigurationCommandInput,
  CreateImagePipelineCommandInput,
  CreateImageRecipeCommandInput,
  CreateInfrastructureConfigurationCommandInput,
  Distribution,
} from '@aws-sdk/client-imagebuilder';
import { INSTANCE_TYPES } from '../../../src/domain/instance-types';
import {
  OTHER_BASE,
  recipeKind,
  splitList,
  type ChosenComponent,
  type DetailsDraft,
  type DistributionDraft,
  type InfrastructureDraft,
  type RecipeDraft,
} from './model';

const optional = (value: string) => (value.trim() === '' ? undefined : value);

/** The ARN a chosen component is sent with: its base and the chosen version (exact or wildcard). */
export function componentArn(c: ChosenComponent): string {
  return `${c.base}/${c.version}`;
}

/** The parameters sent for a component: the values typed (an empty one leaves the default), in input order. */
export function sentParameters(c: ChosenComponent): { name: string; value: string[] }[] {
  return Object.entries(c.values)
    .filter(([, v]) => v !== '')
    .map(([name, v]) => ({ name, value: [v] }));
}

export function parentImage(recipe: RecipeDraft): string {
  return recipe.baseChoice === OTHER_BASE ? recipe.baseReference.trim() : recipe.baseChoice;
}

export type RecipeRequest = { kind: 'container'; input: CreateContainerRecipeCommandInput } | { kind: 'image'; input: CreateImageRecipeCommandInput };

export function recipeRequest(recipe: RecipeDraft): RecipeRequest {
  const common = {
    name: recipe.name.trim(),
    semanticVersion: recipe.version.trim(),
    description: optional(recipe.description),
    parentImage: parentImage(recipe),
    components: recipe.components.map((c) => {
      const parameters = sentParameters(c);
      return { componentArn: componentArn(c), ...(parameters.length > 0 ? { parameters } : {}) };
    }),
  };
  if (recipe.kind === 'image') return { kind: 'image', input: common };
  return {
    kind: 'container',
    input: {
      ...common,
      containerType: 'DOCKER',
      dockerfileTemplateData: recipe.dockerfile,
      targetRepository: { service: 'ECR', repositoryName: recipe.targetRepository.trim() },
    },
  };
}

/** The instance types sent: Kiln's ticked ones in catalogue order, then the others as typed. */
export function instanceTypes(infra: InfrastructureDraft): string[] {
  const ticked = INSTANCE_TYPES.map((t) => t.name).filter((n) => infra.instanceTypes.includes(n));
  return [...ticked, ...splitList(infra.otherInstanceTypes)];
}

export function infrastructureRequest(infra: InfrastructureDraft): CreateInfrastructureConfigurationCommandInput {
  const types = instanceTypes(infra);
  const subnetId = infra.subnet === 'none' ? 'none' : infra.subnet === 'other' ? infra.subnetId.trim() : undefined;
  const logging = infra.logBucket.trim() === '' && infra.logPrefix.trim() === '' ? undefined : { s3Logs: { s3BucketName: optional(infra.logBucket.trim()), s3KeyPrefix: optional(infra.logPrefix.trim()) } };
  return {
    name: infra.name.trim(),
    description: optional(infra.description),
    instanceProfileName: infra.instanceProfileName.trim(),
    ...(types.length > 0 ? { instanceTypes: types } : {}),
    ...(subnetId === undefined ? {} : { subnetId }),
    ...(logging ? { logging } : {}),
    terminateInstanceOnFailure: !infra.keepOnFailure,
    ...(infra.snsTopicArn.trim() === '' ? {} : { snsTopicArn: infra.snsTopicArn.trim() }),
  };
}

/** One distribution per region, each with the outputs that fit the recipe's kind. */
export function distributionRequest(dist: DistributionDraft, recipe: RecipeDraft): CreateDistributionConfigurationCommandInput {
  const kind = recipeKind(recipe);
  const regions = dist.regions;
  const outputs: Omit<Distribution, 'region'> = {};
  if (kind === 'container') {
    if (dist.containerRepository.trim() !== '' || dist.containerTags.trim() !== '') {
      const tags = splitList(dist.containerTags);
      outputs.containerDistributionConfiguration = {
        targetRepository: { service: 'ECR', repositoryName: dist.containerRepository.trim() },
        ...(tags.length > 0 ? { containerTags: tags } : {}),
      };
    }
  } else {
    const accounts = splitList(dist.targetAccounts);
    const userIds = splitList(dist.launchUserIds);
    const launch = userIds.length > 0 || dist.launchPublic ? { ...(userIds.length > 0 ? { userIds } : {}), ...(dist.launchPublic ? { userGroups: ['all'] } : {}) } : undefined;
    outputs.amiDistributionConfiguration = {
      ...(dist.amiName.trim() === '' ? {} : { name: dist.amiName.trim() }),
      ...(accounts.length > 0 ? { targetAccountIds: accounts } : {}),
      ...(launch ? { launchPermission: launch } : {}),
    };
    if (dist.exportEnabled) {
      outputs.s3ExportConfiguration = {
        roleName: dist.exportRole.trim(),
        diskImageFormat: dist.exportFormat as 'RAW',
        s3Bucket: dist.exportBucket.trim(),
        ...(dist.exportPrefix.trim() === '' ? {} : { s3Prefix: dist.exportPrefix.trim() }),
      };
    }
  }
  return {
    name: dist.name.trim(),
    description: optional(dist.description),
    distributions: (regions.length > 0 ? regions : ['']).map((region) => ({ region, ...outputs })),
  };
}

/** The pipeline, from the details and the ARNs the other steps chose or created. */
export function pipelineRequest(
  details: DetailsDraft,
  arns: { recipe: string; kind: 'container' | 'image'; infrastructure: string; distribution?: string },
): CreateImagePipelineCommandInput {
  const timeout = details.testTimeout.trim();
  return {
    name: details.name.trim(),
    description: optional(details.description),
    ...(arns.recipe === '' ? {} : arns.kind === 'container' ? { containerRecipeArn: arns.recipe } : { imageRecipeArn: arns.recipe }),
    infrastructureConfigurationArn: arns.infrastructure,
    ...(arns.distribution ? { distributionConfigurationArn: arns.distribution } : {}),
    ...(details.schedule.frequency === 'manual'
      ? {}
      : { schedule: { scheduleExpression: details.expression.trim(), timezone: details.timezone, pipelineExecutionStartCondition: details.startCondition as 'EXPRESSION_MATCH_ONLY' } }),
    enhancedImageMetadataEnabled: details.enhancedMetadata,
    imageTestsConfiguration: { imageTestsEnabled: details.imageTests, ...(details.imageTests && timeout !== '' ? { timeoutMinutes: Number(timeout) } : {}) },
    status: 'ENABLED',
  };
}
