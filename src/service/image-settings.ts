/**
 * The build settings an image carries besides its recipe and configurations (tests, workflows, execution role,
 * scanning, logging, tags), checked for CreateImage with the rules CreateImagePipeline applies to the same
 * members, so that an image built ad hoc and one built by a pipeline are held to one standard.
 */
import { parseArn } from '../domain/arn.js';
import type { Issue } from '../domain/errors.js';
import { parseVersionFilter } from '../domain/semver.js';
import type { Store } from '../store/store.js';
import { MANAGED_OWNER } from '../store/component-refs.js';
import { pickBuild } from '../store/versioned.js';
import type { RequestContext } from './types.js';
import { isJsonObject, str, type JsonObject } from '../domain/json.js';

const WORKFLOW_TYPES = new Set(['workflow/build', 'workflow/test', 'workflow/distribution']);
/** AWS's default for imageTestsConfiguration.timeoutMinutes. */
export const DEFAULT_TEST_TIMEOUT = 720;
const MAX_TAGS = 50;
const LOG_GROUP_RE = /^[a-zA-Z0-9\-_/.]{1,512}$/;


/** The settings as an image stores and shows them, AWS's defaults filled in. */
export type ImageSettings = {
  imageTestsConfiguration: { imageTestsEnabled: boolean; timeoutMinutes: number };
  enhancedImageMetadataEnabled: boolean;
  imageScanningConfiguration?: JsonObject;
  workflows?: JsonObject[];
  executionRole?: string;
  loggingConfiguration?: { logGroupName?: string };
  tags?: Record<string, string>;
};

/** Checks a tag map: at most 50 tags, keys 1-128 characters not starting with `aws:`, values up to 256. */
export function checkTags(value: unknown, path: string, issues: Issue[]): void {
  if (!isJsonObject(value)) return;
  const entries = Object.entries(value);
  if (entries.length > MAX_TAGS) issues.push({ path, message: `has ${entries.length} tags; the limit is ${MAX_TAGS}` });
  for (const [k, v] of entries) {
    if (k.length < 1 || k.length > 128 || k.startsWith('aws:')) issues.push({ path: `${path}.${k}`, message: 'tag keys are 1-128 characters and may not start with aws:' });
    if (typeof v === 'string' && v.length > 256) issues.push({ path: `${path}.${k}`, message: 'tag values are at most 256 characters' });
  }
}

/** The parameters given for a workflow against those its document declares: each known, every one without a default given. */
function checkWorkflowParameters(declared: unknown, given: unknown, path: string, issues: Issue[]): void {
  const params = (Array.isArray(declared) ? declared : []) as { name: string; defaultValue?: string[] }[];
  const values = (Array.isArray(given) ? given : []) as { name?: string }[];
  values.forEach((p, j) => {
    if (!params.some((d) => d.name === p.name)) issues.push({ path: `${path}.parameters[${j}].name`, message: `the workflow declares no parameter ${JSON.stringify(p.name ?? null)}` });
  });
  for (const d of params) {
    if (d.defaultValue === undefined && !values.some((p) => p.name === d.name)) issues.push({ path: `${path}.parameters`, message: `the workflow's parameter "${d.name}" has no default: give it a value` });
  }
}

