import { KilnError, validationError, type Issue } from '../domain/errors.js';
import { isInProgress, transition } from '../domain/image-state.js';
import { BUILD_IMAGE_JOB } from '../domain/job-kinds.js';
import { isJsonObject, str, type JsonObject } from '../domain/json.js';
import { pageOfRequest } from '../domain/pagination.js';
import { parseArn } from '../domain/arn.js';
import { parseSemver } from '../domain/semver.js';
import { applyFilters } from '../resources/filters.js';
import { idempotencyKey } from '../resources/idempotency.js';
import { getBuild, ownerView } from '../resources/versioned.js';
import type { Store } from '../store/store.js';
import { latestVersionReferences } from '../store/versioned.js';
import { listByOwnerView, readableVersions } from '../store/visibility.js';
import { callerPipeline, createImageRecord, pipelineRunStart, sourceResolver, type ReferenceFetcher, type SourceResolver, type StartPipelineRun } from './image-builds.js';
import { IMAGE_FILTERS, IMAGE_TYPE, callerBuild, imageFamily, imageMatches, imageNotFound, imageRecord, imageVersionArn, toImage, toImageSummary, toImageVersion, type ImageRecord } from './image-family.js';
import { checkImageSettings, checkTags } from './image-settings.js';
import type { OperationHandler } from './types.js';

const PIPELINE_IMAGE_FILTERS = ['name', 'version'];

/** CreateImage: an ad-hoc build of one recipe with an infrastructure (and optionally distribution) configuration. */
function createImage(store: Store, resolve: SourceResolver): OperationHandler {
  return async (input, ctx) => {
    if (input.imageRecipeArn !== undefined && input.containerRecipeArn !== undefined) {
      throw new KilnError('InvalidCombination', "The parameters 'imageRecipeArn' and 'containerRecipeArn' are mutually exclusive; send exactly one.");
    }
    const issues: Issue[] = [];
    if (input.imageRecipeArn === undefined && input.containerRecipeArn === undefined) {
      issues.push({ path: 'imageRecipeArn', message: "is required (or 'containerRecipeArn'): an image is built from exactly one recipe" });
    }
    const settings = await checkImageSettings(store, ctx, input, issues);
    const sources = await resolve(ctx, input, issues);
    if (issues.length > 0 || !sources) throw validationError('The image', issues);
    const record = await createImageRecord(store, ctx, sources, settings, {}, idempotencyKey(ctx, input));
    return { clientToken: str(input.clientToken), imageBuildVersionArn: record.arn, latestVersionReferences: latestVersionReferences(record) };
  };
}

/** StartImagePipelineExecution: a manual run of a pipeline, the same PENDING image and job as CreateImage. */
function startImagePipelineExecution(store: Store, start: StartPipelineRun): OperationHandler {
  return async (input, ctx) => {
    const pipeline = await callerPipeline(store, ctx, input.imagePipelineArn);
    const issues: Issue[] = [];
    checkTags(input.tags, 'tags', issues);
    if (issues.length > 0) throw validationError(`The image pipeline ${pipeline.arn}`, issues);
    const idempotency = idempotencyKey(ctx, input);
    const record = await start(ctx, pipeline, {
      buildType: 'USER_INITIATED',
      ...(isJsonObject(input.tags) ? { tags: input.tags as Record<string, string> } : {}),
      ...(idempotency ? { idempotency } : {}),
    });
    return { clientToken: str(input.clientToken), imageBuildVersionArn: record.arn };
  };
}

/** GetImage: a build version, or the newest build of the newest version a version or wildcard ARN selects. */
function getImage(store: Store): OperationHandler {
  return async (input, ctx) => {
    // Another account's wildcard resolves among the builds shared with the caller, never to an unshared one.
    const record = await getBuild(store, ctx, imageFamily, input.imageBuildVersionArn, 'imageBuildVersionArn');
    return { image: toImage(record), latestVersionReferences: latestVersionReferences(record) };
  };
}

/**
 * ListImagePackages: the packages installed in an image build (read from its root filesystem's package databases
 * when the build made it or the import read its disk, as AWS reads them from SSM Inventory), under GetImage's
 * visibility rule.
 */
function listImagePackages(store: Store): OperationHandler {
  return async (input, ctx) => {
    const record = await getBuild(store, ctx, imageFamily, input.imageBuildVersionArn, 'imageBuildVersionArn');
    const packages = Array.isArray(record.data.packages) ? record.data.packages : [];
    const out = pageOfRequest(
      packages.map((p) => ({ packageName: p.packageName, packageVersion: p.packageVersion })),
      input,
      [ctx.operation, ctx.accountId, ctx.region, record.arn],
    );
    return { imagePackageList: out.items, nextToken: out.nextToken };
  };
}

/** Filters image builds by ListImages' filters (or `names`), quoting `operation` when a filter is not one of them. */
function filterImages(records: ImageRecord[], input: JsonObject, names: readonly string[], operation: string): ImageRecord[] {
  return applyFilters(records, input.filters, names, operation, imageMatches);
}

/** Newest first: by version, then build, the order AWS's build-version listings show. */
function newestFirst(records: readonly ImageRecord[]): ImageRecord[] {
  return [...records].sort((a, b) => {
    const x = parseSemver(a.version)!;
    const y = parseSemver(b.version)!;
    return a.name.localeCompare(b.name) || y.major - x.major || y.minor - x.minor || y.patch - x.patch || b.build - a.build;
  });
}

