/** Manifest, tag-list, catalog and ping endpoints. */
import { MAX_MANIFEST_BYTES, OCI_INDEX, bareMediaType } from '../manifest.js';
import { isSha256Digest } from '../names.js';
import { unauthorized } from './auth.js';
import { checkReference, type RegistryCore } from './builtin-registry.js';
import { RegistryError } from './errors.js';
import { registryPaths } from './paths.js';
import { nextLink, pageSize, readSmallBody, type RegistryRequest, type RegistryResponse } from './request.js';

/** Manifest, listing and ping endpoints over the registry's rules. */
export class ManifestHandlers {
  constructor(private readonly core: RegistryCore) {}

  private get store() {
    return this.core.deps.store;
  }

  /** GET `/v2/`: 200 for a known caller, 401 with the Basic challenge otherwise. */
  ping(req: RegistryRequest): RegistryResponse {
    if (req.accountId === undefined) throw unauthorized('authentication required');
    return { status: 200, body: {} };
  }

  /** HEAD / GET / PUT / DELETE `/v2/<name>/manifests/<reference>`. */
  async manifest(req: RegistryRequest, name: string, reference: string): Promise<RegistryResponse> {
    if (req.method === 'PUT') {
      const bytes = await readSmallBody(req.body, MAX_MANIFEST_BYTES, req.signal);
      const mediaType = bareMediaType(req.headers['content-type']);
      const put = await this.core.putManifest({ accountId: req.accountId, repository: name, reference, bytes, ...(mediaType ? { mediaType } : {}), source: 'pushed' });
      // OCI-Subject tells the client this registry records subjects, so it need not keep a referrers tag itself.
      const headers: Record<string, string> = { location: registryPaths.manifest(name, put.digest), 'docker-content-digest': put.digest };
      if (put.subject) headers['oci-subject'] = put.subject;
      return { status: 201, headers };
    }
    if (req.method === 'DELETE') {
      await this.core.owned(name, req.accountId);
      checkReference(reference);
      const deleted = isSha256Digest(reference) ? await this.store.deleteRegistryManifest(name, reference) : await this.store.deleteRegistryTag(name, reference);
      if (!deleted) throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${reference} is not in repository ${name}`, { name, reference });
      return { status: 202 };
    }
    const found = await this.core.manifest(name, reference, req.accountId);
    const headers = { 'content-type': found.mediaType, 'docker-content-digest': found.digest, etag: `"${found.digest}"`, 'content-length': String(found.size) };
    if (req.method === 'HEAD') return { status: 200, headers };
    return { status: 200, headers, body: await this.core.deps.blobs.get(found.digest) };
  }

  /**
   * GET `/v2/<name>/referrers/<digest>`: an OCI index of the manifests whose subject is `digest` (empty when there
   * are none), under the repository's read rules; `?artifactType=` filters them, and OCI-Filters-Applied says so.
   */
  async referrers(req: RegistryRequest, name: string, digest: string): Promise<RegistryResponse> {
    const artifactType = req.query.get('artifactType') ?? undefined;
    const manifests = await this.core.referrers(name, digest, req.accountId, artifactType);
    const headers: Record<string, string> = { 'content-type': OCI_INDEX };
    if (artifactType !== undefined) headers['oci-filters-applied'] = 'artifactType';
    return { status: 200, headers, body: { schemaVersion: 2, mediaType: OCI_INDEX, manifests } };
  }

  /** GET `/v2/<name>/tags/list` (`?n=&last=` pages, with a `Link` to the next). */
  async tags(req: RegistryRequest, name: string): Promise<RegistryResponse> {
    await this.core.readable(name, req.accountId);
    const n = pageSize(req.query);
    const last = req.query.get('last') ?? undefined;
    const tags = await this.store.listRegistryTags(name, { ...(last !== undefined ? { after: last } : {}), ...(n !== undefined ? { limit: n } : {}) });
    return { status: 200, headers: nextLink(registryPaths.tags(name), n, tags), body: { name, tags } };
  }

  /** GET `/v2/_catalog`: the repositories this caller may read (public ones for anonymous callers). */
  async catalog(req: RegistryRequest): Promise<RegistryResponse> {
    const n = pageSize(req.query);
    const last = req.query.get('last') ?? undefined;
    const repos = await this.store.listRegistryRepositories({ reader: req.accountId, ...(last !== undefined ? { after: last } : {}), ...(n !== undefined ? { limit: n } : {}) });
    const repositories = repos.map((r) => r.name);
    return { status: 200, headers: nextLink(registryPaths.catalog(), n, repositories), body: { repositories } };
  }
}
