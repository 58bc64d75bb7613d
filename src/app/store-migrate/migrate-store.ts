/**
 * `kiln store migrate`: moves an embedded Kiln (SQLite and blobs in its data directory) into the PostgreSQL store
 * and object store a configuration names. Checks first, then runs the steps in order (see migration-step.ts):
 * the data directory must exist and no process may have its database open; the target must be empty unless
 * `force`. The data directory is only read (its schema is brought up to date first, as `kiln serve` would).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { S3BlobStore } from '../../artifacts/s3/s3-blob-store.js';
import { createS3Client } from '../../toe/actions/s3-config.js';
import type { ServerConfig } from '../server-config.js';
import { openStore, redactStoreUrl } from '../store-open.js';
import { blobsStep } from './blobs-step.js';
import { disksStep } from './disks-step.js';
import { logsStep } from './logs-step.js';
import type { MigrationContext, MigrationStep, StepProgress, StepSummary } from './migration-step.js';
import { rowsStep } from './rows-step.js';
import { processesUsingStore } from './source-in-use.js';

/**
 * The steps in the order they run: the byte-moving steps (`blobs`, `disks`, `logs`, then any given), and `rows`
 * always last, so rows are committed only once everything they point at is in the target.
 */
export function migrationSteps(extra: readonly MigrationStep[] = []): MigrationStep[] {
  return [blobsStep, disksStep, logsStep, ...extra, rowsStep];
}

export interface MigrateStoreInput {
  dataDir: string;
  config: ServerConfig;
  force?: boolean;
  /** Default: migrationSteps(). */
  steps?: readonly MigrationStep[];
  /** Told of each step's progress as it goes. */
  onProgress?: (step: string, progress: StepProgress) => void;
  signal?: AbortSignal;
}

/** What a migration did (`kiln store migrate --json` prints it). */
export interface MigrationSummary {
  /** The target, its password hidden. */
  target: { store: string; bucket: string; prefix: string };
  /** How access-key secrets reached the target. */
  secrets: 're-sealed with the target secretKeyFile';
  steps: ({ name: string } & StepSummary)[];
  seconds: number;
}

/** A refusal with what to do about it; the CLI prints the message as is. */
export class MigrationRefused extends Error {}

/** Why the bucket's prefix is not empty (one object named as an example), or nothing. */
async function inspectBucket(context: MigrationContext): Promise<string[]> {
  const prefix = context.objectStore.prefix ?? '';
  // No MaxKeys: one page of the default size costs the same, and some S3-compatible servers (s3rver) fail a
  // listing that MaxKeys truncates.
  const listed = await context.s3.send(new ListObjectsV2Command({ Bucket: context.objectStore.bucket, Prefix: prefix }), { abortSignal: context.signal }).catch((err: unknown) => {
    throw new Error(`objectStore: cannot list bucket ${context.objectStore.bucket}: ${(err as Error).message}`, { cause: err });
  });
  const first = listed.Contents?.[0]?.Key;
  return first === undefined ? [] : [`bucket ${context.objectStore.bucket}${prefix ? ` under prefix ${prefix}` : ''} holds objects (e.g. ${first})`];
}

/** Runs the migration; rejects with MigrationRefused before writing anything when a check fails. */
export async function migrateStore(input: MigrateStoreInput): Promise<MigrationSummary> {
  const started = Date.now();
  const { config } = input;
  const signal = input.signal ?? new AbortController().signal;
  if (config.store === undefined) throw new MigrationRefused('--config: the configuration names no PostgreSQL store (store: postgres://…) to migrate into');
  if (config.objectStore === undefined) throw new MigrationRefused("--config: the configuration names no objectStore: the data directory's blobs would have nowhere to go");
  if (config.secretKeyFile === undefined) throw new MigrationRefused('--config: the configuration names no secretKeyFile: access keys are sealed with it, and every node of the target must share it');
  if (!existsSync(path.join(input.dataDir, 'kiln.db'))) throw new MigrationRefused('--data-dir: the data directory holds no Kiln store (kiln.db)');
  const users = processesUsingStore(input.dataDir);
  if (users.length > 0) throw new MigrationRefused(`--data-dir: the data directory's store is in use by process ${users.join(', ')} (a kiln serve?); stop it first`);
  // An older Kiln's data directory: its schema first becomes this Kiln's, which the copy expects.
  await openStore(input.dataDir).close();

  const { bucket, prefix, ...settings } = config.objectStore;
  const s3 = await createS3Client(settings);
  try {
    const context: MigrationContext = {
      dataDir: input.dataDir,
      store: config.store,
      secretKeyFile: config.secretKeyFile,
      objectStore: config.objectStore,
      s3,
      blobs: new S3BlobStore({ client: s3, bucket, ...(prefix === undefined ? {} : { prefix }) }),
      force: input.force === true,
      signal,
    };
    const steps = input.steps ?? migrationSteps();
    if (!context.force) {
      const reasons = [...(await inspectBucket(context))];
      for (const step of steps) if (step.inspectTarget) reasons.push(...(await step.inspectTarget(context)));
      if (reasons.length > 0) throw new MigrationRefused(`the target is not empty: ${reasons.join('; ')}. Run again with --force to migrate over it (rows are replaced, objects already there are kept).`);
    }
    const done: MigrationSummary['steps'] = [];
    for (const step of steps) {
      signal.throwIfAborted();
      try {
        done.push({ name: step.name, ...(await step.run(context, (p) => input.onProgress?.(step.name, p))) });
      } catch (err) {
        throw new Error(`${step.name}: ${(err as Error).message}`, { cause: err });
      }
    }
    return {
      target: { store: redactStoreUrl(config.store), bucket, prefix: prefix ?? '' },
      secrets: 're-sealed with the target secretKeyFile',
      steps: done,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    s3.destroy();
  }
}
