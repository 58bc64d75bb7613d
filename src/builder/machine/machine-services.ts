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
  /** The regions this Kiln serves. */
  regions: readonly string[];
}
