/**
 * The image family: what an image build version stores, how Get and the Lists show it, and its descriptor for
 * src/resources/ (GetImage and ListImagePackages resolve through it). Builds are started in image-builds.ts.
 */
import { formatArn, parseArn } from '../domain/arn.js';
import { KilnError } from '../domain/errors.js';
import type { ImageState } from '../domain/image-state.js';
import type { JsonObject } from '../domain/json.js';
import { parseSemver } from '../domain/semver.js';
import type { VersionedFamily } from '../resources/family.js';
import { typed, type TypedRecord } from '../resources/typed-record.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { versionedArn } from '../store/versioned.js';
import type { ImageSettings } from './image-settings.js';
import type { RequestContext } from './types.js';

export const IMAGE_TYPE = 'image';

/**
 * An image build version as stored. The recipe and configurations are snapshots taken when the build was
 * requested, exactly as their Get operations showed them, because AWS's GetImage shows what the image was built
 * from even after a configuration changes; the build engine reads the same snapshots. The build and lifecycle
 * executions add the output, packages, and deprecation fields later.
 */
export type ImageData = ImageSettings & {
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
  packages?: JsonObject[];
  deprecationTime?: unknown;
  lifecycleExecutionId?: unknown;
  /** Set by scans (builder/stages/image-scan.ts): AWS's ImageScanState. */
  scanState?: JsonObject;
  dateCreated: string;
};

export type ImageRecord = TypedRecord<ImageData>;

/** Reads a stored image build version (records of type `image` are written by image-builds.ts only). */
export const imageRecord = (record: ResourceRecord): ImageRecord => typed<ImageData>(record);

/** The filters of ListImages and ListImageBuildVersions; `version` matches `1.2.3` or `1.2.3/4`. */
export const IMAGE_FILTERS = ['name', 'osVersion', 'platform', 'type', 'version'];

/** Whether an image build matches a filter's values: `version` by version or version/build, the rest by the stored field. */
export function imageMatches(record: ImageRecord, name: string, values: ReadonlySet<string>): boolean {
  if (name === 'version') return values.has(record.version) || values.has(`${record.version}/${record.build}`);
  const fields: JsonObject = record.data;
  return values.has(String(fields[name] ?? ''));
}

const outputsOf = (d: ImageData): JsonObject => d.outputResources ?? (d.type === 'DOCKER' ? { containers: [] } : { amis: [] });

/** What a lifecycle execution last did to the image: deprecationTime is a timestamp on the wire. */
function lifecycleFields(d: ImageData): JsonObject {
  const { deprecationTime, lifecycleExecutionId } = d;
  return {
    ...(typeof deprecationTime === 'string' ? { deprecationTime: new Date(deprecationTime) } : {}),
    ...(typeof lifecycleExecutionId === 'string' ? { lifecycleExecutionId } : {}),
  };
}

/** GetImage's Image shape. */
export function toImage(record: ImageRecord): JsonObject {
  const d = record.data;
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
    outputResources: outputsOf(d),
    tags: d.tags ?? {},
    buildType: d.buildType,
    imageSource: d.imageSource,
    scanState: d.scanState,
    imageScanningConfiguration: d.imageScanningConfiguration,
    ...lifecycleFields(d),
    executionRole: d.executionRole,
    workflows: d.workflows,
    loggingConfiguration: d.loggingConfiguration,
  };
}

/** The ImageSummary of the build-version lists. */
export function toImageSummary(record: ImageRecord): JsonObject {
  const d = record.data;
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
    outputResources: outputsOf(d),
    tags: d.tags ?? {},
    buildType: d.buildType,
    imageSource: d.imageSource,
    ...lifecycleFields(d),
    loggingConfiguration: d.loggingConfiguration,
  };
}

/** ListImages' view of one semantic version (or, with byName, of one name), from its newest build, under `arn`. */
export function toImageVersion(record: ImageRecord, arn: string): JsonObject {
  const d = record.data;
  return {
    arn,
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

/**
 * How images differ from the other versioned families. Their Create, Lists and Delete are their own
 * (images.ts): a build is numbered when it is requested, ListImages groups by name or version from the newest
 * build, and a build under way cannot be deleted.
 */
export const imageFamily: VersionedFamily<ImageData> = {
  noun: 'image',
  types: [IMAGE_TYPE],
  builds: true,
  shared: true,
  listOperation: 'ListImages',
  pageQuery: ['byName', 'includeDeprecated'],
  ownerViewsInMessage: true,
  arn: {
    matches: (type) => type === IMAGE_TYPE,
    shape: '…:image/<name>/<version>[/<build>], wildcards such as x.x.x allowed',
    versionShape: '…:image/<name>/<major>.<minor>.<patch>',
    versionRequired: true,
    wildcardBuild: (field, text) => `The value supplied for parameter '${field}' has a build number after a wildcard version: ${text}`,
    hiddenNoun: 'image',
    checkedBeforeScope: true,
  },
  filters: IMAGE_FILTERS,
  // The Image shape's version is `1.2.3/4`; the filter matches that or `1.2.3`.
  filterMatch: { version: (image, values) => values.has(String(image.version)) || values.has(String(image.version).split('/')[0]!) },
  toShape: toImage,
  toVersionSummary: toImageVersion,
  toBuildSummary: toImageSummary,
};

/** NotFound for an image the caller cannot see, whether or not it exists. */
export function imageNotFound(text: unknown, ctx: RequestContext): KilnError {
  return new KilnError('NotFound', `The image ${String(text)} does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}.`);
}

/** The caller's own image build version named by an exact build-version ARN (no wildcard, build required). */
export async function callerBuild(store: Store, ctx: RequestContext, text: unknown): Promise<ImageRecord> {
  const arn = typeof text === 'string' ? parseArn(text) : undefined;
  if (!arn || arn.resourceType !== IMAGE_TYPE || arn.build === undefined || !parseSemver(arn.version ?? '')) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter 'imageBuildVersionArn' must be an image build version ARN (…:image/<name>/<major>.<minor>.<patch>/<build>): ${String(text)}`);
  }
  const canonical = formatArn(arn);
  const record = arn.region === ctx.region && arn.owner === ctx.accountId ? await store.getResource(canonical) : undefined;
  if (!record || record.type !== IMAGE_TYPE) throw imageNotFound(canonical, ctx);
  return imageRecord(record);
}

/** The ARN ListImages shows a version under: its own, or with byName the name's `x.x.x`. */
export const imageVersionArn = (record: ImageRecord, selector: string): string => versionedArn(record.region, record.accountId, IMAGE_TYPE, record.name, selector);
