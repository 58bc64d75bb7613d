import { formatArn, parseArn, type ImageBuilderArn } from '../domain/arn.js';
import { KilnError, isKilnError, validationError, type ErrorKind, type Issue } from '../domain/errors.js';
import { isInProgress, transition, type ImageState } from '../domain/image-state.js';
import { paginate, queryFingerprint } from '../domain/pagination.js';
import { parseSemver, parseVersionFilter, type VersionFilter } from '../domain/semver.js';
import type { IdempotencyKey, ResourceRecord, Store } from '../store/store.js';
import { MANAGED_OWNER } from '../store/component-refs.js';
import { configurationHandlers } from './configurations.js';
import { inputHash } from '../resources/idempotency.js';
import { checkImageSettings, checkTags, pipelineImageSettings, type ImageSettings } from './image-settings.js';
import { recipeHandlers } from './recipes.js';
import type { OperationHandler, RequestContext } from './types.js';
import { listByOwnerView, readableVersions } from '../store/visibility.js';
import { latestVersionReferences, pickBuild, versionedArn } from '../store/versioned.js';
import { BUILD_IMAGE_JOB } from '../domain/job-kinds.js';
import { isJsonObject, str, type JsonObject } from '../domain/json.js';

const TYPE = 'image';
const PIPELINE_TYPE = 'image-pipeline';
const OWNERS = new Set(['Self', 'Shared', 'Amazon', 'ThirdParty', 'AWSMarketplace']);
const IMAGE_FILTERS = ['name', 'osVersion', 'platform', 'type', 'version'];
const PIPELINE_IMAGE_FILTERS = ['name', 'version'];
/** Errors of a referenced resource's Get that mean "you cannot use this", reported under the request field. */
const REFERENCE_ERRORS: ReadonlySet<ErrorKind> = new Set(['NotFound', 'InvalidArgument', 'InvalidVersion', 'Forbidden']);


/**
 * An image build version as stored. The recipe and configurations are snapshots taken when the build was
 * requested, exactly as their Get operations showed them, because AWS's GetImage shows what the image was built
 * from even after a configuration changes; the build engine reads the same snapshots.
 */
interface ImageData extends ImageSettings {
  name: string;
  type: 'AMI' | 'DOCKER';
  platform?: string;
  osVersion?: string;
  state: ImageState;
  imageRecipe?: JsonObject;
  containerRecipe?: JsonObject;
  sourcePipelineArn?: string;
  sourcePipelineName?: string;
  infrastructureConfiguration: JsonObject;
  distributionConfiguration?: JsonObject;
  buildType: 'USER_INITIATED' | 'SCHEDULED' | 'IMPORT' | 'IMPORT_ISO';
  imageSource: 'AMAZON_MANAGED' | 'AWS_MARKETPLACE' | 'IMPORTED' | 'CUSTOM';
  outputResources?: JsonObject;
  dateCreated: string;
}

/** What an image is built from, resolved and rendered as the caller's Get operations render it. */
interface BuildSources {
  recipe: { field: 'imageRecipe' | 'containerRecipe'; resource: JsonObject };
  infrastructureConfiguration: JsonObject;
  distributionConfiguration?: JsonObject;
}

const dataOf = (record: ResourceRecord): ImageData => record.data as unknown as ImageData;

function toImage(record: ResourceRecord): JsonObject {
  const d = dataOf(record);
  return {
    arn: record.arn,
    type: d.type,
    name: d.name,
    version: `${record.version}/${record.build}`,
    platform: d.platform,
    enhancedImageMetadataEnabled: d.enhancedImageMetadataEnabled,
    osVersion: d.osVersion,
    state: d.state,
    imageRecipe: d.imageRecipe,
    containerRecipe: d.containerRecipe,
    sourcePipelineName: d.sourcePipelineName,
    sourcePipelineArn: d.sourcePipelineArn,
    infrastructureConfiguration: d.infrastructureConfiguration,
    distributionConfiguration: d.distributionConfiguration,
    imageTestsConfiguration: d.imageTestsConfiguration,
    dateCreated: d.dateCreated,
    outputResources: d.outputResources ?? (d.type === 'DOCKER' ? { containers: [] } : { amis: [] }),
    tags: d.tags ?? {},
    buildType: d.buildType,
    imageSource: d.imageSource,
    imageScanningConfiguration: d.imageScanningConfiguration,
    ...lifecycleFields(record),
    executionRole: d.executionRole,
    workflows: d.workflows,
    loggingConfiguration: d.loggingConfiguration,
  };
}

