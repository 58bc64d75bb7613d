/**
 * Boots a machine-image disk as a `vm` instance: QEMU with the guest agent's virtio-serial port, resolved once
 * the agent answers. Everything the launch acquired (QEMU, scratch folder, overlay) is released when it fails.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CleanupStack, withLeaks } from '../../domain/cleanup-stack.js';
import { KilnError } from '../../domain/errors.js';
import { runTool } from '../../artifacts/disk/run-tool.js';
import type { Accel } from './accel.js';
import { GuestAgent } from './guest-agent.js';
import { writeNoCloudSeed } from './cloud-init-seed.js';
import { BIOS_FIRMWARE, firmwareArgs, OVMF_FIRMWARE } from './qemu.js';
import { QemuProcess } from './qemu-process.js';
import { VmInstance } from './vm-instance.js';

/** Linux's sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;
const CONNECT_RETRY_MS = 100;
const TAIL_LINES = 25;

export interface LaunchVmOptions {
  /** Names the instance: its id is `vm:<name>`. Default: the scratch folder's name. */
  name?: string;
  /** The image disk; never written. */
  disk: string;
  diskFormat: 'raw' | 'qcow2';
  /**
   * When given, a qcow2 overlay backed by `disk` is created here and booted writable; it stays after shutdown
   * (the caller converts it). Without it the disk is booted with snapshot=on and the guest's writes are lost.
   */
  overlay?: string;
  /** Virtual size of the overlay, e.g. "8G"; default the disk's. */
  overlaySize?: string;
  /**
   * Attach a cloud-init NoCloud seed (cloud-init-seed.ts) whose user-data installs and starts the guest agent:
   * for disks Kiln did not make, which have none. The seed lives in the scratch folder.
   */
  cloudInitSeed?: boolean;
  firmware: 'uefi' | 'bios';
  accel: Accel;
  vcpus: number;
  memoryMiB: number;
  network: 'none' | 'nat';
  /** Created by launchVm (it must not exist); holds the agent socket and serial.log; removed by dispose. */
  scratchDir: string;
  /** From spawn to the agent's first answer; also bounds each reboot. */
  bootTimeoutMs: number;
  signal?: AbortSignal;
  /** The serial console as it arrives. */
  onConsole?: (text: string) => void;
}

/** The VM did not come up: QEMU exited or the agent never answered. `serialTail` is the console's last lines. */
export class VmBootFailed extends KilnError {
  constructor(
    reason: string,
    readonly serialTail: string,
  ) {
    super('Internal', `VM did not boot: ${reason}\n--- last console lines ---\n${serialTail}`);
  }
}

/** The disk a VM boots, and the NoCloud seed beside it when there is one. */
export interface BootDrive {
  file: string;
  format: 'raw' | 'qcow2';
  snapshot: boolean;
  seed?: string;
}

/** The qemu-system-x86_64 command line; exported so callers can log it. */
export function vmArgs(options: Pick<LaunchVmOptions, 'firmware' | 'accel' | 'vcpus' | 'memoryMiB' | 'network'>, drive: BootDrive, agentSocket: string): string[] {
  const accel = options.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg', '-cpu', 'max'];
  // QEMU's option parser splits on commas; a doubled comma is a literal one.
  const esc = (s: string) => s.replace(/,/g, ',,');
  return [
    '-machine', 'q35', ...accel,
    '-m', String(options.memoryMiB), '-smp', String(options.vcpus),
    // No -no-reboot: a guest reboot must restart the guest, not end QEMU.
    '-nographic',
    ...(options.network === 'nat' ? ['-nic', 'user,model=virtio-net-pci'] : ['-nic', 'none']),
    ...firmwareArgs(options.firmware === 'uefi' ? OVMF_FIRMWARE : BIOS_FIRMWARE),
    '-drive', `file=${esc(drive.file)},if=virtio,format=${drive.format}${drive.snapshot ? ',snapshot=on' : ''}`,
    ...(drive.seed ? ['-drive', `file=${esc(drive.seed)},if=virtio,format=raw,readonly=on`] : []),
    '-chardev', `socket,path=${esc(agentSocket)},server=on,wait=off,id=qga0`,
    '-device', 'virtio-serial-pci',
    '-device', 'virtserialport,chardev=qga0,name=org.qemu.guest_agent.0',
  ];
}

