/**
 * Kiln's built-in registry: who may read and write which repository, and how manifests enter it. Records
 * (repositories, tags, manifests, which blobs a repository holds) live in the Store; bytes in the blob store.
 * The HTTP API (routes.ts) and the build engine (the in-process API below) share this one set of rules.
 */
import type { BlobStore } from '../../artifacts/blob-store.js';
import { digestOf } from '../../artifacts/blob-store.js';
import { KilnError, isKilnError } from '../../domain/errors.js';
import type { AccountStore, RegistryIndex, RegistryManifest, RegistryRepository } from '../../store/store.js';
import { artifactTypeOf, OCI_MANIFEST, parseManifest, requiredBlobs, type ParsedManifest } from '../manifest.js';
import { artifactManifest, EMPTY_CONFIG } from '../artifact-manifest.js';
import { isRepositoryName, isSha256Digest, isTag } from '../names.js';
import { unauthorized } from './auth.js';
import { RegistryError } from './errors.js';

export interface BuiltinRegistry {
  /** Points `repository:tag` at a manifest already in the blob store (its config and layers must be there
   *  too), creating the repository owned by accountId if needed; Forbidden when another account owns it. */
  tag(input: { accountId: string; repository: string; tag: string; manifestDigest: string; mediaType: string }): Promise<void>;
  /** Resolves `repository:tag` or `repository@digest` for a reader (account id, or undefined = anonymous);
   *  NotFound for a missing repository or one the reader may not read, Forbidden for anonymous readers. */
  resolve(input: { accountId: string | undefined; repository: string; reference: string }): Promise<{ manifestDigest: string; mediaType: string }>;
  /** Makes a repository readable by other accounts or by everyone (for distribution's launch permissions). */
  setAccess(input: { repository: string; accounts?: string[]; public?: boolean }): Promise<void>;
  /**
   * Attaches `payload` to the manifest `subject` (already in `repository`) as an untagged OCI artifact of type
   * `artifactType`, listed by the referrers API; returns the artifact manifest's digest. Idempotent.
   */
  attach(input: { accountId: string; repository: string; subject: string; artifactType: string; payload: Buffer; annotations?: Record<string, string> }): Promise<string>;
}

export interface BuiltinRegistryDeps {
  /** The registry's index, and the key secrets its Basic auth checks by default. */
  store: RegistryIndex & Pick<AccountStore, 'getAccessKeySecret'>;
  blobs: BlobStore;
  /** The region Kiln serves; repositories are global to the one registry host, so it names no record. */
  region: string;
}

/** A manifest as the referrers API lists it. */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** An index nests manifests; deeper nesting than this is refused rather than followed. */
const MAX_INDEX_DEPTH = 4;
const ACCOUNT_RE = /^\d{12}$/;

/** NAME_INVALID unless `repository` is a valid repository name. */
export function checkName(repository: string): void {
  if (!isRepositoryName(repository)) throw new RegistryError('NAME_INVALID', `invalid repository name ${JSON.stringify(repository)}`, { name: repository });
}

/** TAG_INVALID unless `reference` is a tag or a sha256 digest. */
export function checkReference(reference: string): void {
  if (reference.includes(':') ? !isSha256Digest(reference) : !isTag(reference)) {
    throw new RegistryError('TAG_INVALID', `invalid tag or digest ${JSON.stringify(reference)}`, { reference });
  }
}

/** Owners, accounts it is shared with and (when public) everyone may read a repository. */
export function canRead(repo: RegistryRepository, accountId: string | undefined): boolean {
  return repo.public || (accountId !== undefined && (repo.accountId === accountId || repo.readers.includes(accountId)));
}

interface PutManifestInput {
  accountId: string | undefined;
  repository: string;
  /** Tag to point at the manifest, or the digest it must have; none for an index's children. */
  reference?: string;
  bytes: Buffer;
  /** The media type the sender stated (Content-Type). */
  mediaType?: string;
  /**
   * `pushed`: referenced blobs and child manifests must already be in the repository (an HTTP push).
   * `stored`: they must be in the blob store, and are added to the repository (the build engine's tag).
   */
  source: 'pushed' | 'stored';
}

/** The registry's rules; routes.ts uses the whole class, the build engine the BuiltinRegistry part. */
export class RegistryCore implements BuiltinRegistry {
  constructor(readonly deps: BuiltinRegistryDeps) {}

