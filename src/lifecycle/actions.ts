/**
 * Lifecycle actions on one image build version and the resources it produced:
 *
 * - DEPRECATE / DISABLE / AVAILABLE / DELETE set the image's state (lifecycleTransition); the record of a
 *   deleted image stays, DELETED, so its execution history can name it; blobs it alone held are freed by gc.ts;
 * - with includeResources.amis, its machine images are deprecated (deprecation time and the `DeprecatedBy` tag
 *   EC2 Image Builder adds), disabled (made private: their launch permissions and grants removed), restored
 *   (AVAILABLE clears both marks; sharing is not restored, as EC2's EnableImage does not), or deregistered;
 * - with includeResources.containers (DELETE), the image's tags in Kiln's registry are removed, then its
 *   manifest once no tag of that repository names it, and the blobs no other manifest of the repository needs
 *   are unlinked from it. URIs of other registries are reported SKIPPED: Kiln deletes only from its own.
 *
 * A resource that is already gone or already in the wanted state is a SUCCESS, as on AWS.
 */
import { signatureTag } from '../domain/image-signatures.js';
import type { BlobStore } from '../artifacts/blob-store.js';
import { errorMessage, isKilnError } from '../domain/errors.js';
import { lifecycleTransition, type ImageState, type LifecycleStatus } from '../domain/image-state.js';
import type { ResourceRecord, Store } from '../store/store.js';
import type { IncludeResources } from './evaluate.js';
import type { ActionName, ExecutionResource, ResourceStatus } from './execution-records.js';
import { machineImagesOf } from './candidates.js';
import { reachableBlobs } from './gc.js';
import type { JsonObject } from '../domain/json.js';

export interface ActionContext {
  store: Store;
  blobs: BlobStore;
  /** `host:port` of Kiln's registry as image URIs name it. */
  registryHost: () => string;
  now: () => Date;
  executionId: string;
}

/** One image's action as the runner asks for it. */
export interface ImageAction {
  imageArn: string;
  action: ActionName;
  include: IncludeResources;
  /** Machine images spared by AMI exclusion rules, with the reason. */
  amiSkips: ReadonlyMap<string, string>;
  /** StartResourceStateUpdate (may return an image to AVAILABLE), as opposed to a policy rule. */
  manual: boolean;
}

/** The outcome for the image and for each associated resource (children name the image as parent). */
export interface ActionOutcome {
  image: { status: ResourceStatus; reason?: string };
  imageUris: string[];
  children: ExecutionResource[];
}

export const TARGET: Readonly<Record<ActionName, LifecycleStatus>> = { AVAILABLE: 'AVAILABLE', DEPRECATE: 'DEPRECATED', DISABLE: 'DISABLED', DELETE: 'DELETED' };
const DEPRECATED_BY = 'DeprecatedBy';

const obj = (v: unknown): JsonObject => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : {});

/** Moves the image record to the action's state; SUCCESS when already there, FAILED when the move is refused. */
async function changeImageState(ctx: ActionContext, arn: string, request: ImageAction): Promise<{ status: ResourceStatus; reason?: string }> {
  const target = TARGET[request.action];
  let already = false;
  try {
    await ctx.store.updateResource(arn, (current) => {
      const state = current.data.state as ImageState;
      if (state.status === target) {
        already = true;
        return current.data;
      }
      const next = lifecycleTransition(state, target, request.manual);
      const data: JsonObject = { ...current.data, state: next, lifecycleExecutionId: ctx.executionId };
      if (target === 'DEPRECATED') data.deprecationTime = ctx.now().toISOString();
      if (target === 'AVAILABLE') delete data.deprecationTime;
      return data;
    });
  } catch (err) {
    if (isKilnError(err, 'NotFound')) return request.action === 'DELETE' ? { status: 'SUCCESS', reason: 'the image record was already deleted' } : { status: 'FAILED', reason: `the image ${arn} no longer exists` };
    return { status: 'FAILED', reason: errorMessage(err) };
  }
  return already ? { status: 'SUCCESS', reason: `the image was already ${target}` } : { status: 'SUCCESS' };
}

