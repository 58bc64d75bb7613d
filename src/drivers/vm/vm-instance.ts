/**
 * A booted QEMU VM as an AWSTOE Instance. Kiln reaches the guest only through qemu-ga (as AWS reaches an EC2
 * instance through the SSM agent): processes with guest-exec, file contents with guest-file-*, power with
 * guest-shutdown. Made by launchVm (vm-launch.ts).
 */
import { constants as osConstants } from 'node:os';
import * as fs from 'node:fs';
import { KilnError } from '../../domain/errors.js';
import type { ExecOptions, ExecResult, Instance, InstanceFs } from '../../toe/instance/instance.js';
import { GuestAgentCommandError, type GuestAgent } from './guest-agent.js';
import { fileError, guestFs, type GuestRun } from './guest-fs.js';
import type { QemuProcess } from './qemu-process.js';

/** What every guest process gets unless ExecOptions.env overrides it (qemu-ga would otherwise pass none). */
export const DEFAULT_GUEST_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
};
/** Agent round trips are fast; one that takes this long means the guest is gone or wedged. */
const AGENT_CALL_MS = 30_000;
const POLL_MIN_MS = 5;
const POLL_MAX_MS = 250;
/** After a kill, how long to wait for qemu-ga to report the process gone. */
const KILL_WAIT_MS = 30_000;
const SHUTDOWN_WAIT_MS = 120_000;
/** The kernel's per-boot random id: a different value proves a reboot happened. */
const BOOT_ID = '/proc/sys/kernel/random/boot_id';

const SIGNAL_NAMES = new Map(Object.entries(osConstants.signals).map(([name, num]) => [num, name]));

export interface VmInstanceParts {
  name: string;
  qemu: QemuProcess;
  agent: GuestAgent;
  scratchDir: string;
  bootMs: number;
  bootTimeoutMs: number;
  /** The qcow2 overlay the guest writes to, when it was booted writable. */
  diskOverlay?: string;
  /**
   * Starts QEMU again on the same writable disk after a clean power-off and connects to the new boot's agent.
   * Given for VMs whose writes persist (an overlay); reboot() then power-cycles instead of a guest reboot,
   * because under TCG a guest that restarts inside the same QEMU runs 2-4x slower than a fresh one.
   */
  restart?: (signal?: AbortSignal) => Promise<{ qemu: QemuProcess; agent: GuestAgent }>;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

function envList(extra: Record<string, string> | undefined): string[] {
  return Object.entries({ ...DEFAULT_GUEST_ENV, ...extra }).map(([k, v]) => `${k}=${v}`);
}

/**
 * Contract: exec runs argv as root in its own session/process group (setsid), output delivered once at exit
 * (qemu-ga returns it only then); putFile/getFile and fs follow InstanceFs; reboot() returns once the agent
 * answers from a new boot; shutdown() powers off cleanly (a writable overlay is then consistent); dispose() kills
 * QEMU if needed and removes the scratch folder, is idempotent, and leaves an overlay outside that folder in place
 * (VmDriver keeps it inside, so it goes with the instance).
 */
export class VmInstance implements Instance {
  readonly id: string;
  readonly platform = 'linux' as const;
  readonly canReboot = true;
  readonly fs: InstanceFs;
  /** Milliseconds from QEMU's start to the agent's first answer. */
  readonly bootMs: number;
  /**
   * The qcow2 overlay (backed by the booted disk) holding the guest's writes, when booted writable; consistent
   * after a clean shutdown(), and removed by dispose() when it lies in the scratch folder.
   */
  readonly diskOverlay: string | undefined;
  private qemu: QemuProcess;
  private agent: GuestAgent;
  private readonly restart: VmInstanceParts['restart'];
  private readonly scratchDir: string;
  private readonly bootTimeoutMs: number;
  private disposed: Promise<void> | undefined;

  constructor(parts: VmInstanceParts) {
    this.id = `vm:${parts.name}`;
    this.qemu = parts.qemu;
    this.agent = parts.agent;
    this.scratchDir = parts.scratchDir;
    this.bootMs = parts.bootMs;
    this.bootTimeoutMs = parts.bootTimeoutMs;
    this.restart = parts.restart;
    this.diskOverlay = parts.diskOverlay;
    this.fs = guestFs((script, args) => this.shell(script, args), () => this.agent);
  }