  /**
   * The repository, when `accountId` may read it. Anonymous callers get UNAUTHORIZED (with the challenge that
   * makes clients send credentials) for anything not public. An account gets one answer, NAME_UNKNOWN (404)
   * with the same message, for a repository that does not exist and for one it may not read, so that nobody
   * learns which private repositories exist. NAME_UNKNOWN rather than DENIED: 404 is what the distribution
   * spec (and its conformance tests) require for a missing name, so a hidden one answers as missing.
   */
  async readable(repository: string, accountId: string | undefined): Promise<RegistryRepository> {
    checkName(repository);
    const repo = await this.deps.store.getRegistryRepository(repository);
    if (repo && canRead(repo, accountId)) return repo;
    if (accountId === undefined) throw unauthorized(`authentication required to read ${repository}`);
    throw new RegistryError('NAME_UNKNOWN', `repository ${repository} does not exist or account ${accountId} may not read it`, { name: repository });
  }

  /**
   * The repository, created for `accountId` on its first write (a push); DENIED when another account owns it.
   * A push to a free name succeeds, so a refused one necessarily tells that the name is taken.
   */
  async writable(repository: string, accountId: string | undefined): Promise<RegistryRepository> {
    checkName(repository);
    if (accountId === undefined) throw unauthorized(`authentication required to push to ${repository}`);
    const { repository: repo } = await this.deps.store.claimRegistryRepository(repository, accountId);
    if (repo.accountId !== accountId) {
      throw new RegistryError('DENIED', `repository ${repository} belongs to another account; account ${accountId} may not push to it`, { name: repository });
    }
    return repo;
  }

  /**
   * The repository, when it exists and `accountId` owns it: for changes to what it holds (deletes, upload
   * sessions), which never create it. Missing and unreadable repositories answer as readable() does; DENIED
   * only to an account that may read it (and so knows it exists).
   */
  async owned(repository: string, accountId: string | undefined): Promise<RegistryRepository> {
    if (accountId === undefined) throw unauthorized(`authentication required to change ${repository}`);
    const repo = await this.readable(repository, accountId);
    if (repo.accountId !== accountId) {
      throw new RegistryError('DENIED', `repository ${repository} belongs to another account; account ${accountId} may not change it`, { name: repository });
    }
    return repo;
  }

  /** Checks and records a manifest (see PutManifestInput.source); returns its digest and media type. */
  async putManifest(input: PutManifestInput, depth = 0): Promise<{ digest: string; mediaType: string; subject?: string }> {
    // Who may write comes first: a stranger learns nothing from the checks that follow.
    await this.writable(input.repository, input.accountId);
    const digest = digestOf(input.bytes);
    let tag: string | undefined;
    if (input.reference !== undefined) {
      checkReference(input.reference);
      if (input.reference.includes(':')) {
        if (input.reference !== digest) throw new RegistryError('DIGEST_INVALID', `manifest content is ${digest}, not ${input.reference}`, { digest: input.reference });
      } else {
        tag = input.reference;
      }
    }
    let manifest: ParsedManifest;
    try {
      manifest = parseManifest(input.bytes, input.mediaType);
    } catch (err) {
      if (isKilnError(err, 'InvalidArgument')) throw new RegistryError('MANIFEST_INVALID', err.message);
      throw err;
    }
    const blobs = requiredBlobs(manifest);
    for (const d of blobs) {
      const info = await this.deps.blobs.stat(d.digest);
      const linked = input.source === 'stored' || (await this.deps.store.hasRegistryBlob(input.repository, d.digest));
      if (!info || !linked) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', `blob ${d.digest} is not in repository ${input.repository}`, { digest: d.digest });
      if (info.size !== d.size) throw new RegistryError('MANIFEST_INVALID', `blob ${d.digest} has ${info.size} bytes, the manifest says ${d.size}`, { digest: d.digest });
    }
    const children = manifest.kind === 'index' ? manifest.manifests.map((m) => m.digest) : [];
    if (manifest.kind === 'index' && input.source === 'stored') {
      if (depth >= MAX_INDEX_DEPTH) throw new RegistryError('MANIFEST_INVALID', `indexes nest deeper than ${MAX_INDEX_DEPTH} levels`);
      for (const child of manifest.manifests) {
        const bytes = await this.deps.blobs.get(child.digest).catch((err: unknown) => {
          if (isKilnError(err, 'NotFound')) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', `manifest ${child.digest} listed by the index is not in the blob store`, { digest: child.digest });
          throw err;
        });
        await this.putManifest({ ...input, reference: undefined, bytes, mediaType: child.mediaType }, depth + 1);
      }
    }
    await this.deps.blobs.put(input.bytes, { expectedDigest: digest });
    try {
      await this.deps.store.putRegistryManifest({
        repository: input.repository,
        digest,
        mediaType: manifest.mediaType,
        size: input.bytes.byteLength,
        blobs: blobs.map((b) => b.digest),
        manifests: children,
        ...(tag !== undefined ? { tag } : {}),
        ...(manifest.subject ? { subject: manifest.subject.digest } : {}),
      });
    } catch (err) {
      if (isKilnError(err, 'NotFound')) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', err.message);
      throw err;
    }
    return { digest, mediaType: manifest.mediaType, ...(manifest.subject ? { subject: manifest.subject.digest } : {}) };
  }

