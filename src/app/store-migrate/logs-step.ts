/**
 * The `logs` step: every step log of the data directory's `logs/` (`<image folder>/<step id>.log`) into the
 * target bucket, each as the single segment of its step, so `kiln logs` and the console read them through any
 * node as they read them before. AWSTOE's own log folders stay behind: no route serves them. Logs are small and
 * named by their step: a re-run rewrites them.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ObjectBucket } from '../../artifacts/s3/object-bucket.js';
import { BucketStepLogStore } from '../../builder/records/execution-records.js';
import type { MigrationContext, MigrationStep, StepProgress, StepSummary } from './migration-step.js';

/** `<folder>/<step>.log` paths under the logs root; none when there is no logs folder. */
async function stepLogFiles(root: string): Promise<string[]> {
  const folders = await readdir(root, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const files: string[] = [];
  for (const folder of folders) {
    if (!folder.isDirectory()) continue;
    for (const entry of await readdir(path.join(root, folder.name), { withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith('.log')) files.push(`${folder.name}/${entry.name}`);
    }
  }
  return files.sort();
}

export const logsStep: MigrationStep = {
  name: 'logs',
  async run(context: MigrationContext, progress: (p: StepProgress) => void): Promise<StepSummary> {
    const root = path.join(context.dataDir, 'logs');
    const files = await stepLogFiles(root);
    const { bucket, prefix } = context.objectStore;
    const logs = new BucketStepLogStore({ bucket: new ObjectBucket({ client: context.s3, bucket, ...(prefix === undefined ? {} : { prefix }) }).under('logs/') });
    let bytes = 0;
    for (const [i, file] of files.entries()) {
      context.signal.throwIfAborted();
      const body = await readFile(path.join(root, file));
      await logs.importLog(file, body, context.signal).catch((err: unknown) => {
        throw new Error(`step log ${file}: ${(err as Error).message}`, { cause: err });
      });
      bytes += body.length;
      progress({ done: i + 1, total: files.length, bytes });
    }
    return { items: files.length, bytes };
  },
};
