/**
 * The InstanceDriver contract: how a build gets a machine to run AWSTOE documents on. A driver validates its
 * launch request without side effects, then launches instances that the runner drives through the toe
 * Instance interface; each instance's changes can be handed to an artifact writer, and `dispose` releases all
 * that the instance holds. Implementations live beside this file and pass testsuite/:
 *
 * - `ns` (ns/) enters a root filesystem given as `LaunchSpec.layers`; what the instance changed is read from
 *   `snapshotDir()`, an overlay upper directory.
 * - `vm` (vm/) boots `LaunchSpec.disk` under QEMU and reaches the guest through its agent. A VM has no upper
 *   directory: its writes go to a disk overlay, which the caller reads after powering the guest off (see
 *   vm/vm-driver.ts), so it does not offer `snapshotDir`.
 *
 * Each driver's prepare refuses the root form it does not take (layers for `vm`, a disk for `ns`).
 */
import { KilnError, type Issue } from '../domain/errors.js';
import type { Instance } from '../toe/instance/instance.js';

/** How an instance reaches the network: `none` has loopback only; `nat` adds outbound user-mode NAT. */
export type NetworkMode = 'none' | 'nat';

/** The resources of an instance type (see domain/instance-types.ts); a driver applies what its host allows. */
export interface InstanceResources {
  vcpus: number;
  memoryMiB: number;
  /** The most processes the instance may run at once; the driver's default when undefined. */
  maxProcesses?: number;
  /**
   * The size of the instance's root volume in GiB, as a recipe's root `ebs.volumeSize` gives it
   * (DEFAULT_ROOT_VOLUME_GIB when undefined): what it may write beyond its image before a write fails with ENOSPC.
   */
  rootVolumeGiB?: number;
  /** The instance type's name (`ns.small`), for the reasons a driver gives when the instance hits a limit. */
  instanceType?: string;
}

/** The root volume of an instance whose recipe names none. */
export const DEFAULT_ROOT_VOLUME_GIB = 20;

/** A disk image to boot, for drivers that boot one (`vm`). */
export interface BootDisk {
  /** Absolute path; never written: the instance writes to an overlay of its own. */
  path: string;
  format: 'raw' | 'qcow2';
  /**
   * Keep the guest's writes in the overlay until dispose, for a caller that takes them (a build); otherwise
   * they may be dropped as they happen (QEMU's snapshot=on), as a test instance needs nothing back.
   */
  keepWrites?: boolean;
  /**
   * The disk has no guest agent of Kiln's (an imported image): a driver that needs one attaches a cloud-init
   * NoCloud seed that installs it (`vm`).
   */
  cloudInitSeed?: boolean;
}

/** What to launch. */
export interface LaunchSpec {
  /**
   * The image the instance starts from: absolute directories in overlayfs lower-layer form (whiteouts as 0/0
   * character devices, opaque directories marked by the `trusted.overlay.opaque=y` xattr), TOP FIRST. A plain
   * root filesystem is a one-element list. They are never written to, so instances may share them.
   * Empty for drivers that boot `disk` instead.
   */
  layers: readonly string[];
  /** The disk a `vm` instance boots; drivers that enter layers (`ns`) refuse one. */
  disk?: BootDisk;
  resources: InstanceResources;
  network: NetworkMode;
  /** The instance's hostname (`ns`); a `vm` guest keeps its disk's own, and the name only names the instance. */
  hostname: string;
  /** Absolute path of a directory where the driver keeps the instance's working files (one folder each). */
  scratchRoot: string;
}

/** An Instance that a driver launched. */
export interface DriverInstance extends Instance {
  /**
   * The directory holding everything the instance changed relative to its layers, in overlayfs upper-layer
   * form (whiteouts as 0/0 character devices, opaque directories by xattr). Read it after the last exec.
   * Only drivers that enter layers offer it (`ns`); a booted disk has no such directory.
   */
  snapshotDir?(): string;
  /** Kills everything the instance runs and releases all it holds; idempotent, and safe after a failed launch. */
  dispose(): Promise<void>;
}

/** One way to run build and test instances. */
export interface InstanceDriver {
  /** A short name, as in instance types (`ns`, `vm`). */
  readonly kind: string;
  /** Checks a launch request and this host's readiness without changing anything; returns every issue found. */
  prepare(spec: LaunchSpec): Promise<Issue[]>;
  /** Starts an instance; aborting the signal cancels the launch and releases what it acquired. */
  launch(spec: LaunchSpec, signal?: AbortSignal): Promise<DriverInstance>;
}

/** The instance's snapshot directory, for callers that launched on a driver that enters layers. */
export function snapshotDirOf(instance: DriverInstance): string {
  if (!instance.snapshotDir) throw new KilnError('Internal', `${instance.id} has no snapshot directory: its driver boots a disk`);
  return instance.snapshotDir();
}
