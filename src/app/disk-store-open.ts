/**
 * The disk store the configuration names: the data directory's `disks/` (embedded), or the object store's bucket
 * with `disks/` as this node's cache of it, bounded by `diskCacheGiB`.
 */
import { LocalDiskStore, type DiskStore } from '../artifacts/disk/disk-store.js';
import { S3DiskStore } from '../artifacts/s3/s3-disk-store.js';
import { createS3Client } from '../toe/actions/s3-config.js';
import type { ServerConfig } from './server-config.js';

/** The local disk cache's size when the configuration does not say (allocated bytes: disks are sparse). */
export const DEFAULT_DISK_CACHE_GIB = 50;

/** Opens the disk store over `root` (the data directory's `disks/`); `log` gets fetch, upload and eviction lines. */
export async function openDiskStore(config: ServerConfig, root: string, log?: (text: string) => void): Promise<DiskStore> {
  const local = new LocalDiskStore(root);
  if (!config.objectStore) return local;
  const { bucket, prefix, ...settings } = config.objectStore;
  const disks = new S3DiskStore({
    client: await createS3Client(settings),
    bucket,
    ...(prefix === undefined ? {} : { prefix }),
    cache: local,
    cacheLimitBytes: (config.diskCacheGiB ?? DEFAULT_DISK_CACHE_GIB) * 1024 ** 3,
    ...(log ? { log } : {}),
  });
  // Nothing fetches before the worker starts, so every partial file is a killed process's leftover.
  const removed = await disks.removePartials();
  if (removed > 0) log?.(`removed ${removed} partial disk(s) left by an earlier process\n`);
  return disks;
}
