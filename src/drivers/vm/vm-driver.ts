/**
 * The `vm` InstanceDriver: boots LaunchSpec.disk under QEMU (vm-launch.ts) and hands back the VM as a
 * DriverInstance driven through its guest agent. A VM takes a disk, not layers, and has no snapshot directory:
 * a caller that wants the guest's writes asks for `disk.keepWrites`, powers the guest off (VmInstance.shutdown)
 * and reads `diskOverlay`, a qcow2 overlay of the booted disk, before it disposes the instance.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validationError, type Issue } from '../../domain/errors.js';
import type { InstanceDriver, LaunchSpec } from '../driver.js';
import type { Accel } from './accel.js';
import { OVMF_FIRMWARE } from './qemu.js';
import type { VmInstance } from './vm-instance.js';
import { launchVm } from './vm-launch.js';

/** Linux's sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;
const HOSTNAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** The instance's folder in scratchRoot: short, because the agent's socket inside it must fit sun_path. */
const folderName = () => `vm-${randomBytes(3).toString('hex')}`;
const SOCKET_SUFFIX = `/${folderName()}/qga.sock`;

export interface VmDriverOptions {
  /** The accelerator (see accel.ts: detectAccel); the driver does not probe the host itself. */
  accel: Accel;
  /** From QEMU's start to the agent's first answer; also bounds each reboot. */
  bootTimeoutMs: number;
  /** Default uefi (OVMF), as machine images boot. */
  firmware?: 'uefi' | 'bios';
  /** The serial console as it arrives. */
  onConsole?: (text: string) => void;
}

function onPath(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** What this host lacks to boot a VM with `firmware`; empty when it can. */
export function vmHostIssues(firmware: 'uefi' | 'bios', keepWrites: boolean): Issue[] {
  const issues: Issue[] = [];
  for (const [tool, pkg, needed] of [['qemu-system-x86_64', 'qemu-system-x86', true], ['qemu-img', 'qemu-utils', keepWrites]] as const) {
    if (needed && !onPath(tool)) issues.push({ path: '', message: `${tool} is not installed (Debian package ${pkg})` });
  }
  if (firmware === 'uefi' && !fs.existsSync(OVMF_FIRMWARE)) issues.push({ path: '', message: `UEFI firmware ${OVMF_FIRMWARE} is missing (Debian package ovmf)` });
  return issues;
}

/** Boots machine-image disks as build and test instances. */
export class VmDriver implements InstanceDriver {
  readonly kind = 'vm';
  private readonly firmware: 'uefi' | 'bios';

  constructor(private readonly options: VmDriverOptions) {
    this.firmware = options.firmware ?? 'uefi';
  }

  prepare(spec: LaunchSpec): Promise<Issue[]> {
    const issues: Issue[] = [];
    const add = (where: string, message: string) => issues.push({ path: where, message });
    issues.push(...vmHostIssues(this.firmware, spec.disk?.keepWrites === true));
    if (spec.disk?.cloudInitSeed) {
      for (const [tool, pkg] of [['mkfs.fat', 'dosfstools'], ['mcopy', 'mtools']]) if (!onPath(tool!)) add('disk.cloudInitSeed', `${tool} is not installed (Debian package ${pkg}); it makes the cloud-init seed`);
    }
    if (!path.isAbsolute(spec.scratchRoot)) add('scratchRoot', `must be an absolute path, got ${JSON.stringify(spec.scratchRoot)}`);
    else if (!fs.statSync(spec.scratchRoot, { throwIfNoEntry: false })?.isDirectory()) add('scratchRoot', `${spec.scratchRoot} is not a directory`);
    else if (Buffer.byteLength(spec.scratchRoot + SOCKET_SUFFIX) > MAX_SOCKET_PATH) add('scratchRoot', `${spec.scratchRoot} is too long for the guest agent's unix socket inside it`);
    if (spec.layers.length > 0) add('layers', 'a vm instance boots spec.disk; layers are for drivers that enter a root filesystem');
    const disk = spec.disk;
    if (disk === undefined) add('disk', 'a vm instance needs a disk to boot');
    else {
      if (!path.isAbsolute(disk.path)) add('disk.path', `must be an absolute path, got ${JSON.stringify(disk.path)}`);
      else if (!fs.statSync(disk.path, { throwIfNoEntry: false })?.isFile()) add('disk.path', `${disk.path} is not a file`);
      if (disk.format !== 'raw' && disk.format !== 'qcow2') add('disk.format', `must be "raw" or "qcow2", got ${JSON.stringify(disk.format)}`);
    }
    if (!HOSTNAME_RE.test(spec.hostname) || spec.hostname.length > 64) add('hostname', `${JSON.stringify(spec.hostname)} is not a valid hostname`);
    if (spec.network !== 'none' && spec.network !== 'nat') add('network', `must be "none" or "nat", got ${JSON.stringify(spec.network)}`);
    const r = spec.resources;
    if (!(Number.isInteger(r.vcpus) && r.vcpus >= 1)) add('resources.vcpus', 'must be a whole number of at least 1');
    if (!(Number.isInteger(r.memoryMiB) && r.memoryMiB >= 64)) add('resources.memoryMiB', 'must be a whole number of at least 64');
    return Promise.resolve(issues);
  }

  /**
   * Validates as prepare() does, then boots; resolves once the guest agent answers. The instance's id is
   * `vm:<hostname>`; its folder in scratchRoot (agent socket, serial log, overlay) goes with dispose.
   */
  async launch(spec: LaunchSpec, signal?: AbortSignal): Promise<VmInstance> {
    const issues = await this.prepare(spec);
    if (issues.length > 0) throw validationError('vm instance launch', issues);
    const disk = spec.disk!;
    const scratchDir = path.join(spec.scratchRoot, folderName());
    return launchVm({
      name: spec.hostname,
      disk: disk.path,
      diskFormat: disk.format,
      ...(disk.keepWrites ? { overlay: path.join(scratchDir, 'disk.qcow2') } : {}),
      ...(disk.cloudInitSeed ? { cloudInitSeed: true } : {}),
      firmware: this.firmware,
      accel: this.options.accel,
      vcpus: spec.resources.vcpus,
      memoryMiB: spec.resources.memoryMiB,
      network: spec.network,
      scratchDir,
      bootTimeoutMs: this.options.bootTimeoutMs,
      ...(signal ? { signal } : {}),
      ...(this.options.onConsole ? { onConsole: this.options.onConsole } : {}),
    });
  }
}