  /** QEMU's pid (also its process group). */
  get pid(): number {
    return this.qemu.pid;
  }

  get running(): boolean {
    return this.qemu.running;
  }

  /** The last `lines` lines of the serial console. */
  serialTail(lines = 25): string {
    return this.qemu.consoleTail(lines);
  }

  async exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (argv.length === 0) throw new KilnError('InvalidArgument', `${this.id}: exec: argv is empty`);
    // setsid makes the process a group leader (qemu-ga's child is not one, so setsid does not fork and the pid
    // qemu-ga reports is the group id), so a kill reaches everything it started.
    const [script, args] = options.cwd !== undefined
      ? ['cd "$1" && shift && exec setsid "$@"', [options.cwd, ...argv]]
      : ['exec setsid "$@"', argv];
    const empty = { exitCode: null, signal: null, stdout: '', stderr: '', timedOut: false, aborted: false };
    if (options.signal?.aborted) return { ...empty, aborted: true };
    let pid: number;
    try {
      pid = await this.agent.exec({ path: '/bin/sh', arg: ['-c', script, 'sh', ...args], env: envList(options.env), captureOutput: true }, { timeoutMs: AGENT_CALL_MS });
    } catch (err) {
      if (!(err instanceof KilnError) || err.kind === 'Unavailable') throw err;
      return { ...empty, spawnError: err.message };
    }
    const deadline = options.timeoutMs !== undefined && options.timeoutMs > 0 ? Date.now() + options.timeoutMs : Infinity;
    let timedOut = false;
    let aborted = false;
    let killedAt = 0;
    let delay = POLL_MIN_MS;
    for (;;) {
      if (!killedAt && (options.signal?.aborted || Date.now() >= deadline)) {
        aborted = options.signal?.aborted === true;
        timedOut = !aborted;
        killedAt = Date.now();
        await this.killGroup(pid);
      }
      const st = await this.agent.execStatus(pid, { timeoutMs: AGENT_CALL_MS });
      if (st.exited) {
        if (st.stdout.length > 0) options.onStdout?.(st.stdout);
        if (st.stderr.length > 0) options.onStderr?.(st.stderr);
        const stderr = st.stderr.toString('utf8');
        // setsid's own failure to find or run the program, as spawn's ENOENT/EACCES would be locally.
        const notStarted = !killedAt && (st.exitcode === 127 || st.exitcode === 126) && /^setsid: failed to execute /m.test(stderr);
        return {
          exitCode: st.signal !== undefined || notStarted ? null : (st.exitcode ?? null),
          signal: st.signal !== undefined ? (SIGNAL_NAMES.get(st.signal) ?? String(st.signal)) : null,
          stdout: st.stdout.toString('utf8'),
          stderr,
          timedOut,
          aborted,
          ...(notStarted ? { spawnError: stderr.trim() } : {}),
        };
      }
      if (killedAt && Date.now() - killedAt > KILL_WAIT_MS) {
        throw new KilnError('Internal', `${this.id}: guest process ${pid} (${argv[0]}) still running ${KILL_WAIT_MS} ms after SIGKILL`);
      }
      const wait = killedAt ? delay : Math.min(delay, Math.max(0, deadline - Date.now()));
      await sleep(wait, killedAt ? undefined : options.signal);
      delay = Math.min(delay * 2, POLL_MAX_MS);
    }
  }

  async putFile(path: string, data: Buffer | string, mode?: number): Promise<void> {
    try {
      await this.agent.writeFile(path, Buffer.from(data), 'w', { timeoutMs: AGENT_CALL_MS });
    } catch (err) {
      throw fileError(err, 'open', path);
    }
    if (mode !== undefined) await this.fs.chmod(path, mode);
  }

  async getFile(path: string): Promise<Buffer> {
    try {
      return await this.agent.readFile(path, { timeoutMs: AGENT_CALL_MS });
    } catch (err) {
      throw fileError(err, 'open', path);
    }
  }