/** What a lifecycle execution last did to the image: deprecationTime is a timestamp on the wire. */
function lifecycleFields(record: ResourceRecord): JsonObject {
  const { deprecationTime, lifecycleExecutionId } = record.data;
  return {
    ...(typeof deprecationTime === 'string' ? { deprecationTime: new Date(deprecationTime) } : {}),
    ...(typeof lifecycleExecutionId === 'string' ? { lifecycleExecutionId } : {}),
  };
}

function toSummary(record: ResourceRecord): JsonObject {
  const d = dataOf(record);
  return {
    arn: record.arn,
    name: d.name,
    type: d.type,
    version: `${record.version}/${record.build}`,
    platform: d.platform,
    osVersion: d.osVersion,
    state: d.state,
    owner: record.accountId,
    dateCreated: d.dateCreated,
    outputResources: d.outputResources ?? (d.type === 'DOCKER' ? { containers: [] } : { amis: [] }),
    tags: d.tags ?? {},
    buildType: d.buildType,
    imageSource: d.imageSource,
    ...lifecycleFields(record),
    loggingConfiguration: d.loggingConfiguration,
  };
}

/** ListImages' view of one semantic version (or, with byName, of one name), from its newest build. */
function toVersion(record: ResourceRecord, selector: string): JsonObject {
  const d = dataOf(record);
  return {
    arn: versionedArn(record.region, record.accountId, TYPE, record.name, selector),
    name: d.name,
    type: d.type,
    version: record.version,
    platform: d.platform,
    osVersion: d.osVersion,
    owner: record.accountId,
    dateCreated: d.dateCreated,
    buildType: d.buildType,
    imageSource: d.imageSource,
  };
}

function idempotencyKey(ctx: RequestContext, input: JsonObject): IdempotencyKey | undefined {
  const token = str(input.clientToken);
  return token === undefined ? undefined : { operation: ctx.operation, token, inputHash: inputHash(input) };
}

/**
 * Resolves a referenced resource through its family's own Get operation, so an image may use exactly what the
 * caller may read (own, Kiln-managed, and shared once sharing lands) and embeds it as Get renders it. A
 * reference the caller cannot use becomes an issue under the request field that named it.
 */
async function fetchReference(handler: OperationHandler, operation: string, ctx: RequestContext, field: string, value: unknown, resultField: string, issues: Issue[]): Promise<JsonObject | undefined> {
  try {
    const out = await handler({ [field]: value }, { ...ctx, operation });
    return out[resultField] as JsonObject;
  } catch (err) {
    if (isKilnError(err) && REFERENCE_ERRORS.has(err.kind)) {
      issues.push({ path: field, message: err.message });
      return undefined;
    }
    throw err;
  }
}

