import type { Store } from '../store/store.js';
import type { Caller } from '../store/visibility.js';
import type { TypedRecord } from './typed-record.js';
import type { JsonObject } from '../domain/json.js';

/** A request as the resource layer sees it: who calls, and the operation (a service RequestContext is one). */
export interface Call extends Caller {
  operation: string;
}

/**
 * What a versioned family (components, workflows, ...) declares about itself; versioned.ts implements Create,
 * Get, List, ListBuildVersions and Delete once for all of them. Input validation and the wire field names of
 * each operation stay with the family's handlers in service/.
 */
export interface VersionedFamily<TData extends JsonObject> {
  /** The family's noun in messages: `component`, `workflow`. */
  noun: string;
  /** The store types (ARN resource types) the family spans; workflows keep one per workflow type. */
  types: readonly string[];
  /**
   * True when the family numbers builds within a version (Create assigns build 1 of a new version); false when a
   * version is the resource (recipes): its ARNs carry no build and Delete takes a version ARN.
   */
  builds: boolean;
  /** True when other accounts may read builds through resource policies: foreign ARNs and the Shared and Amazon owner views. */
  shared: boolean;
  /**
   * True when Kiln provides builds of the family under owner `aws` (managed workflows): every account reads them
   * by their ARNs and lists them under the Amazon owner view, even where the family is not `shared`. Nobody may
   * delete them: Delete answers Forbidden.
   */
  managed?: boolean;
  /** The List operation's name, quoted when a filter is not one of its own. */
  listOperation: string;
  /** List's input members, besides owner and filters, that its page tokens are bound to. */
  pageQuery: readonly string[];
  /** True when List's message for an unknown owner view lists the views. */
  ownerViewsInMessage?: boolean;
  arn: ArnShape;
  /** The filter names List accepts; each matches the Get shape's member of that name unless `filterMatch` says otherwise. */
  filters: readonly string[];
  filterMatch?: Readonly<Record<string, (shape: JsonObject, values: ReadonlySet<string>) => boolean>>;
  /** Get's shape of one build. */
  toShape(record: TypedRecord<TData>): JsonObject;
  /** List's shape of one version, addressed by its version ARN. */
  toVersionSummary(record: TypedRecord<TData>, versionArn: string): JsonObject;
  /** ListBuildVersions' shape of one build (families that number builds). */
  toBuildSummary?(record: TypedRecord<TData>): JsonObject;
  /** ARNs of what still uses this build; Delete refuses while there are any. A family whose Delete is its own (images) leaves these out. */
  dependents?(store: Store, record: TypedRecord<TData>): Promise<string[]>;
  /** Delete's DependencyExists message for those users. */
  inUse?(arn: string, users: readonly string[]): string;
}

/**
 * How a family's ARNs look, and the messages it has always answered a wrong one with: they differ between
 * families, and wire output stays byte-for-byte until a change means to alter it.
 */
export interface ArnShape {
  /** True for the family's ARN resource types. */
  matches(resourceType: string): boolean;
  /** Shown in parentheses in the invalid-ARN message, when set. */
  shape?: string;
  /** A version ARN's shape, for ListBuildVersions' message. */
  versionShape: string;
  /** True when an ARN without a version is not one of the family's at all (otherwise Get says the version is missing). */
  versionRequired: boolean;
  /** Refuses a build number after a wildcard version with this message; without it such a build is looked for. */
  wildcardBuild?: (field: string, text: string) => string;
  /** What NotFound calls an ARN outside the caller's account or region: `workflow`, `resource`. */
  hiddenNoun: string;
  /**
   * True when the version and build are checked before the region and owner, so a malformed ARN of another
   * region is InvalidVersion rather than NotFound; and Delete then answers a missing version as it answers one
   * out of reach, naming the ARN as sent.
   */
  checkedBeforeScope?: boolean;
}
