/**
 * Where the API's answers go: each field problem it names (by request path) is placed next to the input that
 * sent it, on the step that holds that input; problems without a field are shown at the top of the step.
 */
import { errorText, fieldIssues, type FieldIssue } from '../api';
import type { StepId } from './model';

/** A step's errors: messages by field id (the input's id), and messages for the step as a whole. */
export interface StepErrors {
  fields: Record<string, string[]>;
  general: string[];
}

export const NO_ERRORS: StepErrors = { fields: {}, general: [] };

/**
 * The field problems of an API error: Kiln's validation lines ("  path: message"), or the protocol edge's one-line
 * form "Invalid XRequest: path: message; path: message" (a required member missing, a wrong type).
 */
export function apiIssues(err: unknown): FieldIssue[] {
  const issues = fieldIssues(err);
  if (issues.length > 0) return issues;
  const message = err instanceof Error ? err.message : String(err);
  const edge = /^Invalid \w+Request: (.*)$/s.exec(message);
  if (!edge) return [];
  const out: FieldIssue[] = [];
  for (const part of edge[1]!.split('; ')) {
    const m = /^([^:\s][^:]*?): (.*)$/s.exec(part);
    if (m) out.push({ path: m[1]!, message: m[2]! });
  }
  return out;
}

/** A rule: request paths it matches, the step and field they belong to. */
export interface PathRule {
  match: RegExp;
  step: StepId;
  field: string;
}

export interface PlaceOptions {
  /** False for a field the step does not show now (its problem then goes to the step's list, with its path). */
  visible?: (step: StepId, field: string) => boolean;
}

/** Errors by step for one API error; problems no shown field takes go to `fallback`, with their path. */
export function placeErrors(err: unknown, rules: PathRule[], fallback: StepId, options: PlaceOptions = {}): Partial<Record<StepId, StepErrors>> {
  const out: Partial<Record<StepId, StepErrors>> = {};
  const at = (step: StepId) => (out[step] ??= { fields: {}, general: [] });
  const issues = apiIssues(err);
  if (issues.length === 0) {
    at(fallback).general.push(errorText(err));
    return out;
  }
  for (const issue of issues) {
    const rule = rules.find((r) => r.match.test(issue.path));
    const message = issue.message;
    if (!rule || options.visible?.(rule.step, rule.field) === false) {
      at(rule ? rule.step : fallback).general.push(`${issue.path}: ${message}`);
      continue;
    }
    const list = (at(rule.step).fields[rule.field] ??= []);
    if (!list.includes(message)) list.push(message);
  }
  return out;
}

/** The step of the wizard that comes first among those with errors. */
export function firstStepWithErrors(order: StepId[], errors: Partial<Record<StepId, StepErrors>>): StepId | undefined {
  return order.find((s) => errors[s] !== undefined);
}

/** An AlreadyExists answer (no field named): it belongs next to the name (or version) that clashed. */
export function isAlreadyExists(err: unknown): boolean {
  return err instanceof Error && err.name === 'ResourceAlreadyExistsException';
}

// Paths of CreateImagePipeline's request, by the step whose inputs sent them.
export const PIPELINE_RULES: PathRule[] = [
  { match: /^name$/, step: 'details', field: 'pipeline-name' },
  { match: /^description$/, step: 'details', field: 'pipeline-description' },
  { match: /^schedule\.scheduleExpression$/, step: 'details', field: 'pipeline-schedule' },
  { match: /^schedule\.timezone$/, step: 'details', field: 'pipeline-timezone' },
  { match: /^schedule\.pipelineExecutionStartCondition$/, step: 'details', field: 'pipeline-start' },
  { match: /^schedule(\.|$)/, step: 'details', field: 'pipeline-schedule' },
  { match: /^enhancedImageMetadataEnabled$/, step: 'details', field: 'pipeline-metadata' },
  { match: /^imageTestsConfiguration\.timeoutMinutes$/, step: 'details', field: 'pipeline-test-timeout' },
  { match: /^imageTestsConfiguration/, step: 'details', field: 'pipeline-tests' },
  { match: /^(imageRecipeArn|containerRecipeArn)$/, step: 'recipe', field: 'recipe-existing' },
  { match: /^infrastructureConfigurationArn$/, step: 'infrastructure', field: 'infra-existing' },
  { match: /^distributionConfigurationArn$/, step: 'distribution', field: 'dist-existing' },
];

