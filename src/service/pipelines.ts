import { formatArn, nameToSlug, parseArn } from '../domain/arn.js';
import { KilnError, isKilnError, validationError, type Issue } from '../domain/errors.js';
import { paginate, queryFingerprint } from '../domain/pagination.js';
import { checkScheduleExpression, isValidTimeZone } from '../domain/schedule.js';
import { typed } from '../resources/typed-record.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { inputHash } from '../resources/idempotency.js';
import type { OperationHandler, RequestContext } from './types.js';
import { checkBuildSettings, checkTags } from './image-settings.js';
import { canRead } from '../store/visibility.js';
import { KEPT_ON_UPDATE } from '../pipelines/run-state.js';
import { nextDue } from '../pipelines/due.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { isJsonObject, str } from '../domain/json.js';

const TYPE = 'image-pipeline';
const NAME_RE = /^[-_A-Za-z0-9][-_A-Za-z0-9 ]{1,126}[-_A-Za-z0-9]$/;
const LIST_FILTERS = new Set(['description', 'distributionConfigurationArn', 'imageRecipeArn', 'infrastructureConfigurationArn', 'name', 'status']);
const START_CONDITIONS = new Set(['EXPRESSION_MATCH_ONLY', 'EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE']);
const DEFAULT_START_CONDITION = 'EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE';

/** A pipeline's schedule as stored: the start condition is filled with AWS's default. */
interface PipelineSchedule {
  scheduleExpression?: string;
  timezone?: string;
  pipelineExecutionStartCondition: string;
  autoDisablePolicy?: { failureCount: number };
}

/**
 * The stored fields of an image pipeline, named exactly as the wire members: other families (dependency checks,
 * the scheduler) read `infrastructureConfigurationArn`, `distributionConfigurationArn` and the recipe ARNs from here.
 */
interface PipelineData {
  name: string;
  description?: string;
  platform?: string;
  imageRecipeArn?: string;
  containerRecipeArn?: string;
  infrastructureConfigurationArn: string;
  distributionConfigurationArn?: string;
  imageTestsConfiguration: { imageTestsEnabled: boolean; timeoutMinutes: number };
  enhancedImageMetadataEnabled: boolean;
  schedule?: PipelineSchedule;
  status: 'ENABLED' | 'DISABLED';
  tags?: Record<string, string>;
  imageTags?: Record<string, string>;
  imageScanningConfiguration?: Record<string, unknown>;
  workflows?: Record<string, unknown>[];
  executionRole?: string;
  loggingConfiguration?: Record<string, string>;
  dateCreated: string;
  dateUpdated?: string;
  dateLastRun?: string;
  lastRunStatus?: string;
  consecutiveFailures: number;
  /** The last UpdateImagePipeline's token, so a retried update is answered without being applied twice. */
  lastUpdate?: { token: string; inputHash: string };
}


/** Resource types another account may share for use in a pipeline. */
const SHAREABLE = new Set(['image-recipe', 'container-recipe']);

function pipelineArn(ctx: RequestContext, slug: string): string {
  return formatArn({ partition: 'aws', region: ctx.region, owner: ctx.accountId, resourceType: TYPE, name: slug });
}

function toPipeline(record: ResourceRecord): Record<string, unknown> {
  const d = typed<PipelineData>(record).data;
  return {
    arn: record.arn,
    name: d.name,
    description: d.description,
    platform: d.platform,
    enhancedImageMetadataEnabled: d.enhancedImageMetadataEnabled,
    imageRecipeArn: d.imageRecipeArn,
    containerRecipeArn: d.containerRecipeArn,
    infrastructureConfigurationArn: d.infrastructureConfigurationArn,
    distributionConfigurationArn: d.distributionConfigurationArn,
    imageTestsConfiguration: d.imageTestsConfiguration,
    schedule: d.schedule,
    status: d.status,
    dateCreated: d.dateCreated,
    dateUpdated: d.dateUpdated,
    dateLastRun: d.dateLastRun,
    lastRunStatus: d.lastRunStatus,
    dateNextRun: nextDue(record.data)?.toISOString(),
    tags: d.tags ?? {},
    imageScanningConfiguration: d.imageScanningConfiguration,
    imageTags: d.imageTags,
    executionRole: d.executionRole,
    workflows: d.workflows,
    loggingConfiguration: d.loggingConfiguration,
    consecutiveFailures: d.consecutiveFailures,
  };
}