  /** guest-shutdown mode=reboot; resolves once the agent answers from a boot with a new boot id. */
  async reboot(signal?: AbortSignal): Promise<void> {
    if (this.restart) {
      const down = await this.shutdown(signal);
      if (!down.clean) throw new KilnError('Internal', `${this.id}: the guest did not power off for the reboot\n${this.serialTail()}`);
      const next = await this.restart(signal);
      this.qemu = next.qemu;
      this.agent = next.agent;
      return;
    }
    const before = (await this.getFile(BOOT_ID)).toString('utf8').trim();
    await this.power('reboot', signal);
    const deadline = Date.now() + this.bootTimeoutMs;
    const giveUp = () => (this.qemu.running ? undefined : 'QEMU exited during the reboot');
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new KilnError('Internal', `${this.id}: no answer from a new boot within ${this.bootTimeoutMs} ms of the reboot\n${this.serialTail()}`);
      await this.agent.waitReady({ timeoutMs: left, signal, giveUp });
      try {
        const now = (await this.agent.readFile(BOOT_ID, { signal, timeoutMs: 3000 })).toString('utf8').trim();
        if (now !== before) return;
      } catch (err) {
        if ((err as KilnError).kind === 'Cancelled') throw err;
        // The old boot's agent went away mid-call: keep waiting for the new one.
      }
      await sleep(1000, signal);
      if (signal?.aborted) throw new KilnError('Cancelled', `${this.id}: reboot cancelled`);
    }
  }

  /**
   * Powers the guest off through the agent and waits for QEMU to exit; kills it when the agent is unreachable
   * or the guest is still up after `timeoutMs` (then `clean` is false and a writable overlay may be torn).
   */
  async shutdown(signal?: AbortSignal, timeoutMs = SHUTDOWN_WAIT_MS): Promise<{ clean: boolean; ms: number }> {
    const started = Date.now();
    let clean = false;
    if (this.qemu.running) {
      try {
        await this.power('powerdown', signal);
        clean = await this.qemu.waitExit(timeoutMs, signal);
      } catch {
        clean = false;
      }
    }
    this.agent.close();
    await this.qemu.kill();
    if (signal?.aborted && !clean) throw new KilnError('Cancelled', `${this.id}: shutdown cancelled; QEMU killed`);
    return { clean, ms: Date.now() - started };
  }

  dispose(): Promise<void> {
    this.disposed ??= (async () => {
      this.agent.close();
      await this.qemu.kill();
      await fs.promises.rm(this.scratchDir, { recursive: true, force: true });
    })();
    return this.disposed;
  }

  /** Asks the guest to power off or reboot; returns once asked, not once done. */
  private async power(mode: 'powerdown' | 'reboot', signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.agent.shutdown(mode, { signal, timeoutMs: AGENT_CALL_MS });
    } catch (err) {
      if (!(err instanceof GuestAgentCommandError)) throw err;
      // qemu-ga runs `shutdown +0`, which systemd hands to logind over D-Bus: an image without dbus refuses it.
      // A plain reboot/poweroff asks PID 1 directly. Not awaited: the agent may be gone before it could answer.
      await this.agent.exec({ path: '/bin/sh', arg: ['-c', mode === 'reboot' ? 'exec reboot' : 'exec poweroff'], env: envList(undefined), captureOutput: false }, { signal, timeoutMs: AGENT_CALL_MS });
    }
  }

  private async killGroup(pid: number): Promise<void> {
    try {
      const killer = await this.agent.exec({ path: '/bin/sh', arg: ['-c', 'kill -s KILL -- "-$1"', 'sh', String(pid)], env: envList(undefined), captureOutput: true }, { timeoutMs: AGENT_CALL_MS });
      for (let i = 0; i < 100; i++) {
        if ((await this.agent.execStatus(killer, { timeoutMs: AGENT_CALL_MS })).exited) return;
        await sleep(20);
      }
    } catch (err) {
      if ((err as KilnError).kind === 'Unavailable') throw err;
      // An agent-side error here (e.g. the group is already gone) leaves the status poll to tell what happened.
    }
  }

  private async shell(script: string, args: string[]): Promise<GuestRun> {
    const pid = await this.agent.exec({ path: '/bin/sh', arg: ['-c', script, 'sh', ...args], env: envList(undefined), captureOutput: true }, { timeoutMs: AGENT_CALL_MS });
    let delay = POLL_MIN_MS;
    for (;;) {
      const st = await this.agent.execStatus(pid, { timeoutMs: AGENT_CALL_MS });
      if (st.exited) return { code: st.signal !== undefined ? null : (st.exitcode ?? null), stdout: st.stdout, stderr: st.stderr.toString('utf8') };
      await sleep(delay);
      delay = Math.min(delay * 2, POLL_MAX_MS);
    }
  }
}
