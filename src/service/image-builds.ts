/**
 * Starting an image build: resolving the recipe and configurations it is built from, and storing the PENDING
 * image with its build job. CreateImage, StartImagePipelineExecution and the scheduler's runs all come here.
 */
import { formatArn, parseArn } from '../domain/arn.js';
import { KilnError, isKilnError, validationError, type ErrorKind, type Issue } from '../domain/errors.js';
import { BUILD_IMAGE_JOB } from '../domain/job-kinds.js';
import { str, type JsonObject } from '../domain/json.js';
import { parseVersionFilter } from '../domain/semver.js';
import { MANAGED_OWNER } from '../store/component-refs.js';
import type { IdempotencyKey, ResourceRecord, Store } from '../store/store.js';
import { pickBuild, versionedArn } from '../store/versioned.js';
import { configurationHandlers } from './configurations.js';
import { IMAGE_TYPE, imageRecord, type ImageData, type ImageRecord } from './image-family.js';
import { pipelineImageSettings, type ImageSettings } from './image-settings.js';
import { recipeHandlers } from './recipes.js';
import type { OperationHandler, RequestContext } from './types.js';

const PIPELINE_TYPE = 'image-pipeline';
/** Errors of a referenced resource's Get that mean "you cannot use this", reported under the request field. */
const REFERENCE_ERRORS: ReadonlySet<ErrorKind> = new Set(['NotFound', 'InvalidArgument', 'InvalidVersion', 'Forbidden']);

/** What an image is built from, resolved and rendered as the caller's Get operations render it. */
export interface BuildSources {
  recipe: { field: 'imageRecipe' | 'containerRecipe'; resource: JsonObject };
  infrastructureConfiguration: JsonObject;
  distributionConfiguration?: JsonObject;
}

/**
 * Resolves the recipe and configurations `refs` names (…RecipeArn, infrastructureConfigurationArn,
 * distributionConfigurationArn), adding an issue for each one unusable; undefined when any is.
 */
export type SourceResolver = (ctx: RequestContext, refs: JsonObject, issues: Issue[]) => Promise<BuildSources | undefined>;

/**
 * Reads one referenced resource through its family's own Get operation (`GetImageRecipe`, …), so an image may
 * use exactly what the caller may read (own, Kiln-managed, shared) and embeds it as Get renders it. A reference
 * the caller cannot use becomes an issue under the request field that named it.
 */
export type ReferenceFetcher = (operation: string, ctx: RequestContext, field: string, value: unknown, resultField: string, issues: Issue[]) => Promise<JsonObject | undefined>;

/** The Get handlers references are read through, for a caller that has no handler table of its own. */
export function referenceHandlers(store: Store): Record<string, OperationHandler> {
  return { ...recipeHandlers(store), ...configurationHandlers(store) };
}

/**
 * The ReferenceFetcher over a handler table made once (the service's own, or referenceHandlers), so no request
 * builds one.
 */
export function referenceFetcher(handlers: Readonly<Record<string, OperationHandler>>): ReferenceFetcher {
  return async (operation, ctx, field, value, resultField, issues) => {
    try {
      const out = await handlers[operation]!({ [field]: value }, { ...ctx, operation });
      return out[resultField] as JsonObject;
    } catch (err) {
      if (isKilnError(err) && REFERENCE_ERRORS.has(err.kind)) {
        issues.push({ path: field, message: err.message });
        return undefined;
      }
      throw err;
    }
  };
}

/** The SourceResolver that reads every reference through `fetch`. */
export function sourceResolver(fetch: ReferenceFetcher): SourceResolver {
  return async (ctx, refs, issues) => {
    const recipe =
      refs.imageRecipeArn !== undefined
        ? await fetch('GetImageRecipe', ctx, 'imageRecipeArn', refs.imageRecipeArn, 'imageRecipe', issues)
        : refs.containerRecipeArn !== undefined
          ? await fetch('GetContainerRecipe', ctx, 'containerRecipeArn', refs.containerRecipeArn, 'containerRecipe', issues)
          : undefined;
    const infrastructure = await fetch('GetInfrastructureConfiguration', ctx, 'infrastructureConfigurationArn', refs.infrastructureConfigurationArn, 'infrastructureConfiguration', issues);
    const distribution =
      refs.distributionConfigurationArn === undefined
        ? undefined
        : await fetch('GetDistributionConfiguration', ctx, 'distributionConfigurationArn', refs.distributionConfigurationArn, 'distributionConfiguration', issues);
    if (!recipe || !infrastructure || (refs.distributionConfigurationArn !== undefined && !distribution)) return undefined;
    return {
      recipe: { field: refs.imageRecipeArn !== undefined ? 'imageRecipe' : 'containerRecipe', resource: recipe },
      infrastructureConfiguration: infrastructure,
      ...(distribution ? { distributionConfiguration: distribution } : {}),
    };
  };
}

/**
 * The OS version the image will have, when it is known before building: a container recipe's override, or the
 * osVersion of the Image Builder image the recipe builds on. AMIs and registries outside Kiln say nothing yet.
 */
async function knownOsVersion(store: Store, ctx: RequestContext, recipe: JsonObject): Promise<string | undefined> {
  // The override is stored with the recipe but is not part of the ContainerRecipe shape Get renders.
  const stored = await store.getResource(String(recipe.arn));
  const override = str(stored?.data.imageOsVersionOverride);
  if (override !== undefined) return override;
  const parent = str(recipe.parentImage);
  const arn = parent?.startsWith('arn:') ? parseArn(parent) : undefined;
  if (!arn || arn.resourceType !== IMAGE_TYPE || arn.version === undefined || arn.region !== ctx.region) return undefined;
  if (arn.owner !== ctx.accountId && arn.owner !== MANAGED_OWNER) return undefined;
  const filter = parseVersionFilter(arn.version);
  if (!filter) return undefined;
  const builds = await store.listResources({ accountId: arn.owner, region: arn.region, type: IMAGE_TYPE, name: arn.name });
  return str(pickBuild(builds, filter, arn.build)?.data.osVersion);
}

