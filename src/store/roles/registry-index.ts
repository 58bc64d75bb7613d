/**
 * The index of Kiln's built-in OCI registry: repositories with their owners and readers, manifests, tags and
 * which blobs each repository links. The blob bytes live in the blob store, not here.
 */

/** A repository of Kiln's built-in OCI registry. Names are unique across the whole registry. */
export interface RegistryRepository {
  name: string;
  /** The owner: the account that first pushed to the name (or that Kiln created it for); the only writer. */
  accountId: string;
  /** Readable by everyone, anonymous callers included. */
  public: boolean;
  /** Other accounts that may read, sorted. */
  readers: string[];
  createdAt: string;
}

/** A manifest held in a registry repository (its bytes are a blob under `digest`). */
export interface RegistryManifest {
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  createdAt: string;
  /** The digest of the manifest this one refers to (its OCI `subject`: an SBOM or signature of an image). */
  subject?: string;
}

/** Repositories, manifests, tags and blob links of the built-in registry. */
export interface RegistryIndex {
  /**
   * The repository `name`, created owned by `accountId` when it does not exist yet (`created`). Of concurrent
   * first claims exactly one creates it; the others get that record, whoever owns it.
   */
  claimRegistryRepository(name: string, accountId: string): Promise<{ repository: RegistryRepository; created: boolean }>;
  /** The repository of that name, or undefined. */
  getRegistryRepository(name: string): Promise<RegistryRepository | undefined>;
  /**
   * Repositories `reader` may read (its own, shared with it, public ones; only public ones for undefined, the
   * anonymous reader), in name order, after the name `after`, at most `limit`.
   */
  listRegistryRepositories(query: { reader: string | undefined; after?: string; limit?: number }): Promise<RegistryRepository[]>;
  /** Replaces the readers and/or the public flag (whichever is given), atomically; NotFound for an unknown repository. */
  setRegistryRepositoryAccess(name: string, access: { readers?: readonly string[]; public?: boolean }): Promise<RegistryRepository>;
  /** Records blobs as part of a repository; repeats are no-ops. NotFound for an unknown repository. */
  linkRegistryBlobs(repository: string, digests: readonly string[]): Promise<void>;
  /** Whether a blob is linked to a repository (false for an unknown repository). */
  hasRegistryBlob(repository: string, digest: string): Promise<boolean>;
  /** Removes a blob from a repository (not from the blob store); false when it was not linked. */
  unlinkRegistryBlob(repository: string, digest: string): Promise<boolean>;
  /**
   * Records a manifest in one transaction: the blobs it references are linked to the repository, and `tag`,
   * when given, points at it. `manifests` (an index's children) must already be in the repository, else
   * NotFound naming the first missing digest and nothing changes. NotFound for an unknown repository.
   * `subject` records the manifest it refers to, which need not be in the repository (yet): OCI lets a referrer
   * be pushed before its subject.
   */
  putRegistryManifest(input: { repository: string; digest: string; mediaType: string; size: number; blobs: readonly string[]; manifests?: readonly string[]; tag?: string; subject?: string }): Promise<RegistryManifest>;
  /** The manifests of a repository whose subject is `subject` (the OCI referrers API), by digest. */
  listRegistryReferrers(repository: string, subject: string): Promise<RegistryManifest[]>;
  /** The manifest a tag or a digest (`sha256:…`) names in a repository. */
  getRegistryManifest(repository: string, reference: string): Promise<RegistryManifest | undefined>;
  /** Tags of a repository in lexical order, after `after`, at most `limit`. */
  listRegistryTags(repository: string, query?: { after?: string; limit?: number }): Promise<string[]>;
  /** Deletes a manifest from a repository with every tag pointing at it; false when it was not there. */
  deleteRegistryManifest(repository: string, digest: string): Promise<boolean>;
  /** Removes a tag (not the manifest it points at); false when it was not there. */
  deleteRegistryTag(repository: string, tag: string): Promise<boolean>;
  /** Every manifest of every repository (garbage collection's roots in the registry), by repository and digest. */
  listRegistryManifests(): Promise<RegistryManifest[]>;
  /** Every blob digest some repository links (uploaded, mounted or named by a manifest there), once each, sorted. */
  listLinkedRegistryBlobs(): Promise<string[]>;
}