  /**
   * The referrers of `subject` in a repository, for a reader (the OCI referrers API): each referring manifest's
   * descriptor with its artifact type and annotations, read from its bytes; only those of `artifactType` when given.
   */
  async referrers(repository: string, subject: string, accountId: string | undefined, artifactType?: string): Promise<ReferrerDescriptor[]> {
    await this.readable(repository, accountId);
    if (!isSha256Digest(subject)) throw new RegistryError('DIGEST_INVALID', `invalid digest ${JSON.stringify(subject)}`, { digest: subject });
    const out: ReferrerDescriptor[] = [];
    for (const m of await this.deps.store.listRegistryReferrers(repository, subject)) {
      const parsed = parseManifest(await this.deps.blobs.get(m.digest), m.mediaType);
      const type = artifactTypeOf(parsed);
      if (artifactType !== undefined && type !== artifactType) continue;
      out.push({ mediaType: m.mediaType, digest: m.digest, size: m.size, ...(type ? { artifactType: type } : {}), ...(parsed.annotations ? { annotations: parsed.annotations } : {}) });
    }
    return out;
  }

  /** The manifest a tag or digest names, for a reader; MANIFEST_UNKNOWN when the repository lacks it. */
  async manifest(repository: string, reference: string, accountId: string | undefined): Promise<RegistryManifest> {
    await this.readable(repository, accountId);
    checkReference(reference);
    const found = await this.deps.store.getRegistryManifest(repository, reference);
    if (!found) throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${reference} is not in repository ${repository}`, { name: repository, reference });
    return found;
  }

  async tag(input: { accountId: string; repository: string; tag: string; manifestDigest: string; mediaType: string }): Promise<void> {
    if (!isTag(input.tag)) throw new RegistryError('TAG_INVALID', `tag ${JSON.stringify(input.tag)} is not a valid tag`, { tag: input.tag });
    if (!isSha256Digest(input.manifestDigest)) throw new RegistryError('DIGEST_INVALID', `manifestDigest ${JSON.stringify(input.manifestDigest)} is not a sha256 digest`);
    const bytes = await this.deps.blobs.get(input.manifestDigest).catch((err: unknown) => {
      if (isKilnError(err, 'NotFound')) throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${input.manifestDigest} is not in the blob store`, { digest: input.manifestDigest });
      throw err;
    });
    await this.putManifest({ accountId: input.accountId, repository: input.repository, reference: input.tag, bytes, mediaType: input.mediaType, source: 'stored' });
  }

  async resolve(input: { accountId: string | undefined; repository: string; reference: string }): Promise<{ manifestDigest: string; mediaType: string }> {
    const found = await this.manifest(input.repository, input.reference, input.accountId);
    return { manifestDigest: found.digest, mediaType: found.mediaType };
  }

  async attach(input: { accountId: string; repository: string; subject: string; artifactType: string; payload: Buffer; annotations?: Record<string, string> }): Promise<string> {
    const subject = await this.manifest(input.repository, input.subject, input.accountId);
    await this.deps.blobs.put(EMPTY_CONFIG);
    await this.deps.blobs.put(input.payload);
    const bytes = artifactManifest({ ...input, subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size } });
    const put = await this.putManifest({ accountId: input.accountId, repository: input.repository, bytes, mediaType: OCI_MANIFEST, source: 'stored' });
    return put.digest;
  }

  async setAccess(input: { repository: string; accounts?: string[]; public?: boolean }): Promise<void> {
    checkName(input.repository);
    input.accounts?.forEach((a, i) => {
      if (!ACCOUNT_RE.test(a)) throw new KilnError('InvalidArgument', `accounts[${i}]: ${JSON.stringify(a)} is not a 12-digit account id`);
    });
    try {
      await this.deps.store.setRegistryRepositoryAccess(input.repository, {
        ...(input.accounts !== undefined ? { readers: input.accounts } : {}),
        ...(input.public !== undefined ? { public: input.public } : {}),
      });
    } catch (err) {
      if (isKilnError(err, 'NotFound')) throw new RegistryError('NAME_UNKNOWN', `repository ${input.repository} does not exist`, { name: input.repository });
      throw err;
    }
  }
}

/** The in-process API over a store and a blob store (stateless: any number of them may share both). */
export function createBuiltinRegistry(deps: BuiltinRegistryDeps): BuiltinRegistry {
  return new RegistryCore(deps);
}