function checkOptions(o: LaunchVmOptions): void {
  const bad = (field: string, why: string) => new KilnError('InvalidArgument', `launchVm: ${field} ${why}`);
  if (!fs.existsSync(o.disk)) throw bad('disk', `${o.disk} does not exist`);
  if (o.diskFormat !== 'raw' && o.diskFormat !== 'qcow2') throw bad('diskFormat', `must be raw or qcow2, not ${String(o.diskFormat)}`);
  if (o.firmware !== 'uefi' && o.firmware !== 'bios') throw bad('firmware', `must be uefi or bios, not ${String(o.firmware)}`);
  if (o.firmware === 'uefi' && !fs.existsSync(OVMF_FIRMWARE)) throw new KilnError('Unavailable', `launchVm: firmware uefi needs ${OVMF_FIRMWARE} (ovmf)`);
  if (!Number.isInteger(o.vcpus) || o.vcpus < 1) throw bad('vcpus', `must be a positive integer, not ${o.vcpus}`);
  if (!Number.isInteger(o.memoryMiB) || o.memoryMiB < 64) throw bad('memoryMiB', `must be an integer >= 64, not ${o.memoryMiB}`);
  if (o.network !== 'none' && o.network !== 'nat') throw bad('network', `must be none or nat, not ${String(o.network)}`);
  if (!(o.bootTimeoutMs > 0)) throw bad('bootTimeoutMs', `must be positive, not ${o.bootTimeoutMs}`);
  if (Buffer.byteLength(path.resolve(o.scratchDir, 'qga.sock')) > MAX_SOCKET_PATH) throw bad('scratchDir', `${o.scratchDir} is too long for a unix socket path`);
  if (o.overlay !== undefined && fs.existsSync(o.overlay)) throw bad('overlay', `${o.overlay} already exists`);
  if (fs.existsSync(o.scratchDir)) throw bad('scratchDir', `${o.scratchDir} already exists`);
}

/** Connects to QEMU's agent socket, retrying while QEMU has not created it yet. */
async function connectAgent(socket: string, qemu: QemuProcess, deadline: number, signal: AbortSignal | undefined): Promise<GuestAgent> {
  for (;;) {
    try {
      return await GuestAgent.connect(socket, { signal, timeoutMs: Math.max(1, deadline - Date.now()) });
    } catch (err) {
      if ((err as KilnError).kind === 'Cancelled') throw err;
      if (!qemu.running) throw new KilnError('Unavailable', 'QEMU exited before its agent socket was ready');
      if (Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, CONNECT_RETRY_MS));
    }
  }
}

/** Console lines after which a boot never reaches the agent: waiting out the timeout would only cost time. */
const BOOT_FAILURES: readonly [RegExp, string][] = [
  [/Kernel panic - not syncing/, 'the kernel panicked'],
  [/Gave up waiting for root file system device/, 'the initramfs found no root file system'],
  [/^\(initramfs\) /m, 'the boot stopped in the initramfs emergency shell'],
  [/^grub> /m, 'GRUB stopped at its prompt'],
];

/** Why the console shows a boot that has failed for good, or undefined. */
export function bootFailureIn(console: string): string | undefined {
  return BOOT_FAILURES.find(([re]) => re.test(console))?.[1];
}

/**
 * Starts QEMU on `drive` and waits until the guest agent answers; `spentMs` of the boot timeout are already used.
 * The callbacks register what was acquired, so the caller can release it; on failure QEMU is killed and the
 * error is VmBootFailed (with the console tail) or Cancelled.
 */
async function bootToAgent(
  options: LaunchVmOptions,
  drive: BootDrive,
  scratchDir: string,
  spentMs: number,
  onQemu: (qemu: QemuProcess) => void = () => undefined,
  onAgent: (agent: GuestAgent) => void = () => undefined,
): Promise<{ qemu: QemuProcess; agent: GuestAgent }> {
  const { signal } = options;
  const socket = path.join(scratchDir, 'qga.sock');
  const q = await QemuProcess.start(vmArgs(options, drive, socket), path.join(scratchDir, 'serial.log'), options.onConsole);
  onQemu(q);
  const deadline = Date.now() - spentMs + options.bootTimeoutMs;
  try {
    const agent = await connectAgent(socket, q, deadline, signal);
    onAgent(agent);
    await agent.waitReady({
      timeoutMs: Math.max(1, deadline - Date.now()),
      signal,
      giveUp: () => (q.running ? bootFailureIn(q.consoleTail(TAIL_LINES)) : 'QEMU exited'),
    });
    return { qemu: q, agent };
  } catch (err) {
    if ((err as KilnError).kind === 'Cancelled' || signal?.aborted) {
      await q.kill();
      throw new KilnError('Cancelled', 'launchVm: cancelled while booting', [], { cause: err });
    }
    const exit = q.running ? undefined : await q.exited;
    const stuck = bootFailureIn(q.consoleTail(TAIL_LINES));
    const why = exit
      ? `QEMU exited (${exit.signal ?? `code ${exit.code}`})${exit.stderr ? `: ${exit.stderr}` : ''}`
      : (stuck ?? (drive.seed ? `the guest agent did not answer within ${options.bootTimeoutMs} ms: waited for cloud-init to read the NoCloud seed and install and start qemu-guest-agent; the image has neither the agent nor cloud-init, or the install failed (see the console)` : `the guest agent did not answer within ${options.bootTimeoutMs} ms`));
    await q.kill();
    throw new VmBootFailed(`${why} (disk ${options.disk})`, q.consoleTail(TAIL_LINES));
  }
}

