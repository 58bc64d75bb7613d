/**
 * The `blobs` step: every blob of the data directory's `blobs/` (layers, configs, manifests of the built-in
 * registry and of built images) into the target object store, under the same digests. A blob the bucket already
 * holds is skipped, so a re-run after an interruption copies only what is missing.
 */
import path from 'node:path';
import { FsBlobStore, type BlobInfo } from '../../artifacts/blob-store.js';
import type { MigrationContext, MigrationStep, StepProgress, StepSummary } from './migration-step.js';

/** Blobs copied at once: S3 round trips dominate small blobs, and more would only compete for two cores. */
const PARALLEL = 4;

export const blobsStep: MigrationStep = {
  name: 'blobs',
  async run(context: MigrationContext, progress: (p: StepProgress) => void): Promise<StepSummary> {
    const source = new FsBlobStore(path.join(context.dataDir, 'blobs'));
    const blobs = await source.list();
    let done = 0;
    let bytes = 0;
    let skipped = 0;
    const queue: BlobInfo[] = [...blobs];
    const copyNext = async (): Promise<void> => {
      for (let blob = queue.shift(); blob; blob = queue.shift()) {
        context.signal.throwIfAborted();
        const there = await context.blobs.stat(blob.digest);
        if (there?.size === blob.size) {
          skipped++;
        } else {
          const stream = await source.open(blob.digest);
          try {
            await context.blobs.put(stream, { expectedDigest: blob.digest, expectedSize: blob.size, signal: context.signal });
          } catch (err) {
            // The other copiers stop at their next blob rather than carry on behind a failed migration.
            queue.length = 0;
            throw new Error(`blob ${blob.digest}: ${(err as Error).message}`);
          } finally {
            // A put that failed before reading to the end leaves the file open otherwise.
            stream.destroy();
          }
        }
        done++;
        bytes += blob.size;
        progress({ done, total: blobs.length, bytes });
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, blobs.length) }, copyNext));
    return { items: blobs.length, skipped, bytes };
  },
};
