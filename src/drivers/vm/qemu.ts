/**
 * Boots a disk in QEMU and watches its serial console: the boot test of a machine image. The guest writes
 * nothing back to the disk (snapshot=on), and QEMU never outlives the call.
 */
import { spawn } from 'node:child_process';
import { KilnError } from '../../domain/errors.js';
import type { Accel } from './accel.js';

export const OVMF_FIRMWARE = '/usr/share/ovmf/OVMF.fd';
/** Legacy BIOS: QEMU's built-in SeaBIOS. */
export const BIOS_FIRMWARE = 'bios';
/** The path of a UEFI firmware image (e.g. OVMF_FIRMWARE), or 'bios' for SeaBIOS. */
export type Firmware = typeof BIOS_FIRMWARE | (string & {});
/** How much of the console is kept for matching and for the caller (failure reasons quote the tail). */
const CONSOLE_WINDOW = 64 * 1024;
const TAIL_CHARS = 4000;

export interface BootOptions {
  disk: string;
  /** Format of `disk`; default raw. */
  format?: 'raw' | 'qcow2' | 'vmdk' | 'vpc';
  memoryMiB: number;
  vcpus: number;
  accel: Accel;
  /** A UEFI firmware image, e.g. OVMF_FIRMWARE, or 'bios' (BIOS_FIRMWARE) for SeaBIOS. */
  firmware: Firmware;
  /** Tested against the console text seen so far (last 64 KiB) after every chunk. */
  until: RegExp;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface BootResult {
  matched: boolean;
  /** Why the wait ended. */
  ended: 'matched' | 'exited' | 'timeout';
  /** The last few KiB of the serial console. */
  serialTail: string;
  /** From spawn to the end of the wait. */
  ms: number;
  /** QEMU's pid, for checks that it is gone. */
  pid: number | undefined;
}

/** QEMU arguments selecting `firmware`: `-bios <image>`, or none for 'bios' (SeaBIOS is QEMU's default). */
export function firmwareArgs(firmware: Firmware): string[] {
  return firmware === BIOS_FIRMWARE ? [] : ['-bios', firmware];
}

/** The qemu-system-x86_64 command line for `options`; exported so callers can log it. */
export function qemuArgs(options: Omit<BootOptions, 'until' | 'timeoutMs' | 'signal'>): string[] {
  const accel = options.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg', '-cpu', 'max'];
  return [
    '-machine', 'q35', ...accel,
    '-m', String(options.memoryMiB), '-smp', String(options.vcpus),
    '-nographic', '-no-reboot', '-nic', 'none',
    ...firmwareArgs(options.firmware),
    '-drive', `file=${options.disk},if=virtio,format=${options.format ?? 'raw'},snapshot=on`,
  ];
}

/**
 * Starts QEMU and resolves when `until` matches the serial console, the VM powers off (QEMU exits; with
 * -no-reboot a reboot too) or `timeoutMs` passes. Rejects with Cancelled on abort and Unavailable when QEMU
 * is missing. In every case QEMU has been killed and reaped before the promise settles.
 */
export function bootAndWait(options: BootOptions): Promise<BootResult> {
  const { until, timeoutMs, signal } = options;
  if (signal?.aborted) return Promise.reject(new KilnError('Cancelled', 'bootAndWait: cancelled before start'));
  const started = Date.now();
  // Its own process group, so the kill reaches anything QEMU might spawn.
  const child = spawn('qemu-system-x86_64', qemuArgs(options), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let serial = '';
  let stderr = '';
  let outcome: { ended: BootResult['ended']; matched: boolean } | { error: Error } | undefined;

  return new Promise<BootResult>((resolve, reject) => {
    const finish = (result: NonNullable<typeof outcome>) => {
      if (outcome) return;
      outcome = result;
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone between the check and the kill.
        }
      }
    };
    const onData = (chunk: string) => {
      serial = (serial + chunk).slice(-CONSOLE_WINDOW);
      if (until.test(serial)) finish({ ended: 'matched', matched: true });
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-TAIL_CHARS)));
    const timer = setTimeout(() => finish({ ended: 'timeout', matched: false }), timeoutMs);
    const onAbort = () => finish({ error: new KilnError('Cancelled', 'bootAndWait: cancelled') });
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err: NodeJS.ErrnoException) => {
      finish({ error: err.code === 'ENOENT' ? new KilnError('Unavailable', 'qemu-system-x86_64 is not installed') : err });
      // A process that never started may not report 'close'.
      if (child.pid === undefined) {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject((outcome as { error: Error }).error);
      }
    });
    // 'close' comes after the process is reaped and its output drained: only then is nothing left running.
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (!outcome) {
        const matched = until.test(serial);
        if (!matched && code !== 0 && stderr.trim()) {
          outcome = { error: new KilnError('Internal', `qemu-system-x86_64 failed (${sig ?? `exit ${code}`}): ${stderr.trim()}`) };
        } else {
          outcome = { ended: matched ? 'matched' : 'exited', matched };
        }
      }
      if ('error' in outcome) return reject(outcome.error);
      resolve({ ...outcome, serialTail: serial.slice(-TAIL_CHARS), ms: Date.now() - started, pid: child.pid });
    });
  });
}
