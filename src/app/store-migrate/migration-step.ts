/**
 * The steps `kiln store migrate` runs, in order, from an embedded data directory to the configured PostgreSQL
 * store and object store. Steps that copy bytes (blobs; disks and step logs once they live in the object store)
 * run first and are idempotent, because objects are named by their content; the rows step runs last, in one
 * PostgreSQL transaction, so a target holds rows only once everything they point at was copied, and an
 * interrupted migration is simply run again with `--force`.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { BlobStore } from '../../artifacts/blob-store.js';
import type { ObjectStoreConfig } from '../server-config.js';

/** What every step may read: the source data directory, the target's settings and its opened object store. */
export interface MigrationContext {
  /** The embedded installation's data directory (its kiln.db, secret.key, blobs/ …). */
  dataDir: string;
  /** The target PostgreSQL URL (`store:`). */
  store: string;
  /** The key file the target seals secrets with (`secretKeyFile:`). */
  secretKeyFile: string;
  objectStore: ObjectStoreConfig;
  /** A client of the target object store and the blob store over it (the one the target's servers use). */
  s3: S3Client;
  blobs: BlobStore;
  /** `--force`: a non-empty target is overwritten (rows replaced, objects already there kept). */
  force: boolean;
  signal: AbortSignal;
}

/** How far a step is: items done of the total, and the bytes they hold when the step moves bytes. */
export interface StepProgress {
  done: number;
  total: number;
  bytes?: number;
}

/** What a step did, for the final summary (`--json` prints it as is). */
export interface StepSummary {
  /** Items the step covered (blobs, rows …), copied or found already there. */
  items: number;
  /** Of those, how many were already in the target and left alone. */
  skipped?: number;
  bytes?: number;
  /** Per-part counts, e.g. rows per table. */
  detail?: Record<string, number>;
}

export interface MigrationStep {
  /** A short lower-case name used in progress lines and the summary (`rows`, `blobs`, `disks`, `logs`). */
  name: string;
  /**
   * Why the target already holds what this step would write, one reason per entry; empty when it holds nothing.
   * Called before any step runs: a non-empty target is refused unless `--force`.
   */
  inspectTarget?(context: MigrationContext): Promise<string[]>;
  /** Copies; calls `progress` as it goes; rejects naming what failed. Must be safe to run again after a failure. */
  run(context: MigrationContext, progress: (p: StepProgress) => void): Promise<StepSummary>;
}
