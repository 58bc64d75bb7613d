/**
 * DeleteImage frees what only the deleted image used, as deleting an image with its resources does on AWS: the
 * tags its distribution pushed to Kiln's registry (and the manifest once no tag names it, with the blobs only it
 * needed unlinked from the repository), the machine images (AMIs) it produced, and its step logs. Their blobs, unpacked layers
 * and disks are then freed by the garbage collector, which keeps whatever another image, machine image or
 * registry manifest still names: a layer shared with another image stays.
 *
 * Image URIs in other registries are left alone (Kiln deletes only from its own, as lifecycle policies do), as
 * is a tag that names another image by now.
 */
import type { BlobStore } from '../artifacts/blob-store.js';
import { errorMessage } from '../domain/errors.js';
import { isInProgress, type ImageState } from '../domain/image-state.js';
import { containerUris, deleteContainerUri } from '../lifecycle/actions.js';
import { machineImagesOf } from '../lifecycle/candidates.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { callerBuild } from './image-family.js';
import type { OperationHandler } from './types.js';

/** What freeing an image's outputs needs from the composition root. */
export interface ImageOutputPort {
  store: Store;
  blobs: BlobStore;
  /** `host:port` of Kiln's registry as image URIs name it. */
  registryHost: () => string;
  /** Deletes the image build's step logs wherever they are kept (the data directory or the shared bucket). */
  deleteLogs?: (imageArn: string) => Promise<void>;
  /** Starts a collection of what nothing references any more (not awaited by DeleteImage). */
  collectGarbage?: () => Promise<unknown>;
  /** A line for the server log: what could not be freed, or was left. */
  log: (text: string) => void;
}

/** What was freed, and what was left with the reason. */
export interface FreedOutputs {
  imageUris: string[];
  machineImages: string[];
  left: string[];
}

/**
 * Removes the registry tags and machine images `record` produced. Never throws for one resource: what could not
 * be removed is reported in `left` (and logged), so the image record still goes.
 */
export async function freeImageOutputs(port: ImageOutputPort, record: ResourceRecord): Promise<FreedOutputs> {
  const out: FreedOutputs = { imageUris: [], machineImages: [], left: [] };
  const digest = (record.data.containerImage as { manifestDigest?: unknown } | undefined)?.manifestDigest;
  for (const { uri } of containerUris(record)) {
    const result = await deleteContainerUri(port, uri, typeof digest === 'string' ? digest : undefined).catch((err: unknown) => ({ status: 'FAILED' as const, reason: errorMessage(err) }));
    if (result.status === 'SUCCESS') out.imageUris.push(uri);
    else out.left.push(`${uri}: ${result.reason ?? result.status}`);
  }
  for (const mi of await machineImagesOf(port.store, record.arn)) {
    const id = String(mi.data.amiId ?? mi.name);
    try {
      await port.store.deleteResource(mi.arn);
      out.machineImages.push(id);
    } catch (err) {
      out.left.push(`${id}: ${errorMessage(err)}`);
    }
  }
  if (port.deleteLogs) {
    await port.deleteLogs(record.arn).catch((err: unknown) => out.left.push(`the step logs of ${record.arn}: ${errorMessage(err)}`));
  }
  const failed = out.left.filter((l) => !/is not in Kiln's registry/.test(l));
  if (failed.length > 0) port.log(`DeleteImage ${record.arn} left: ${failed.join('; ')}\n`);
  return out;
}

/**
 * The handlers with DeleteImage freeing the image's outputs first (they are found through its record, which the
 * handler then removes) and starting a garbage collection after. A request DeleteImage refuses (not the
 * caller's, a build under way) reaches it unchanged, so it fails as before with nothing freed.
 */
export function freeingDeletedImages(handlers: Record<string, OperationHandler>, port: ImageOutputPort): Record<string, OperationHandler> {
  const deleteImage = handlers.DeleteImage;
  if (!deleteImage) return handlers;
  return {
    ...handlers,
    DeleteImage: async (input, ctx) => {
      const record = await callerBuild(port.store, ctx, input.imageBuildVersionArn).catch(() => undefined);
      const deletable = record !== undefined && !isInProgress((record.data.state as ImageState).status);
      if (deletable) await freeImageOutputs(port, record);
      const result = await deleteImage(input, ctx);
      if (deletable && port.collectGarbage) {
        port.collectGarbage().catch((err: unknown) => port.log(`garbage collection after DeleteImage ${record.arn} failed: ${errorMessage(err)}\n`));
      }
      return result;
    },
  };
}