/**
 * ListImages: one entry per semantic version (newest build's facts), or with byName one per image name at its
 * newest version under its `x.x.x` ARN. Deprecated builds are left out unless includeDeprecated is set.
 */
function listImages(store: Store): OperationHandler {
  return async (input, ctx) => {
    const owner = ownerView(imageFamily, input);
    const records = (await listByOwnerView(store, ctx, owner, IMAGE_TYPE)).map(imageRecord);
    const visible = input.includeDeprecated === true ? records : records.filter((r) => r.data.state.status !== 'DEPRECATED');
    const filtered = filterImages(visible, input, IMAGE_FILTERS, 'ListImages');
    // Store order is name, version, build ascending: the last record of a group is its newest build.
    const groups = new Map<string, ImageRecord>();
    for (const r of filtered) groups.set(input.byName === true ? r.name : `${r.name}/${r.version}`, r);
    const versions = [...groups.values()].map((r) => toImageVersion(r, imageVersionArn(r, input.byName === true ? 'x.x.x' : r.version)));
    const out = pageOfRequest(versions, input, [ctx.operation, ctx.accountId, ctx.region, owner, input.filters ?? null, ...imageFamily.pageQuery.map((k) => input[k] ?? null)]);
    return { imageVersionList: out.items, nextToken: out.nextToken };
  };
}

/** ListImageBuildVersions: the builds of one image version (all of the caller's images without one), newest first. */
function listImageBuildVersions(store: Store): OperationHandler {
  return async (input, ctx) => {
    let records: ImageRecord[];
    if (input.imageVersionArn === undefined) {
      records = (await store.listResources({ accountId: ctx.accountId, region: ctx.region, type: IMAGE_TYPE })).map(imageRecord);
    } else {
      const text = input.imageVersionArn;
      const arn = typeof text === 'string' ? parseArn(text) : undefined;
      if (!arn || arn.resourceType !== IMAGE_TYPE || arn.build !== undefined || !parseSemver(arn.version ?? '')) {
        throw new KilnError('InvalidArgument', `The value supplied for parameter 'imageVersionArn' must be an image version ARN (${imageFamily.arn.versionShape}): ${String(text)}`);
      }
      records = arn.region === ctx.region ? (await readableVersions(store, ctx, { owner: arn.owner, type: IMAGE_TYPE, name: arn.name, version: arn.version! })).map(imageRecord) : [];
    }
    const builds = newestFirst(filterImages(records, input, IMAGE_FILTERS, 'ListImageBuildVersions'));
    const out = pageOfRequest(builds.map(toImageSummary), input, [ctx.operation, ctx.accountId, ctx.region, input.imageVersionArn ?? null, input.filters ?? null]);
    return { imageSummaryList: out.items, nextToken: out.nextToken };
  };
}

/** ListImagePipelineImages: the images a pipeline of the caller's produced, newest first. */
function listImagePipelineImages(store: Store): OperationHandler {
  return async (input, ctx) => {
    const pipeline = await callerPipeline(store, ctx, input.imagePipelineArn);
    const records = (await store.listResources({ accountId: ctx.accountId, region: ctx.region, type: IMAGE_TYPE })).map(imageRecord).filter((r) => r.data.sourcePipelineArn === pipeline.arn);
    const images = newestFirst(filterImages(records, input, PIPELINE_IMAGE_FILTERS, 'ListImagePipelineImages'));
    const out = pageOfRequest(images.map(toImageSummary), input, [ctx.operation, ctx.accountId, ctx.region, pipeline.arn, input.filters ?? null]);
    return { imageSummaryList: out.items, nextToken: out.nextToken };
  };
}

/**
 * DeleteImage: removes the Image Builder record; the server wraps it to free the image's outputs first
 * (image-deletion.ts). A build still under way keeps its record until it ends or is cancelled.
 */
function deleteImage(store: Store): OperationHandler {
  return async (input, ctx) => {
    const record = await callerBuild(store, ctx, input.imageBuildVersionArn);
    const status = record.data.state.status;
    if (isInProgress(status)) {
      throw new KilnError('DependencyExists', `The image ${record.arn} is ${status}: a build under way cannot be deleted; cancel it with CancelImageCreation or wait for it to end.`);
    }
    if (!(await store.deleteResource(record.arn))) throw imageNotFound(record.arn, ctx);
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
        const state = imageRecord(current).data.state;
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

/** Operations on images and their builds (CreateImage, pipeline executions); sources resolve through `fetch`'s Get handlers. */
export function imageHandlers(store: Store, fetch: ReferenceFetcher): Record<string, OperationHandler> {
  const resolve = sourceResolver(fetch);
  return {
    CreateImage: createImage(store, resolve),
    StartImagePipelineExecution: startImagePipelineExecution(store, pipelineRunStart(store, resolve)),
    GetImage: getImage(store),
    ListImagePackages: listImagePackages(store),
    ListImages: listImages(store),
    ListImageBuildVersions: listImageBuildVersions(store),
    ListImagePipelineImages: listImagePipelineImages(store),
    DeleteImage: deleteImage(store),
    CancelImageCreation: cancelImageCreation(store),
  };
}