/** The pipeline ARN a caller may address: an image-pipeline ARN in the caller's region and account. */
function callerPipelineArn(ctx: RequestContext, text: unknown): string {
  const arn = typeof text === 'string' ? parseArn(text) : undefined;
  if (!arn || arn.resourceType !== TYPE || arn.version !== undefined) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter 'imagePipelineArn' is not a valid image pipeline ARN (arn:aws:imagebuilder:<region>:<account>:image-pipeline/<name>): ${String(text)}`);
  }
  if (arn.region !== ctx.region || arn.owner !== ctx.accountId) {
    throw new KilnError('NotFound', `The image pipeline ${String(text)} does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}.`);
  }
  return formatArn(arn);
}

/**
 * Checks that `field` names an existing resource of `type` the caller may use in its region (its own, or a recipe
 * shared with it); returns the record.
 * Another account's resource is reported exactly like a missing one, so its existence does not leak.
 */
async function checkReference(store: Store, ctx: RequestContext, input: Record<string, unknown>, field: string, type: string, label: string, issues: Issue[]): Promise<ResourceRecord | undefined> {
  const text = input[field];
  if (text === undefined) return undefined;
  const arn = typeof text === 'string' ? parseArn(text) : undefined;
  if (!arn || arn.resourceType !== type) {
    issues.push({ path: field, message: `is not ${label} ARN: ${String(text)}` });
    return undefined;
  }
  const found = arn.region === ctx.region ? await store.getResource(text as string) : undefined;
  // Recipes can be shared with the caller by a resource policy; configurations are always the caller's own.
  const usable = found && (SHAREABLE.has(type) ? await canRead(store, ctx, found) : found.accountId === ctx.accountId);
  const record = usable ? found : undefined;
  if (!record || record.type !== type) {
    issues.push({ path: field, message: `${label} ${String(text)} does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}` });
    return undefined;
  }
  return record;
}

function checkSchedule(value: unknown, issues: Issue[]): PipelineSchedule | undefined {
  if (!isJsonObject(value)) return undefined;
  const expression = str(value.scheduleExpression);
  if (expression !== undefined) {
    for (const message of checkScheduleExpression(expression).problems) issues.push({ path: 'schedule.scheduleExpression', message });
  }
  const timezone = str(value.timezone);
  if (timezone !== undefined && !isValidTimeZone(timezone)) {
    issues.push({ path: 'schedule.timezone', message: `"${timezone}" is not an IANA time zone this server knows (e.g. UTC, America/New_York, Europe/Paris)` });
  }
  const condition = str(value.pipelineExecutionStartCondition) ?? DEFAULT_START_CONDITION;
  if (!START_CONDITIONS.has(condition)) issues.push({ path: 'schedule.pipelineExecutionStartCondition', message: `must be ${[...START_CONDITIONS].join(' or ')}` });
  const policy = value.autoDisablePolicy;
  if (isJsonObject(policy)) {
    const n = policy.failureCount;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10) issues.push({ path: 'schedule.autoDisablePolicy.failureCount', message: 'must be an integer from 1 to 10' });
  }
  return {
    ...(expression === undefined ? {} : { scheduleExpression: expression }),
    ...(timezone === undefined ? {} : { timezone }),
    pipelineExecutionStartCondition: condition,
    ...(isJsonObject(policy) ? { autoDisablePolicy: { failureCount: policy.failureCount as number } } : {}),
  };
}


/**
 * Validates the fields Create and Update share (Update is a full replacement) and builds the stored data,
 * gathering every problem into one error.
 */
async function buildPipeline(store: Store, ctx: RequestContext, input: Record<string, unknown>, issues: Issue[]): Promise<Omit<PipelineData, 'name' | 'dateCreated' | 'consecutiveFailures' | 'tags'>> {
  if (input.imageRecipeArn !== undefined && input.containerRecipeArn !== undefined) {
    throw new KilnError('InvalidCombination', "The parameters 'imageRecipeArn' and 'containerRecipeArn' are mutually exclusive; send exactly one.");
  }
  if (input.imageRecipeArn === undefined && input.containerRecipeArn === undefined) {
    issues.push({ path: 'imageRecipeArn', message: "is required (or 'containerRecipeArn'): a pipeline builds exactly one recipe" });
  }
  const description = str(input.description);
  if (description !== undefined && (description.length < 1 || description.length > 1024)) issues.push({ path: 'description', message: 'must be 1-1024 characters' });
  const recipe =
    (await checkReference(store, ctx, input, 'imageRecipeArn', 'image-recipe', 'an image recipe', issues)) ??
    (await checkReference(store, ctx, input, 'containerRecipeArn', 'container-recipe', 'a container recipe', issues));
  await checkReference(store, ctx, input, 'infrastructureConfigurationArn', 'infrastructure-configuration', 'an infrastructure configuration', issues);
  await checkReference(store, ctx, input, 'distributionConfigurationArn', 'distribution-configuration', 'a distribution configuration', issues);
  const schedule = checkSchedule(input.schedule, issues);
  const status = str(input.status) ?? 'ENABLED';
  if (status !== 'ENABLED' && status !== 'DISABLED') issues.push({ path: 'status', message: 'must be ENABLED or DISABLED' });
  const { imageTestsConfiguration, executionRole } = await checkBuildSettings(store, ctx, input, issues);
  checkTags(input.imageTags, 'imageTags', issues);
  if (issues.length > 0) throw validationError('The image pipeline', issues);
  return {
    description,
    platform: str(recipe?.data.platform),
    imageRecipeArn: str(input.imageRecipeArn),
    containerRecipeArn: str(input.containerRecipeArn),
    infrastructureConfigurationArn: input.infrastructureConfigurationArn as string,
    distributionConfigurationArn: str(input.distributionConfigurationArn),
    imageTestsConfiguration,
    enhancedImageMetadataEnabled: input.enhancedImageMetadataEnabled !== false,
    schedule,
    status: status as PipelineData['status'],
    imageTags: input.imageTags as Record<string, string> | undefined,
    imageScanningConfiguration: input.imageScanningConfiguration as Record<string, unknown> | undefined,
    workflows: input.workflows as Record<string, unknown>[] | undefined,
    executionRole,
    loggingConfiguration: input.loggingConfiguration as Record<string, string> | undefined,
  };
}

/** Drops undefined members so the stored JSON holds only what was set. */
function compact<T extends object>(value: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

function createImagePipeline(store: Store, clock: Clock): OperationHandler {
  return async (input, ctx) => {
    const issues: Issue[] = [];
    const name = str(input.name) ?? '';
    if (!NAME_RE.test(name)) issues.push({ path: 'name', message: 'must be 3-128 characters: letters, digits, spaces, - and _, not starting or ending with a space' });
    checkTags(input.tags, 'tags', issues);
    const fields = await buildPipeline(store, ctx, input, issues);
    const slug = nameToSlug(name);
    const data: PipelineData = { name, ...fields, tags: input.tags as Record<string, string> | undefined, dateCreated: clock.now().toISOString(), consecutiveFailures: 0 };
    const token = str(input.clientToken);
    try {
      const { record } = await store.createResource(
        { accountId: ctx.accountId, region: ctx.region, type: TYPE, name: slug, version: '', arn: pipelineArn(ctx, slug), data: compact(data), build: 'none' },
        token === undefined ? undefined : { operation: ctx.operation, token, inputHash: inputHash(input) },
      );
      return { clientToken: token, imagePipelineArn: record.arn };
    } catch (err) {
      if (isKilnError(err, 'AlreadyExists')) throw new KilnError('AlreadyExists', `The image pipeline ${pipelineArn(ctx, slug)} already exists.`);
      throw err;
    }
  };
}

async function getPipelineRecord(store: Store, ctx: RequestContext, text: unknown): Promise<ResourceRecord> {
  const arn = callerPipelineArn(ctx, text);
  const record = await store.getResource(arn);
  if (!record || record.type !== TYPE) throw new KilnError('NotFound', `The image pipeline ${arn} does not exist.`);
  return record;
}

function getImagePipeline(store: Store): OperationHandler {
  return async (input, ctx) => ({ imagePipeline: toPipeline(await getPipelineRecord(store, ctx, input.imagePipelineArn)) });
}

function applyFilters(pipelines: Record<string, unknown>[], filters: unknown): Record<string, unknown>[] {
  if (!Array.isArray(filters)) return pipelines;
  let out = pipelines;
  filters.forEach((f: { name?: string; values?: string[] }, i) => {
    const key = f.name ?? '';
    if (!LIST_FILTERS.has(key)) {
      throw new KilnError('InvalidArgument', `filters[${i}].name '${key}' is not a filter of ListImagePipelines; use one of ${[...LIST_FILTERS].join(', ')}.`);
    }
    const values = new Set(f.values ?? []);
    out = out.filter((p) => values.has(String(p[key] ?? '')));
  });
  return out;
}

function listImagePipelines(store: Store): OperationHandler {
  return async (input, ctx) => {
    const records = await store.listResources({ accountId: ctx.accountId, region: ctx.region, type: TYPE });
    const pipelines = applyFilters(
      records.map((r) => toPipeline(r)),
      input.filters,
    );
    const page = paginate(pipelines, { maxResults: input.maxResults as number | undefined, nextToken: str(input.nextToken) }, queryFingerprint([ctx.operation, ctx.accountId, ctx.region, input.filters ?? null]));
    return { imagePipelineList: page.items, nextToken: page.nextToken };
  };
}

/**
 * UpdateImagePipeline: a full replacement (AWS: "no partial update") that keeps the name, tags, creation date
 * and run history.
 */
function updateImagePipeline(store: Store, clock: Clock): OperationHandler {
  return async (input, ctx) => {
    const existing = await getPipelineRecord(store, ctx, input.imagePipelineArn);
    const token = str(input.clientToken);
    const fields = await buildPipeline(store, ctx, input, []);
    const idempotency = token === undefined ? undefined : { operation: ctx.operation, token, inputHash: inputHash(input) };
    // Identity and run history are read inside the store's transaction, so a concurrent run record is kept.
    await store.updateResource(
      existing.arn,
      (current) => {
        const prior = typed<PipelineData>(current).data;
        const kept = Object.fromEntries(KEPT_ON_UPDATE.filter((f) => current.data[f] !== undefined).map((f) => [f, current.data[f]]));
        return compact({
          ...kept,
          ...fields,
          name: prior.name,
          tags: prior.tags,
          dateCreated: prior.dateCreated,
          dateUpdated: clock.now().toISOString(),
          dateLastRun: prior.dateLastRun,
          lastRunStatus: prior.lastRunStatus,
          // AWS resets the failure count when a pipeline is updated.
          consecutiveFailures: 0,
        } satisfies PipelineData & Record<string, unknown>);
      },
      idempotency,
    );
    return { clientToken: token, imagePipelineArn: existing.arn };
  };
}

function deleteImagePipeline(store: Store): OperationHandler {
  return async (input, ctx) => {
    const arn = callerPipelineArn(ctx, input.imagePipelineArn);
    if (!(await store.deleteResource(arn))) throw new KilnError('NotFound', `The image pipeline ${arn} does not exist.`);
    return { imagePipelineArn: arn };
  };
}

/**
 * The image pipeline family: CreateImagePipeline, GetImagePipeline, ListImagePipelines, UpdateImagePipeline,
 * DeleteImagePipeline. Dates come from `clock`, the one the scheduler reads.
 */
export function pipelineHandlers(store: Store, clock: Clock = systemClock): Record<string, OperationHandler> {
  return {
    CreateImagePipeline: createImagePipeline(store, clock),
    GetImagePipeline: getImagePipeline(store),
    ListImagePipelines: listImagePipelines(store),
    UpdateImagePipeline: updateImagePipeline(store, clock),
    DeleteImagePipeline: deleteImagePipeline(store),
  };
}
