/** Puts a local file as an object; rejects naming what failed. */
export type ExportUpload = (bucket: string, key: string, file: string, signal: AbortSignal) => Promise<void>;

/** What machine-image builds use beyond a container build's services; the engine's composition provides it. */
import type { DiskStore } from '../../artifacts/disk/disk-store.js';
import type { AccelChoice } from '../../drivers/vm/accel.js';
import type { ManagedRootfs } from './machine-parent.js';

export interface MachineServices {
  disks: DiskStore;
  /** The root filesystem of a Kiln-managed machine base, bootstrapped on first use. */
  managedRootfs: ManagedRootfs;
  /** Scratch space for disk assembly and VM overlays, on the disk store's filesystem; emptied at start-up. */
  workRoot: string;
  /** QEMU's accelerator on this host, chosen once. */
  accel: AccelChoice;
  /** How long a VM may take from start to a ready guest agent. */
  bootTimeoutMs: number;
  /** s3ExportConfiguration buckets: name → local directory. */
  exportBuckets: Readonly<Record<string, string>>;
  /**
   * Uploads an exported disk file to `bucket`/`key` of the S3-compatible server `objectStore:` names: where
   * s3ExportConfiguration buckets not in exportBuckets go, so every node's exports land in one place.
   */
  exportUpload?: ExportUpload;
  /** The regions this Kiln serves. */
  regions: readonly string[];
}