/** Applies the action to one machine image. */
async function machineImageAction(ctx: ActionContext, mi: ResourceRecord, action: ActionName): Promise<{ status: ResourceStatus; reason?: string }> {
  const { store } = ctx;
  if (action === 'DELETE') {
    return (await store.deleteResource(mi.arn)) ? { status: 'SUCCESS', reason: 'deregistered' } : { status: 'SUCCESS', reason: 'the machine image was already deregistered' };
  }
  const now = ctx.now().toISOString();
  if (action === 'DISABLE') await store.putResourcePolicy(mi.arn, JSON.stringify({ launchPermission: { userIds: [], userGroups: [] } }), []);
  await store.updateResource(mi.arn, (current) => {
    const data: JsonObject = { ...current.data };
    const tags = { ...(obj(data.tags) as Record<string, string>) };
    if (action === 'DEPRECATE') {
      data.deprecationTime = now;
      tags[DEPRECATED_BY] = 'EC2 Image Builder';
    } else {
      // Disabling is the more restrictive state, and AVAILABLE undoes both: the deprecation mark goes either way.
      delete data.deprecationTime;
      delete tags[DEPRECATED_BY];
    }
    if (action === 'DISABLE') {
      data.launchPermission = { userIds: [], userGroups: [] };
      data.disabledTime = now;
    }
    if (action === 'AVAILABLE') delete data.disabledTime;
    data.tags = tags;
    return data;
  });
  return { status: 'SUCCESS', reason: action === 'DISABLE' ? 'made private: its launch permissions were removed' : undefined };
}

/** `host/repository:tag` or `host/repository@sha256:…` → its parts; undefined for anything else. */
export function parseImageUri(uri: string): { host: string; repository: string; tag?: string; digest?: string } | undefined {
  const slash = uri.indexOf('/');
  if (slash <= 0) return undefined;
  const host = uri.slice(0, slash);
  const rest = uri.slice(slash + 1);
  const at = rest.indexOf('@');
  if (at > 0) return { host, repository: rest.slice(0, at), digest: rest.slice(at + 1) };
  const colon = rest.lastIndexOf(':');
  if (colon <= 0 || rest.slice(colon).includes('/')) return undefined;
  return { host, repository: rest.slice(0, colon), tag: rest.slice(colon + 1) };
}

/**
 * Removes the manifest from a repository when no tag there names it any more, with the artifacts that refer to
 * it (its SBOM, their referrers in turn), and unlinks the blobs only they needed, so the garbage collector may
 * free them.
 */
async function dropUntaggedManifest(ctx: RegistryContext, repository: string, digest: string): Promise<boolean> {
  const { store } = ctx;
  for (const tag of await store.listRegistryTags(repository)) {
    if ((await store.getRegistryManifest(repository, tag))?.digest === digest) return false;
  }
  if (!(await store.deleteRegistryManifest(repository, digest))) return false;
  const dropped = [digest];
  for (let i = 0; i < dropped.length; i++) {
    for (const referrer of await store.listRegistryReferrers(repository, dropped[i]!)) {
      if (await store.deleteRegistryManifest(repository, referrer.digest)) dropped.push(referrer.digest);
    }
  }
  const remaining = (await store.listRegistryManifests()).filter((m) => m.repository === repository).map((m) => m.digest);
  const stillNeeded = await reachableBlobs(ctx.blobs, remaining);
  for (const blob of await reachableBlobs(ctx.blobs, dropped)) {
    if (!stillNeeded.has(blob)) await store.unlinkRegistryBlob(repository, blob);
  }
  return true;
}

/** Deletes the `sha256-<hex>.sig` tag of a manifest and the signature manifest it named, if there is one. */
async function dropSignatures(ctx: RegistryContext, repository: string, digest: string): Promise<void> {
  const tag = signatureTag(digest);
  const sig = await ctx.store.getRegistryManifest(repository, tag);
  if (!sig) return;
  await ctx.store.deleteRegistryTag(repository, tag);
  await dropUntaggedManifest(ctx, repository, sig.digest);
}

/** What deleting from Kiln's registry needs. */
export type RegistryContext = Pick<ActionContext, 'store' | 'blobs' | 'registryHost'>;

/**
 * Deletes one image URI of a container image from Kiln's registry: the tag, then the manifest once no tag names
 * it, unlinking the blobs only it needed. A URI of another registry is SKIPPED, a tag now naming another image
 * than `manifestDigest` is left in place.
 */