/** AWS's imageSource: where the base image came from (a Kiln-managed image counts as Amazon's). */
function imageSourceOf(recipe: JsonObject): ImageData['imageSource'] {
  const parent = str(recipe.parentImage) ?? '';
  return parent.startsWith('arn:') && parseArn(parent)?.owner === MANAGED_OWNER ? 'AMAZON_MANAGED' : 'CUSTOM';
}

/**
 * Stores a new PENDING image build version and its queued build job in one transaction, so that neither
 * exists without the other, even across a crash. The build number is the next one of the recipe's version.
 */
export async function createImageRecord(
  store: Store,
  ctx: RequestContext,
  sources: BuildSources,
  settings: ImageSettings,
  origin: { sourcePipelineArn?: string; sourcePipelineName?: string; buildType?: ImageData['buildType'] },
  idempotency: IdempotencyKey | undefined,
): Promise<ImageRecord> {
  const recipe = sources.recipe.resource;
  const recipeArn = parseArn(String(recipe.arn))!;
  const version = String(recipe.version);
  const osVersion = await knownOsVersion(store, ctx, recipe);
  const data: ImageData = {
    ...settings,
    name: String(recipe.name),
    type: sources.recipe.field === 'containerRecipe' ? 'DOCKER' : 'AMI',
    ...(typeof recipe.platform === 'string' ? { platform: recipe.platform } : {}),
    ...(osVersion === undefined ? {} : { osVersion }),
    state: { status: 'PENDING' },
    [sources.recipe.field]: recipe,
    ...(origin.sourcePipelineArn === undefined ? {} : { sourcePipelineArn: origin.sourcePipelineArn, sourcePipelineName: origin.sourcePipelineName }),
    infrastructureConfiguration: sources.infrastructureConfiguration,
    ...(sources.distributionConfiguration ? { distributionConfiguration: sources.distributionConfiguration } : {}),
    buildType: origin.buildType ?? 'USER_INITIATED',
    imageSource: imageSourceOf(recipe),
    dateCreated: new Date().toISOString(),
  };
  const { record } = await store.createResource(
    { accountId: ctx.accountId, region: ctx.region, type: IMAGE_TYPE, name: recipeArn.name, version, arn: versionedArn(ctx.region, ctx.accountId, IMAGE_TYPE, recipeArn.name, version), data: JSON.parse(JSON.stringify(data)) as JsonObject, build: 'assign' },
    idempotency,
    { enqueue: BUILD_IMAGE_JOB },
  );
  return imageRecord(record);
}

/** The pipeline ARN a caller may address: an image-pipeline ARN of its own account and region. */
export async function callerPipeline(store: Store, ctx: RequestContext, text: unknown): Promise<ResourceRecord> {
  const arn = typeof text === 'string' ? parseArn(text) : undefined;
  if (!arn || arn.resourceType !== PIPELINE_TYPE || arn.version !== undefined) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter 'imagePipelineArn' is not a valid image pipeline ARN (arn:aws:imagebuilder:<region>:<account>:image-pipeline/<name>): ${String(text)}`);
  }
  const canonical = formatArn(arn);
  const record = arn.region === ctx.region && arn.owner === ctx.accountId ? await store.getResource(canonical) : undefined;
  if (!record || record.type !== PIPELINE_TYPE) throw new KilnError('NotFound', `The image pipeline ${canonical} does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}.`);
  return record;
}

/** How a pipeline run was started: by hand (StartImagePipelineExecution) or by its schedule or a trigger. */
export interface PipelineRunRequest {
  buildType: 'USER_INITIATED' | 'SCHEDULED';
  /** Execution tags, merged over the pipeline's imageTags. */
  tags?: Record<string, string>;
  idempotency?: IdempotencyKey;
}

/**
 * Starts one run of a pipeline: resolves its recipe and configurations as the pipeline's owner, then stores the
 * PENDING image and its build job together. Refuses a DISABLED pipeline, and names every unusable reference
 * under `imagePipeline.<field>`.
 */
export type StartPipelineRun = (ctx: RequestContext, pipeline: ResourceRecord, request: PipelineRunRequest) => Promise<ImageRecord>;

/** The StartPipelineRun of a store, resolving sources through `resolve` (made once by the caller). */
export function pipelineRunStart(store: Store, resolve: SourceResolver): StartPipelineRun {
  return async (ctx, pipeline, request) => {
    const p = pipeline.data;
    // AWS lets a disabled pipeline neither run on schedule nor be started by hand.
    if (p.status === 'DISABLED') {
      throw new KilnError('InUse', `The image pipeline ${pipeline.arn} is DISABLED; enable it with UpdateImagePipeline (status ENABLED) before starting it.`);
    }
    const issues: Issue[] = [];
    const sources = await resolve(ctx, p, issues);
    if (issues.length > 0 || !sources) throw validationError(`The image pipeline ${pipeline.arn}`, issues.map((i) => ({ path: `imagePipeline.${i.path}`, message: i.message })));
    const settings = pipelineImageSettings(p, request.tags);
    return createImageRecord(store, ctx, sources, settings, { sourcePipelineArn: pipeline.arn, sourcePipelineName: String(p.name), buildType: request.buildType }, request.idempotency);
  };
}
