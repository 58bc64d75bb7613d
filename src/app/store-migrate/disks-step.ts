/**
 * The `disks` step: every machine-image disk of the data directory's `disks/` into the target bucket, stored as
 * the target's workers store them (S3DiskStore: compressed, under the raw disk's digest). A disk the bucket holds
 * already is skipped. The source is only read: each disk is first copied sparsely into a scratch cache, which
 * the disk store adopts and uploads from, and which is removed at the end.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { LocalDiskStore } from '../../artifacts/disk/disk-store.js';
import { S3DiskStore } from '../../artifacts/s3/s3-disk-store.js';
import type { MigrationContext, MigrationStep, StepProgress, StepSummary } from './migration-step.js';

const run = promisify(execFile);

export const disksStep: MigrationStep = {
  name: 'disks',
  async run(context: MigrationContext, progress: (p: StepProgress) => void): Promise<StepSummary> {
    const source = new LocalDiskStore(path.join(context.dataDir, 'disks'));
    const disks = await source.list();
    if (disks.length === 0) return { items: 0, skipped: 0, bytes: 0 };
    // Beside the source disks, on the same file system, so the sparse copy costs only the allocated blocks.
    const scratch = await mkdtemp(path.join(context.dataDir, 'migrate-disks-'));
    try {
      const { bucket, prefix } = context.objectStore;
      const target = new S3DiskStore({ client: context.s3, bucket, ...(prefix === undefined ? {} : { prefix }), cache: new LocalDiskStore(scratch), cacheLimitBytes: 0 });
      let done = 0;
      let skipped = 0;
      let bytes = 0;
      for (const disk of disks) {
        context.signal.throwIfAborted();
        if (await target.has(disk.digest)) {
          skipped++;
        } else {
          const copy = path.join(scratch, `incoming-${done}.raw`);
          try {
            await run('cp', ['--sparse=always', source.path(disk.digest), copy], { signal: context.signal });
            const stored = await target.adopt(copy, context.signal);
            if (stored.digest !== disk.digest) throw new Error(`the file reads as ${stored.digest} now`);
          } catch (err) {
            throw new Error(`disk ${disk.digest}: ${(err as Error).message}`, { cause: err });
          }
        }
        done++;
        bytes += disk.sizeBytes;
        progress({ done, total: disks.length, bytes });
      }
      return { items: disks.length, skipped, bytes };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  },
};
