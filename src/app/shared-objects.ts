/**
 * What the nodes of a cluster share through the object store besides blobs: step logs (read by any API node
 * while a worker writes them) and registry upload sessions (continued through any API node). Without
 * `objectStore:` there is nothing to share: both stay in the data directory.
 */
import { ObjectBucket } from '../artifacts/s3/object-bucket.js';
import { BucketStepLogStore, type StepLogStore } from '../builder/records/execution-records.js';
import { BucketUploadSessions } from '../registry/server/bucket-uploads.js';
import type { UploadSessionStore } from '../registry/server/uploads.js';
import { createReadStream } from 'node:fs';
import { multipartPut } from '../artifacts/s3/multipart-put.js';
import type { ExportUpload } from '../builder/machine/machine-services.js';
import { createS3Client } from '../toe/actions/s3-config.js';
import type { ServerConfig } from './server-config.js';

export interface SharedObjects {
  bucket: ObjectBucket;
  logs: StepLogStore;
  uploads: UploadSessionStore;
}

/**
 * The shared stores under the configured bucket and prefix (`<prefix>logs/`, `<prefix>registry-uploads/`: apart
 * from the blob store's own `uploads/`), or undefined without `objectStore:`.
 */
export async function openSharedObjects(config: ServerConfig): Promise<SharedObjects | undefined> {
  if (!config.objectStore) return undefined;
  const { bucket, prefix, ...settings } = config.objectStore;
  const root = new ObjectBucket({ client: await createS3Client(settings), bucket, ...(prefix === undefined ? {} : { prefix }) });
  return {
    bucket: root,
    logs: new BucketStepLogStore({ bucket: root.under('logs/') }),
    uploads: new BucketUploadSessions({ bucket: root.under('registry-uploads/'), onLeak: (what, err) => process.stderr.write(`kiln: could not remove ${what}: ${String(err)}\n`) }),
  };
}

/**
 * Where s3ExportConfiguration exports go when their bucket is not one of the configuration's exportBuckets: that
 * bucket on the S3-compatible server `objectStore:` names, with its credentials; undefined without objectStore.
 */
export function openExportUploads(config: ServerConfig): ExportUpload | undefined {
  if (!config.objectStore) return undefined;
  const { bucket: _own, prefix: _prefix, ...settings } = config.objectStore;
  const client = createS3Client(settings);
  return async (bucket, key, file, signal) => {
    await multipartPut({ client: await client, bucket, key, body: createReadStream(file), signal, onLeak: (what, err) => process.stderr.write(`kiln: could not abort ${what}: ${String(err)}\n`) });
  };
}
