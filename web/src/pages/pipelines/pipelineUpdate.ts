import type { ImagePipeline, UpdateImagePipelineCommandInput } from '@aws-sdk/client-imagebuilder';

/**
 * The UpdateImagePipeline input that keeps every setting of `pipeline` as GetImagePipeline returned it and
 * changes only `status` (UpdateImagePipeline replaces the settings, so each one is sent back).
 */
export function statusUpdate(pipeline: ImagePipeline, status: 'ENABLED' | 'DISABLED'): UpdateImagePipelineCommandInput {
  const p = pipeline;
  const input: UpdateImagePipelineCommandInput = {
    imagePipelineArn: p.arn,
    infrastructureConfigurationArn: p.infrastructureConfigurationArn,
    status,
  };
  if (p.description) input.description = p.description;
  if (p.imageRecipeArn) input.imageRecipeArn = p.imageRecipeArn;
  if (p.containerRecipeArn) input.containerRecipeArn = p.containerRecipeArn;
  if (p.distributionConfigurationArn) input.distributionConfigurationArn = p.distributionConfigurationArn;
  if (p.imageTestsConfiguration) input.imageTestsConfiguration = p.imageTestsConfiguration;
  if (p.enhancedImageMetadataEnabled !== undefined) input.enhancedImageMetadataEnabled = p.enhancedImageMetadataEnabled;
  if (p.schedule) input.schedule = p.schedule;
  if (p.imageScanningConfiguration) input.imageScanningConfiguration = p.imageScanningConfiguration;
  if (p.workflows && p.workflows.length > 0) input.workflows = p.workflows;
  if (p.executionRole) input.executionRole = p.executionRole;
  if (p.loggingConfiguration) input.loggingConfiguration = p.loggingConfiguration;
  if (p.imageTags && Object.keys(p.imageTags).length > 0) input.imageTags = p.imageTags;
  return input;
}