/** Image Builder's pattern for a parallel group's name. */
const PARALLEL_GROUP = /^[A-Za-z0-9][A-Za-z0-9-_+#]{0,99}$/;

/**
 * Workflow references: Kiln-managed ones pass as they are; the caller's must exist (wildcard versions resolve
 * to a stored build), and running any of them needs an execution role, as AWS requires.
 */
export async function checkWorkflows(store: Store, ctx: RequestContext, value: unknown, executionRole: string | undefined, issues: Issue[]): Promise<void> {
  if (!Array.isArray(value)) return;
  let custom = false;
  for (const [i, w] of (value as JsonObject[]).entries()) {
    const path = `workflows[${i}]`;
    const text = str(w.workflowArn) ?? '';
    const arn = parseArn(text);
    if (!arn || !WORKFLOW_TYPES.has(arn.resourceType) || arn.version === undefined) {
      issues.push({ path: `${path}.workflowArn`, message: `is not a workflow ARN (…:workflow/<build|test|distribution>/<name>/<version>[/<build>]): ${text}` });
      continue;
    }
    if (w.onFailure !== undefined && w.onFailure !== 'ABORT' && w.onFailure !== 'CONTINUE') issues.push({ path: `${path}.onFailure`, message: 'must be ABORT or CONTINUE' });
    if (w.parallelGroup !== undefined && arn.resourceType !== 'workflow/test') issues.push({ path: `${path}.parallelGroup`, message: 'applies to test workflows only' });
    else if (w.parallelGroup !== undefined && (typeof w.parallelGroup !== 'string' || !PARALLEL_GROUP.test(w.parallelGroup))) issues.push({ path: `${path}.parallelGroup`, message: 'must be 1 to 100 letters, digits and -_+#, starting with a letter or digit' });
    const names = ((w.parameters as { name?: string }[] | undefined) ?? []).map((p) => p.name);
    names.forEach((n, j) => {
      if (names.indexOf(n) !== j) issues.push({ path: `${path}.parameters[${j}].name`, message: `"${n}" is given more than once` });
    });
    if (arn.owner === MANAGED_OWNER) continue;
    custom = true;
    const filter = parseVersionFilter(arn.version);
    const visible = arn.region === ctx.region && arn.owner === ctx.accountId;
    const candidates = visible && filter ? await store.listResources({ accountId: ctx.accountId, region: ctx.region, type: arn.resourceType, name: arn.name }) : [];
    // The build the engine will run (image-workflows.ts resolves it the same way).
    const record = filter && pickBuild(candidates, filter, arn.build);
    if (!record) issues.push({ path: `${path}.workflowArn`, message: `workflow ${text} does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}` });
    else checkWorkflowParameters(record.data.parameters, w.parameters, path, issues);
  }
  if (custom && executionRole === undefined) issues.push({ path: 'executionRole', message: 'is required to run workflows other than the Kiln-managed ones' });
}

/**
 * The build settings CreateImage and the pipeline operations share: imageTestsConfiguration (AWS's defaults
 * filled in), executionRole, and the workflows it may run; every problem goes into `issues`.
 */
export async function checkBuildSettings(store: Store, ctx: RequestContext, input: JsonObject, issues: Issue[]): Promise<{ imageTestsConfiguration: ImageSettings['imageTestsConfiguration']; executionRole?: string }> {
  const tests = isJsonObject(input.imageTestsConfiguration) ? input.imageTestsConfiguration : {};
  const timeoutMinutes = tests.timeoutMinutes ?? DEFAULT_TEST_TIMEOUT;
  if (typeof timeoutMinutes !== 'number' || !Number.isInteger(timeoutMinutes) || timeoutMinutes < 60 || timeoutMinutes > 1440) {
    issues.push({ path: 'imageTestsConfiguration.timeoutMinutes', message: 'must be an integer from 60 to 1440' });
  }
  const executionRole = str(input.executionRole);
  if (executionRole !== undefined && (executionRole.length < 1 || executionRole.length > 2048)) issues.push({ path: 'executionRole', message: 'must be 1-2048 characters' });
  await checkWorkflows(store, ctx, input.workflows, executionRole, issues);
  return { imageTestsConfiguration: { imageTestsEnabled: tests.imageTestsEnabled !== false, timeoutMinutes: timeoutMinutes as number }, ...(executionRole === undefined ? {} : { executionRole }) };
}

/** Validates CreateImage's settings, gathering every problem into `issues`, and returns them with defaults. */
export async function checkImageSettings(store: Store, ctx: RequestContext, input: JsonObject, issues: Issue[]): Promise<ImageSettings> {
  const { imageTestsConfiguration, executionRole } = await checkBuildSettings(store, ctx, input, issues);
  const logging = isJsonObject(input.loggingConfiguration) ? input.loggingConfiguration : undefined;
  const logGroupName = str(logging?.logGroupName);
  if (logGroupName !== undefined && !LOG_GROUP_RE.test(logGroupName)) {
    issues.push({ path: 'loggingConfiguration.logGroupName', message: 'must be 1-512 letters, digits or - _ / .' });
  }
  checkTags(input.tags, 'tags', issues);
  return {
    imageTestsConfiguration,
    enhancedImageMetadataEnabled: input.enhancedImageMetadataEnabled !== false,
    ...(isJsonObject(input.imageScanningConfiguration) ? { imageScanningConfiguration: input.imageScanningConfiguration } : {}),
    ...(Array.isArray(input.workflows) ? { workflows: input.workflows as JsonObject[] } : {}),
    ...(executionRole === undefined ? {} : { executionRole }),
    ...(logging === undefined ? {} : { loggingConfiguration: logging as { logGroupName?: string } }),
    ...(isJsonObject(input.tags) ? { tags: input.tags as Record<string, string> } : {}),
  };
}

/**
 * The settings of an image a pipeline starts: the pipeline's own, its imageTags with the execution's tags
 * on top, and its image log group as the image's.
 */
export function pipelineImageSettings(pipeline: JsonObject, executionTags: Record<string, string> | undefined): ImageSettings {
  const tests = (pipeline.imageTestsConfiguration ?? { imageTestsEnabled: true, timeoutMinutes: DEFAULT_TEST_TIMEOUT }) as ImageSettings['imageTestsConfiguration'];
  const logGroupName = isJsonObject(pipeline.loggingConfiguration) ? str(pipeline.loggingConfiguration.imageLogGroupName) : undefined;
  const tags = { ...(pipeline.imageTags as Record<string, string> | undefined), ...executionTags };
  return {
    imageTestsConfiguration: tests,
    enhancedImageMetadataEnabled: pipeline.enhancedImageMetadataEnabled !== false,
    ...(isJsonObject(pipeline.imageScanningConfiguration) ? { imageScanningConfiguration: pipeline.imageScanningConfiguration } : {}),
    ...(Array.isArray(pipeline.workflows) ? { workflows: pipeline.workflows as JsonObject[] } : {}),
    ...(typeof pipeline.executionRole === 'string' ? { executionRole: pipeline.executionRole } : {}),
    ...(logGroupName === undefined ? {} : { loggingConfiguration: { logGroupName } }),
    ...(Object.keys(tags).length > 0 ? { tags } : {}),
  };
}
