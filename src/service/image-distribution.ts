/**
 * Distribution without a build: RetryImage re-runs the distribution of a FAILED image in place (same ARN; the
 * regions that succeeded before are kept, "resuming from the point of failure"), and DistributeImage
 * distributes an existing AVAILABLE image with another distribution configuration as a new image build version
 * of the same name and version. Both queue a `distribute-image` job that the build worker leases; neither
 * rebuilds anything: the stored container image or machine disk is what gets distributed.
 */
import { parseArn } from '../domain/arn.js';
import { KilnError, validationError, type Issue } from '../domain/errors.js';
import { isInProgress, retryDistribution, type ImageState } from '../domain/image-state.js';
import { parseVersionFilter } from '../domain/semver.js';
import { findMachineImage, isAmiId, machineImageData } from '../builder/machine/machine-images.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { idempotencyKey } from '../resources/idempotency.js';
import type { ReferenceFetcher } from './image-builds.js';
import { checkTags } from './image-settings.js';
import { callerBuild, imageNotFound } from './image-family.js';
import type { OperationHandler, RequestContext } from './types.js';
import { readableVersions } from '../store/visibility.js';
import { pickBuild, versionedArn } from '../store/versioned.js';
import { DISTRIBUTE_IMAGE_JOB } from '../domain/job-kinds.js';
import { isJsonObject, str, type JsonObject } from '../domain/json.js';


const TYPE = 'image';
const ROLE_RE = /^(?:arn:aws(?:-[a-z]+)*:iam::[0-9]{12}:role\/)?[a-zA-Z_0-9+=,.@\-_/]+$/;
const LOG_GROUP_RE = /^[a-zA-Z0-9\-_/.]{1,512}$/;
/** What a new distribution-only image takes over from its source: what it is and how it was built. */
const CARRIED = ['name', 'type', 'platform', 'osVersion', 'imageRecipe', 'containerRecipe', 'infrastructureConfiguration', 'imageTestsConfiguration', 'enhancedImageMetadataEnabled', 'imageSource', 'buildPlan', 'packages', 'containerImage', 'machine'];

const stateOf = (record: ResourceRecord): ImageState => record.data.state as ImageState;


/** Whether an image holds what distribution needs: its container image, or its machine disk. */
function hasStoredOutput(data: JsonObject): boolean {
  if (data.type === 'AMI') return isJsonObject(data.machine) && isJsonObject(data.machine.disk);
  return isJsonObject(data.containerImage);
}

/**
 * RetryImage: a FAILED image whose build and tests completed (its distribution failed, or Kiln stopped during
 * it) goes back to DISTRIBUTING and its distribution runs again; ResourceInUseException while the image is
 * still being created, InvalidRequestException for any other image.
 */
function retryImage(store: Store): OperationHandler {
  return async (input, ctx) => {
    const record = await callerBuild(store, ctx, input.imageBuildVersionArn);
    let before: ImageState | undefined;
    await store.updateResource(
      record.arn,
      (current) => {
        const state = stateOf(current);
        if (isInProgress(state.status)) throw new KilnError('InUse', `The image ${current.arn} is ${state.status}: its creation is still under way; RetryImage applies once it has FAILED.`);
        if (state.status !== 'FAILED') throw new KilnError('InvalidRequest', `The image ${current.arn} is ${state.status}: RetryImage retries the distribution of a FAILED image only.`);
        if (current.data.distribution === undefined) {
          throw new KilnError('InvalidRequest', `The image ${current.arn} failed before its distribution (${state.reason ?? 'no reason recorded'}); RetryImage re-runs distribution only, so build it again with CreateImage.`);
        }
        if (!hasStoredOutput(current.data)) throw new KilnError('InvalidRequest', `The image ${current.arn} has no stored output left to distribute; build it again with CreateImage.`);
        before = state;
        return { ...current.data, state: retryDistribution(state) };
      },
      idempotencyKey(ctx, input),
    );
    // A repeated client token changed nothing above, so it queues nothing either.
    if (before) {
      const failed = before;
      try {
        await store.enqueueJob(DISTRIBUTE_IMAGE_JOB, record.arn);
      } catch (err) {
        await store.updateResource(record.arn, (current) => ({ ...current.data, state: failed })).catch(() => undefined);
        throw err;
      }
    }
    return { clientToken: str(input.clientToken), imageBuildVersionArn: record.arn };
  };
}

/** What DistributeImage distributes: the image record it describes, and the stored output to use. */
interface Source {
  image: ResourceRecord;
  output: JsonObject;
}

/**
 * `sourceImage`: an image ARN (a build version, or a version or wildcard resolving to the newest AVAILABLE
 * build) the caller may read, or a machine image id (`ami-…`) the caller may launch, made by an image build.
 */
