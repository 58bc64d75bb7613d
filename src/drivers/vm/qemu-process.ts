/**
 * A running qemu-system-x86_64 in its own process group: its serial console kept (a log file, a tail in memory,
 * a live callback) and its exit observable. Whoever starts one must call kill() (or see it exit) and await
 * `exited` before removing anything QEMU has open.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { KilnError } from '../../domain/errors.js';

/** How much console text is kept in memory for failure messages. */
const CONSOLE_WINDOW = 64 * 1024;
const STDERR_WINDOW = 4000;

export interface QemuExit {
  code: number | null;
  signal: string | null;
  /** QEMU's own complaints (bad option, missing file), for error messages. */
  stderr: string;
}

export class QemuProcess {
  readonly pid: number;
  /** Settles once QEMU is reaped and its output drained; never rejects. */
  readonly exited: Promise<QemuExit>;
  private console = '';
  private stderr = '';
  private exit: QemuExit | undefined;

  private constructor(
    private readonly child: ChildProcess,
    serialLog: string,
    onConsole: ((text: string) => void) | undefined,
  ) {
    this.pid = child.pid!;
    const log = fs.createWriteStream(serialLog, { flags: 'a' });
    // A full disk must not take the VM down with an unhandled stream error; the tail in memory stays.
    log.on('error', () => undefined);
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      this.console = (this.console + text).slice(-CONSOLE_WINDOW);
      log.write(text);
      onConsole?.(text);
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-STDERR_WINDOW)));
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.exit = { code, signal, stderr: this.stderr.trim() };
        log.end(() => resolve(this.exit!));
      });
    });
  }

  /**
   * Spawns QEMU detached (own process group, so one kill reaches everything it starts). Rejects with Unavailable
   * when the binary is missing; `serialLog` receives everything the guest writes to its console.
   */
  static start(args: string[], serialLog: string, onConsole?: (text: string) => void): Promise<QemuProcess> {
    return new Promise((resolve, reject) => {
      const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      child.once('error', (err: NodeJS.ErrnoException) => {
        reject(err.code === 'ENOENT' ? new KilnError('Unavailable', 'qemu-system-x86_64 is not installed') : err);
      });
      child.once('spawn', () => resolve(new QemuProcess(child, serialLog, onConsole)));
    });
  }

  get running(): boolean {
    return this.exit === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last `lines` lines of the console, without the terminal's carriage returns and escape sequences. */
  consoleTail(lines = 25): string {
    // eslint-disable-next-line no-control-regex
    const clean = this.console.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-B]|\r/g, '');
    return clean.split('\n').filter((l, i, all) => l.trim() !== '' || i < all.length - 1).slice(-lines).join('\n');
  }

  /** SIGKILL to the whole process group; resolves when QEMU is reaped. */
  async kill(): Promise<QemuExit> {
    if (this.running) {
      try {
        process.kill(-this.pid, 'SIGKILL');
      } catch {
        // Exited between the check and the kill.
      }
    }
    return this.exited;
  }

  /** Waits up to `ms` for QEMU to exit by itself; true when it did. */
  async waitExit(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (!this.running) return true;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const stop = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
      onAbort = () => resolve(false);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([this.exited.then(() => true as const), stop]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }
}