export async function deleteContainerUri(ctx: RegistryContext, uri: string, manifestDigest: string | undefined): Promise<{ status: ResourceStatus; reason?: string }> {
  const ref = parseImageUri(uri);
  const host = ctx.registryHost();
  if (!ref || ref.host !== host) {
    return { status: 'SKIPPED', reason: `${uri} is not in Kiln's registry (${host}); Kiln deletes container images from its own registry only` };
  }
  const { store } = ctx;
  const repo = await store.getRegistryRepository(ref.repository);
  if (!repo) return { status: 'SUCCESS', reason: `the repository ${ref.repository} no longer exists` };
  const reference = ref.tag ?? ref.digest!;
  const found = await store.getRegistryManifest(ref.repository, reference);
  if (!found) return { status: 'SUCCESS', reason: `${reference} was already gone from ${ref.repository}` };
  if (manifestDigest !== undefined && found.digest !== manifestDigest) {
    return { status: 'SUCCESS', reason: `the tag ${reference} now names ${found.digest}, another image; it was left in place` };
  }
  if (ref.tag !== undefined) await store.deleteRegistryTag(ref.repository, ref.tag);
  const dropped = await dropUntaggedManifest(ctx, ref.repository, found.digest);
  // The image's sigstore signatures (image-signatures.ts) go with its manifest: they would sign nothing.
  if (dropped) await dropSignatures(ctx, ref.repository, found.digest);
  return { status: 'SUCCESS', reason: dropped ? `deleted ${found.digest} from ${ref.repository}` : `deleted the tag; ${found.digest} stays for the other tags that name it` };
}

/** The image URIs an image's distribution recorded, with their regions. */
export function containerUris(record: ResourceRecord): { region: string; uri: string }[] {
  const containers = obj(record.data.outputResources).containers;
  if (!Array.isArray(containers)) return [];
  return containers.flatMap((c: unknown) => {
    const region = String(obj(c).region ?? record.region);
    const uris = obj(c).imageUris;
    return Array.isArray(uris) ? uris.filter((u): u is string => typeof u === 'string').map((uri) => ({ region, uri })) : [];
  });
}

/**
 * Applies an action to an image and the associated resources its include settings name. Never throws for one
 * resource's failure: each outcome carries its status and reason. A deletion removes the associated resources
 * before the image's state changes; other actions change the state first and leave the machine images alone
 * when that is refused.
 */
export async function applyImageAction(ctx: ActionContext, request: ImageAction): Promise<ActionOutcome> {
  const { store } = ctx;
  const record = await store.getResource(request.imageArn);
  const children: ExecutionResource[] = [];
  const child = (resourceId: string, accountId: string, region: string, started: string, result: { status: ResourceStatus; reason?: string }, imageUris?: string[]): void => {
    children.push({
      resourceId,
      parentResourceId: request.imageArn,
      accountId,
      region,
      action: { name: request.action },
      state: result.reason === undefined ? { status: result.status } : result,
      ...(imageUris ? { imageUris } : {}),
      startTime: started,
      endTime: ctx.now().toISOString(),
    });
  };
  const uris = record ? containerUris(record) : [];

  const associated = async () => {
    if (request.include.containers === true && record) {
      const manifestDigest = obj(record.data.containerImage).manifestDigest;
      for (const { region, uri } of uris) {
        const started = ctx.now().toISOString();
        const result = await deleteContainerUri(ctx, uri, typeof manifestDigest === 'string' ? manifestDigest : undefined).catch((err: unknown) => ({ status: 'FAILED' as const, reason: errorMessage(err) }));
        child(uri, record.accountId, region, started, result, [uri]);
      }
    }
    if (request.include.amis === true) {
      for (const mi of await machineImagesOf(store, request.imageArn)) {
        const started = ctx.now().toISOString();
        const amiId = String(mi.data.amiId ?? mi.name);
        const skipped = request.amiSkips.get(amiId);
        const result = skipped !== undefined ? { status: 'SKIPPED' as const, reason: skipped } : await machineImageAction(ctx, mi, request.action).catch((err: unknown) => ({ status: 'FAILED' as const, reason: errorMessage(err) }));
        child(amiId, mi.accountId, mi.region, started, result);
      }
    }
  };

  let image: { status: ResourceStatus; reason?: string };
  if (request.action === 'DELETE') {
    await associated();
    image = await changeImageState(ctx, request.imageArn, request);
  } else {
    image = await changeImageState(ctx, request.imageArn, request);
    if (image.status === 'SUCCESS') await associated();
  }
  return { image, imageUris: uris.map((u) => u.uri), children };
}