async function resolveSource(store: Store, ctx: RequestContext, text: unknown, issues: Issue[]): Promise<Source | undefined> {
  if (typeof text !== 'string') return undefined;
  if (text.startsWith('ssm:')) {
    issues.push({ path: 'sourceImage', message: 'Kiln has no Systems Manager Parameter Store: give a machine image id (ami-…) or an image ARN' });
    return undefined;
  }
  if (isAmiId(text)) {
    const ami = await findMachineImage(store, ctx.accountId, ctx.region, text);
    if (!ami) throw new KilnError('NotFound', `The machine image ${text} does not exist or account ${ctx.accountId} may not launch it in ${ctx.region}.`);
    const data = machineImageData(ami);
    const image = await store.getResource(data.sourceImageArn);
    if (!image) {
      issues.push({ path: 'sourceImage', message: `machine image ${text} was made by image ${data.sourceImageArn}, which no longer exists` });
      return undefined;
    }
    return { image, output: { machine: { disk: data.disk, ...(data.rootfs ? { rootfs: data.rootfs } : {}) } } };
  }
  const arn = parseArn(text);
  const filter = arn?.version === undefined ? undefined : parseVersionFilter(arn.version);
  if (!arn || arn.resourceType !== TYPE || !filter) {
    issues.push({ path: 'sourceImage', message: `must be a machine image id (ami-…) or an image ARN (…:image/<name>/<version>[/<build>]), got ${text}` });
    return undefined;
  }
  if (arn.region !== ctx.region) throw imageNotFound(text, ctx);
  const builds = await readableVersions(store, ctx, { owner: arn.owner, type: TYPE, name: arn.name });
  const candidates = arn.build === undefined ? builds.filter((r) => stateOf(r).status === 'AVAILABLE') : builds;
  const image = pickBuild(candidates, filter, arn.build);
  if (!image) {
    if (builds.length === 0 || arn.build !== undefined) throw imageNotFound(text, ctx);
    throw new KilnError('InvalidRequest', `No build of ${text} is AVAILABLE; DistributeImage distributes an AVAILABLE image.`);
  }
  if (stateOf(image).status !== 'AVAILABLE') throw new KilnError('InvalidRequest', `The image ${image.arn} is ${stateOf(image).status}; DistributeImage distributes an AVAILABLE image.`);
  const output = Object.fromEntries(['containerImage', 'machine'].filter((k) => image.data[k] !== undefined).map((k) => [k, image.data[k]]));
  return { image, output };
}

/**
 * DistributeImage: a new image build version (the source's name and version, the next build number) that is
 * created DISTRIBUTING with the source's stored output and the given distribution configuration, tags,
 * execution role and logging configuration. Only its distribution runs.
 */
function distributeImage(store: Store, fetch: ReferenceFetcher): OperationHandler {
  return async (input, ctx) => {
    const issues: Issue[] = [];
    const role = str(input.executionRole);
    if (role === undefined || role.length < 1 || role.length > 2048 || !ROLE_RE.test(role)) {
      issues.push({ path: 'executionRole', message: 'must be an IAM role name or ARN (arn:aws:iam::<account>:role/<name>), 1-2048 characters' });
    }
    checkTags(input.tags, 'tags', issues);
    const logging = isJsonObject(input.loggingConfiguration) ? input.loggingConfiguration : undefined;
    const logGroupName = str(logging?.logGroupName);
    if (logGroupName !== undefined && !LOG_GROUP_RE.test(logGroupName)) issues.push({ path: 'loggingConfiguration.logGroupName', message: 'must be 1-512 letters, digits or - _ / .' });
    const source = await resolveSource(store, ctx, input.sourceImage, issues);
    const distribution = await fetch('GetDistributionConfiguration', ctx, 'distributionConfigurationArn', input.distributionConfigurationArn, 'distributionConfiguration', issues);
    if (source && distribution && source.image.data.type !== 'AMI') {
      const containers = ((distribution.distributions ?? []) as JsonObject[]).some((d) => isJsonObject(d.containerDistributionConfiguration));
      if (!containers) issues.push({ path: 'distributionConfigurationArn', message: `${String(distribution.arn)} has no containerDistributionConfiguration, so it cannot distribute container image ${source.image.arn}` });
    }
    if (source && !hasStoredOutput({ type: source.image.data.type, ...source.output })) {
      throw new KilnError('InvalidRequest', `The image ${source.image.arn} has no stored output to distribute (a Kiln-managed base is stored only once a build has used it).`);
    }
    if (issues.length > 0 || !source || !distribution) throw validationError('The image distribution', issues);
    const from = source.image;
    const data: JsonObject = {
      ...Object.fromEntries(CARRIED.filter((k) => from.data[k] !== undefined).map((k) => [k, from.data[k]])),
      ...source.output,
      state: { status: 'DISTRIBUTING' },
      distributionConfiguration: distribution,
      executionRole: role,
      ...(logging === undefined ? {} : { loggingConfiguration: logging }),
      ...(isJsonObject(input.tags) ? { tags: input.tags } : {}),
      buildType: 'USER_INITIATED',
      dateCreated: new Date().toISOString(),
      distribution: { attempts: 0, regions: [] },
      distributedFrom: from.arn,
    };
    const { record } = await store.createResource(
      { accountId: ctx.accountId, region: ctx.region, type: TYPE, name: from.name, version: from.version, arn: versionedArn(ctx.region, ctx.accountId, TYPE, from.name, from.version), data: JSON.parse(JSON.stringify(data)) as JsonObject, build: 'assign' },
      idempotencyKey(ctx, input),
      { enqueue: DISTRIBUTE_IMAGE_JOB },
    );
    return { clientToken: str(input.clientToken), imageBuildVersionArn: record.arn };
  };
}

/** RetryImage and DistributeImage. */
export function imageDistributionHandlers(store: Store, fetch: ReferenceFetcher): Record<string, OperationHandler> {
  return {
    RetryImage: retryImage(store),
    DistributeImage: distributeImage(store, fetch),
  };
}