/**
 * Boots `options.disk` and resolves when the guest agent answers guest-sync. On failure QEMU is killed, the
 * scratch folder and a created overlay are removed, and it throws VmBootFailed (QEMU exited, or no answer within
 * bootTimeoutMs), KilnError Cancelled (aborted), InvalidArgument (options) or Unavailable (QEMU missing).
 */
export async function launchVm(options: LaunchVmOptions): Promise<VmInstance> {
  const { signal } = options;
  if (signal?.aborted) throw new KilnError('Cancelled', 'launchVm: cancelled before start');
  checkOptions(options);
  const started = Date.now();
  const scratchDir = path.resolve(options.scratchDir);
  // Undone only when the launch fails (a VM that boots owns all of it and releases it in dispose); launchVm has
  // no log, so what leaks travels on the error it throws (withLeaks).
  const cleanup = new CleanupStack(`VM ${options.name ?? path.basename(scratchDir)}`, { log: () => undefined });
  try {
    fs.mkdirSync(path.dirname(scratchDir), { recursive: true });
    fs.mkdirSync(scratchDir);
    cleanup.defer(`its scratch folder ${path.basename(scratchDir)}`, () => fs.promises.rm(scratchDir, { recursive: true, force: true }));

    let drive: BootDrive;
    if (options.overlay !== undefined) {
      const overlay = path.resolve(options.overlay);
      cleanup.defer(`its disk overlay ${path.basename(overlay)}`, () => fs.promises.rm(overlay, { force: true }));
      await runTool('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', path.resolve(options.disk), '-F', options.diskFormat, overlay, ...(options.overlaySize ? [options.overlaySize] : [])], { signal });
      drive = { file: overlay, format: 'qcow2', snapshot: false };
    } else {
      drive = { file: path.resolve(options.disk), format: options.diskFormat, snapshot: true };
    }
    if (options.cloudInitSeed) {
      // A new instance id per launch: cloud-init runs the seed's user-data even on an image that ran it before.
      const name = options.name ?? path.basename(scratchDir);
      drive.seed = await writeNoCloudSeed(scratchDir, { id: `kiln-${path.basename(scratchDir)}-${Date.now().toString(36)}`, hostname: name }, signal);
    }

    const { qemu, agent } = await bootToAgent(
      options,
      drive,
      scratchDir,
      Date.now() - started,
      (q) => cleanup.defer('its QEMU process', async () => void (await q.kill())),
      (a) => cleanup.defer('its guest agent connection', async () => void a.close()),
    );
    const writable = drive;
    return new VmInstance({
      name: options.name ?? path.basename(scratchDir),
      qemu,
      agent,
      scratchDir,
      bootMs: Date.now() - started,
      bootTimeoutMs: options.bootTimeoutMs,
      ...(writable.snapshot ? {} : { diskOverlay: writable.file }),
      // Only an overlay keeps the guest's writes across QEMU processes; snapshot=on would lose them.
      ...(writable.snapshot ? {} : { restart: (restartSignal?: AbortSignal) => bootToAgent({ ...options, signal: restartSignal }, writable, scratchDir, 0) }),
    });
  } catch (err) {
    const leaks = await cleanup.unwind();
    if (signal?.aborted && !((err as KilnError).kind === 'Cancelled')) throw withLeaks(new KilnError('Cancelled', 'launchVm: cancelled', [], { cause: err }), `VM ${path.basename(scratchDir)}`, leaks);
    throw withLeaks(err, `VM ${path.basename(scratchDir)}`, leaks);
  }
}