/** Resolves the recipe and configurations an image is built from, adding an issue for each one unusable. */
async function resolveSources(store: Store, ctx: RequestContext, refs: JsonObject, issues: Issue[]): Promise<BuildSources | undefined> {
  const recipes = recipeHandlers(store);
  const configs = configurationHandlers(store);
  const recipe =
    refs.imageRecipeArn !== undefined
      ? await fetchReference(recipes.GetImageRecipe!, 'GetImageRecipe', ctx, 'imageRecipeArn', refs.imageRecipeArn, 'imageRecipe', issues)
      : refs.containerRecipeArn !== undefined
        ? await fetchReference(recipes.GetContainerRecipe!, 'GetContainerRecipe', ctx, 'containerRecipeArn', refs.containerRecipeArn, 'containerRecipe', issues)
        : undefined;
  const infrastructure = await fetchReference(
    configs.GetInfrastructureConfiguration!,
    'GetInfrastructureConfiguration',
    ctx,
    'infrastructureConfigurationArn',
    refs.infrastructureConfigurationArn,
    'infrastructureConfiguration',
    issues,
  );
  const distribution =
    refs.distributionConfigurationArn === undefined
      ? undefined
      : await fetchReference(configs.GetDistributionConfiguration!, 'GetDistributionConfiguration', ctx, 'distributionConfigurationArn', refs.distributionConfigurationArn, 'distributionConfiguration', issues);
  if (!recipe || !infrastructure || (refs.distributionConfigurationArn !== undefined && !distribution)) return undefined;
  return {
    recipe: { field: refs.imageRecipeArn !== undefined ? 'imageRecipe' : 'containerRecipe', resource: recipe },
    infrastructureConfiguration: infrastructure,
    ...(distribution ? { distributionConfiguration: distribution } : {}),
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
  if (!arn || arn.resourceType !== TYPE || arn.version === undefined || arn.region !== ctx.region) return undefined;
  if (arn.owner !== ctx.accountId && arn.owner !== MANAGED_OWNER) return undefined;
  const filter = parseVersionFilter(arn.version);
  if (!filter) return undefined;
  const builds = await store.listResources({ accountId: arn.owner, region: arn.region, type: TYPE, name: arn.name });
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
async function createImageRecord(
  store: Store,
  ctx: RequestContext,
  sources: BuildSources,
  settings: ImageSettings,
  origin: { sourcePipelineArn?: string; sourcePipelineName?: string; buildType?: ImageData['buildType'] },
  idempotency: IdempotencyKey | undefined,
): Promise<ResourceRecord> {
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
    { accountId: ctx.accountId, region: ctx.region, type: TYPE, name: recipeArn.name, version, arn: versionedArn(ctx.region, ctx.accountId, TYPE, recipeArn.name, version), data: JSON.parse(JSON.stringify(data)) as JsonObject, build: 'assign' },
    idempotency,
    { enqueue: BUILD_IMAGE_JOB },
  );
  return record;
}

/** CreateImage: an ad-hoc build of one recipe with an infrastructure (and optionally distribution) configuration. */
function createImage(store: Store): OperationHandler {
  return async (input, ctx) => {
    if (input.imageRecipeArn !== undefined && input.containerRecipeArn !== undefined) {
      throw new KilnError('InvalidCombination', "The parameters 'imageRecipeArn' and 'containerRecipeArn' are mutually exclusive; send exactly one.");
    }
    const issues: Issue[] = [];
    if (input.imageRecipeArn === undefined && input.containerRecipeArn === undefined) {
      issues.push({ path: 'imageRecipeArn', message: "is required (or 'containerRecipeArn'): an image is built from exactly one recipe" });
    }
    const settings = await checkImageSettings(store, ctx, input, issues);
    const sources = await resolveSources(store, ctx, input, issues);
    if (issues.length > 0 || !sources) throw validationError('The image', issues);
    const record = await createImageRecord(store, ctx, sources, settings, {}, idempotencyKey(ctx, input));
    return { clientToken: str(input.clientToken), imageBuildVersionArn: record.arn, latestVersionReferences: latestVersionReferences(record) };
  };
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
export async function startPipelineRun(store: Store, ctx: RequestContext, pipeline: ResourceRecord, request: PipelineRunRequest): Promise<ResourceRecord> {
  const p = pipeline.data;
  // AWS lets a disabled pipeline neither run on schedule nor be started by hand.
  if (p.status === 'DISABLED') {
    throw new KilnError('InUse', `The image pipeline ${pipeline.arn} is DISABLED; enable it with UpdateImagePipeline (status ENABLED) before starting it.`);
  }
  const issues: Issue[] = [];
  const sources = await resolveSources(store, ctx, p, issues);
  if (issues.length > 0 || !sources) throw validationError(`The image pipeline ${pipeline.arn}`, issues.map((i) => ({ path: `imagePipeline.${i.path}`, message: i.message })));
  const settings = pipelineImageSettings(p, request.tags);
  return createImageRecord(store, ctx, sources, settings, { sourcePipelineArn: pipeline.arn, sourcePipelineName: String(p.name), buildType: request.buildType }, request.idempotency);
}

/** StartImagePipelineExecution: a manual run of a pipeline, the same PENDING image and job as CreateImage. */
function startImagePipelineExecution(store: Store): OperationHandler {
  return async (input, ctx) => {
    const pipeline = await callerPipeline(store, ctx, input.imagePipelineArn);
    const issues: Issue[] = [];
    checkTags(input.tags, 'tags', issues);
    if (issues.length > 0) throw validationError(`The image pipeline ${pipeline.arn}`, issues);
    const record = await startPipelineRun(store, ctx, pipeline, {
      buildType: 'USER_INITIATED',
      ...(isJsonObject(input.tags) ? { tags: input.tags as Record<string, string> } : {}),
      ...(idempotencyKey(ctx, input) ? { idempotency: idempotencyKey(ctx, input)! } : {}),
    });
    return { clientToken: str(input.clientToken), imageBuildVersionArn: record.arn };
  };
}

/** Reads an image ARN as a selector: `…/1.2.3/4`, `…/1.2.3`, or a wildcard such as `…/1.x.x` or `…/x.x.x`. */
function imageSelector(text: unknown, field: string): { arn: ImageBuilderArn; filter: VersionFilter } {
  const arn = typeof text === 'string' ? parseArn(text) : undefined;
  if (!arn || arn.resourceType !== TYPE || arn.version === undefined) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' is not a valid image ARN (…:image/<name>/<version>[/<build>], wildcards such as x.x.x allowed): ${String(text)}`);
  }
  const filter = parseVersionFilter(arn.version);
  if (!filter) throw new KilnError('InvalidVersion', `The version in ${String(text)} is not valid: once a node is 'x', every node to its right must be 'x'.`);
  if (arn.build !== undefined && !parseSemver(arn.version)) throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' has a build number after a wildcard version: ${String(text)}`);
  return { arn, filter };
}

function notFound(text: unknown, ctx: RequestContext): KilnError {
  return new KilnError('NotFound', `The image ${String(text)} does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}.`);
}

/** GetImage: a build version, or the newest build of the newest version a version or wildcard ARN selects. */
function getImage(store: Store): OperationHandler {
  return async (input, ctx) => {
    const text = input.imageBuildVersionArn;
    const { arn, filter } = imageSelector(text, 'imageBuildVersionArn');
    if (arn.region !== ctx.region) throw notFound(text, ctx);
    // Another account's wildcard resolves among the builds shared with the caller, never to an unshared one.
    const builds = await readableVersions(store, ctx, { owner: arn.owner, type: TYPE, name: arn.name });
    const record = pickBuild(builds, filter, arn.build);
    if (!record) throw notFound(text, ctx);
    return { image: toImage(record), latestVersionReferences: latestVersionReferences(record) };
  };
}

/**
 * ListImagePackages: the packages installed in an image build (read from its root filesystem's dpkg database
 * when the build made it, as AWS reads them from SSM Inventory), under GetImage's visibility rule.
 */
function listImagePackages(store: Store): OperationHandler {
  return async (input, ctx) => {
    const text = input.imageBuildVersionArn;
    const { arn, filter } = imageSelector(text, 'imageBuildVersionArn');
    if (arn.region !== ctx.region) throw notFound(text, ctx);
    const record = pickBuild(await readableVersions(store, ctx, { owner: arn.owner, type: TYPE, name: arn.name }), filter, arn.build);
    if (!record) throw notFound(text, ctx);
    const packages = Array.isArray(record.data.packages) ? (record.data.packages as JsonObject[]) : [];
    const out = page(
      packages.map((p) => ({ packageName: p.packageName, packageVersion: p.packageVersion })),
      input,
      [ctx.operation, ctx.accountId, ctx.region, record.arn],
    );
    return { imagePackageList: out.items, nextToken: out.nextToken };
  };
}

/** Applies list filters (AND across filters, OR across a filter's values); `version` matches `1.2.3` or `1.2.3/4`. */
function applyFilters(records: ResourceRecord[], filters: unknown, allowed: readonly string[], operation: string): ResourceRecord[] {
  if (!Array.isArray(filters)) return records;
  let out = records;
  (filters as { name?: string; values?: string[] }[]).forEach((f, i) => {
    const key = f.name ?? '';
    if (!allowed.includes(key)) {
      throw new KilnError('InvalidArgument', `filters[${i}].name '${key}' is not a filter of ${operation}; use one of ${allowed.join(', ')}.`, [{ path: `filters[${i}].name`, message: `must be one of ${allowed.join(', ')}` }]);
    }
    const values = new Set(f.values ?? []);
    out = out.filter((r) => {
      if (key === 'version') return values.has(r.version) || values.has(`${r.version}/${r.build}`);
      return values.has(String((dataOf(r) as unknown as JsonObject)[key] ?? ''));
    });
  });
  return out;
}

/** Newest first: by version, then build, the order AWS's build-version listings show. */
function newestFirst(records: readonly ResourceRecord[]): ResourceRecord[] {
  return [...records].sort((a, b) => {
    const x = parseSemver(a.version)!;
    const y = parseSemver(b.version)!;
    return a.name.localeCompare(b.name) || y.major - x.major || y.minor - x.minor || y.patch - x.patch || b.build - a.build;
  });
}

function page<T>(items: readonly T[], input: JsonObject, parts: unknown[]): { items: T[]; nextToken?: string } {
  return paginate(items, { maxResults: input.maxResults as number | undefined, nextToken: str(input.nextToken) }, queryFingerprint(parts));
}

/**
 * ListImages: one entry per semantic version (newest build's facts), or with byName one per image name at its
 * newest version under its `x.x.x` ARN. Deprecated builds are left out unless includeDeprecated is set.
 */
function listImages(store: Store): OperationHandler {
  return async (input, ctx) => {
    const owner = str(input.owner) ?? 'Self';
    if (!OWNERS.has(owner)) throw new KilnError('InvalidArgument', `The value supplied for parameter 'owner' is not valid: ${owner}; use one of ${[...OWNERS].join(', ')}.`);
    const records = await listByOwnerView(store, ctx, owner, TYPE);
    const visible = input.includeDeprecated === true ? records : records.filter((r) => dataOf(r).state.status !== 'DEPRECATED');
    const filtered = applyFilters(visible, input.filters, IMAGE_FILTERS, 'ListImages');
    // Store order is name, version, build ascending: the last record of a group is its newest build.
    const groups = new Map<string, ResourceRecord>();
    for (const r of filtered) groups.set(input.byName === true ? r.name : `${r.name}/${r.version}`, r);
    const versions = [...groups.values()].map((r) => toVersion(r, input.byName === true ? 'x.x.x' : r.version));
    const out = page(versions, input, [ctx.operation, ctx.accountId, ctx.region, owner, input.filters ?? null, input.byName ?? null, input.includeDeprecated ?? null]);
    return { imageVersionList: out.items, nextToken: out.nextToken };
  };
}

/** ListImageBuildVersions: the builds of one image version (all of the caller's images without one), newest first. */
function listImageBuildVersions(store: Store): OperationHandler {
  return async (input, ctx) => {
    let records: ResourceRecord[];
    if (input.imageVersionArn === undefined) {
      records = await store.listResources({ accountId: ctx.accountId, region: ctx.region, type: TYPE });
    } else {
      const text = input.imageVersionArn;
      const arn = typeof text === 'string' ? parseArn(text) : undefined;
      if (!arn || arn.resourceType !== TYPE || arn.build !== undefined || !parseSemver(arn.version ?? '')) {
        throw new KilnError('InvalidArgument', `The value supplied for parameter 'imageVersionArn' must be an image version ARN (…:image/<name>/<major>.<minor>.<patch>): ${String(text)}`);
      }
      records = arn.region === ctx.region ? await readableVersions(store, ctx, { owner: arn.owner, type: TYPE, name: arn.name, version: arn.version! }) : [];
    }
    const builds = newestFirst(applyFilters(records, input.filters, IMAGE_FILTERS, 'ListImageBuildVersions'));
    const out = page(builds.map(toSummary), input, [ctx.operation, ctx.accountId, ctx.region, input.imageVersionArn ?? null, input.filters ?? null]);
    return { imageSummaryList: out.items, nextToken: out.nextToken };
  };
}

/** ListImagePipelineImages: the images a pipeline of the caller's produced, newest first. */
function listImagePipelineImages(store: Store): OperationHandler {
  return async (input, ctx) => {
    const pipeline = await callerPipeline(store, ctx, input.imagePipelineArn);
    const records = (await store.listResources({ accountId: ctx.accountId, region: ctx.region, type: TYPE })).filter((r) => dataOf(r).sourcePipelineArn === pipeline.arn);
    const images = newestFirst(applyFilters(records, input.filters, PIPELINE_IMAGE_FILTERS, 'ListImagePipelineImages'));
    const out = page(images.map(toSummary), input, [ctx.operation, ctx.accountId, ctx.region, pipeline.arn, input.filters ?? null]);
    return { imageSummaryList: out.items, nextToken: out.nextToken };
  };
}

/** The caller's own image build version named by an exact build-version ARN (no wildcard, build required). */
export async function callerBuild(store: Store, ctx: RequestContext, text: unknown): Promise<ResourceRecord> {
  const arn = typeof text === 'string' ? parseArn(text) : undefined;
  if (!arn || arn.resourceType !== TYPE || arn.build === undefined || !parseSemver(arn.version ?? '')) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter 'imageBuildVersionArn' must be an image build version ARN (…:image/<name>/<major>.<minor>.<patch>/<build>): ${String(text)}`);
  }
  const canonical = formatArn(arn);
  const record = arn.region === ctx.region && arn.owner === ctx.accountId ? await store.getResource(canonical) : undefined;
  if (!record || record.type !== TYPE) throw notFound(canonical, ctx);
  return record;
}

/**
 * DeleteImage: removes the Image Builder record only; like AWS it leaves the output images (machine images,
 * container images) in place. A build still under way keeps its record until it ends or is cancelled.
 */
function deleteImage(store: Store): OperationHandler {
  return async (input, ctx) => {
    const record = await callerBuild(store, ctx, input.imageBuildVersionArn);
    const status = dataOf(record).state.status;
    if (isInProgress(status)) {
      throw new KilnError('DependencyExists', `The image ${record.arn} is ${status}: a build under way cannot be deleted; cancel it with CancelImageCreation or wait for it to end.`);
    }
    if (!(await store.deleteResource(record.arn))) throw notFound(record.arn, ctx);
    return { imageBuildVersionArn: record.arn };
  };
}

/**
 * CancelImageCreation: an image whose build is queued or under way becomes CANCELLED. The state changes first,
 * inside the store's transaction: a queued job is then cancelled with it, and a running build sees the state at
 * its next check, stops, and releases its instances (the state machine refuses every later stage).
 */
function cancelImageCreation(store: Store): OperationHandler {
  return async (input, ctx) => {
    const record = await callerBuild(store, ctx, input.imageBuildVersionArn);
    await store.updateResource(
      record.arn,
      (current) => {
        const state = (current.data as unknown as ImageData).state;
        if (!isInProgress(state.status)) {
          throw new KilnError('InUse', `The image ${current.arn} is ${state.status}: only an image whose creation is under way can be cancelled.`);
        }
        return { ...current.data, state: transition(state, 'CANCELLED', `Image creation was cancelled by CancelImageCreation (request ${ctx.requestId}).`) };
      },
      idempotencyKey(ctx, input),
    );
    for (const job of await store.listJobs({ resourceArn: record.arn, state: 'queued' })) {
      if (job.kind === BUILD_IMAGE_JOB) await store.finishJob(job.id, undefined, 'cancelled');
    }
    return { clientToken: str(input.clientToken), imageBuildVersionArn: record.arn };
  };
}

/** Operations on images and their builds (CreateImage, pipeline executions). */
export function imageHandlers(store: Store): Record<string, OperationHandler> {
  return {
    CreateImage: createImage(store),
    StartImagePipelineExecution: startImagePipelineExecution(store),
    GetImage: getImage(store),
    ListImagePackages: listImagePackages(store),
    ListImages: listImages(store),
    ListImageBuildVersions: listImageBuildVersions(store),
    ListImagePipelineImages: listImagePipelineImages(store),
    DeleteImage: deleteImage(store),
    CancelImageCreation: cancelImageCreation(store),
  };
}