// Paths of CreateContainerRecipe / CreateImageRecipe. Component paths carry their index in the sent list.
export const RECIPE_RULES: PathRule[] = [
  { match: /^name$/, step: 'recipe', field: 'recipe-name' },
  { match: /^semanticVersion$/, step: 'recipe', field: 'recipe-version' },
  { match: /^description$/, step: 'recipe', field: 'recipe-description' },
  { match: /^parentImage$/, step: 'recipe', field: 'recipe-base' },
  { match: /^targetRepository(\.|$)/, step: 'recipe', field: 'recipe-repository' },
  { match: /^dockerfileTemplate(Data|Uri)$/, step: 'recipe', field: 'recipe-dockerfile' },
  { match: /^components$/, step: 'recipe', field: 'recipe-components' },
];

export const INFRASTRUCTURE_RULES: PathRule[] = [
  { match: /^name$/, step: 'infrastructure', field: 'infra-name' },
  { match: /^description$/, step: 'infrastructure', field: 'infra-description' },
  { match: /^instanceTypes(\[|$)/, step: 'infrastructure', field: 'infra-types' },
  { match: /^instanceProfileName$/, step: 'infrastructure', field: 'infra-profile' },
  { match: /^subnetId$/, step: 'infrastructure', field: 'infra-subnet' },
  { match: /^logging\.s3Logs\.s3BucketName$/, step: 'infrastructure', field: 'infra-log-bucket' },
  { match: /^logging(\.|$)/, step: 'infrastructure', field: 'infra-log-prefix' },
  { match: /^terminateInstanceOnFailure$/, step: 'infrastructure', field: 'infra-keep' },
  { match: /^snsTopicArn$/, step: 'infrastructure', field: 'infra-topic' },
];

// Every region gets the same outputs, so a path is placed by what follows `distributions[i]` (and the same
// message for several regions is shown once).
export const DISTRIBUTION_RULES: PathRule[] = [
  { match: /^name$/, step: 'distribution', field: 'dist-name' },
  { match: /^description$/, step: 'distribution', field: 'dist-description' },
  { match: /^distributions$/, step: 'distribution', field: 'dist-regions' },
  { match: /^distributions\[\d+\]\.region$/, step: 'distribution', field: 'dist-regions' },
  { match: /^distributions\[\d+\]$/, step: 'distribution', field: 'dist-outputs' },
  { match: /^distributions\[\d+\]\.containerDistributionConfiguration\.containerTags/, step: 'distribution', field: 'dist-container-tags' },
  { match: /^distributions\[\d+\]\.containerDistributionConfiguration/, step: 'distribution', field: 'dist-container-repository' },
  { match: /^distributions\[\d+\]\.amiDistributionConfiguration\.name$/, step: 'distribution', field: 'dist-ami-name' },
  { match: /^distributions\[\d+\]\.amiDistributionConfiguration\.targetAccountIds/, step: 'distribution', field: 'dist-target-accounts' },
  { match: /^distributions\[\d+\]\.amiDistributionConfiguration\.launchPermission\.userGroups/, step: 'distribution', field: 'dist-launch-public' },
  { match: /^distributions\[\d+\]\.amiDistributionConfiguration\.launchPermission/, step: 'distribution', field: 'dist-launch-users' },
  { match: /^distributions\[\d+\]\.s3ExportConfiguration\.s3Bucket$/, step: 'distribution', field: 'dist-export-bucket' },
  { match: /^distributions\[\d+\]\.s3ExportConfiguration\.s3Prefix$/, step: 'distribution', field: 'dist-export-prefix' },
  { match: /^distributions\[\d+\]\.s3ExportConfiguration\.diskImageFormat$/, step: 'distribution', field: 'dist-export-format' },
  { match: /^distributions\[\d+\]\.s3ExportConfiguration\.roleName$/, step: 'distribution', field: 'dist-export-role' },
];
