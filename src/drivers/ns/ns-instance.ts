import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { KilnError } from '../../domain/errors.js';
import type { ExecOptions, ExecResult } from '../../toe/instance/instance.js';
import { Launcher, LAUNCHER_SCRIPT } from '../../toe/instance/launcher.js';
import { descendants, killTree } from '../../toe/instance/process-tree.js';
import type { DriverInstance, LaunchSpec } from '../driver.js';
import { InstanceCgroups } from './cgroups.js';
import { DROPPED_CAPABILITIES, INIT_SCRIPT, JOIN_CGROUPS_SCRIPT, LAYER_LINKS_DIR, overlayMountOptions, SYSCALLS } from './init-script.js';
import { resolveInLayers } from './layers.js';
import { newInstanceId, resourceName } from './names.js';
import { RootedFs } from './rooted-fs.js';

const O_PATH = 0o10000000;
/** The environment every process in an instance starts with, before ExecOptions.env. */
export const INSTANCE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Bounds on the waits of launch and dispose, so a wedged kernel object fails loudly instead of hanging a build. */
const STEP_TIMEOUT_MS = 10_000;
/** slirp4netns's addresses: the gateway (10.0.2.2) and its DNS forwarder. */
const SLIRP_DNS = '10.0.2.3';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function nsOf(pid: number, ns: string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${ns}`);
  } catch {
    return undefined;
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/**
 * Host PIDs of the live processes in a PID namespace. Zombies do not count: they hold no mount or namespace any
 * more, and one whose parent died waits for the host's init to reap it, which may take seconds.
 */
function pidsInNamespace(pidNs: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (Number.isInteger(pid) && nsOf(pid, 'pid') === pidNs && !isZombie(pid)) out.push(pid);
  }
  return out;
}

/** The last field of NSpid: a process's PID as its own namespace numbers it. */
function innerPid(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:'));
    return Number(line?.split(/\s+/).filter(Boolean).pop());
  } catch {
    return undefined;
  }
}

async function waitFor(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new KilnError('Internal', `ns instance: timed out waiting for ${what}`);
    await sleep(2);
  }
}

function gone(argv: string[]): ExecResult {
  return { exitCode: null, signal: null, stdout: '', stderr: '', timedOut: false, aborted: false, spawnError: `ns instance is gone; cannot run ${argv[0] ?? ''}` };
}

/**
 * One namespace sandbox: an overlay of the image's layers with a private upper layer, entered in its own
 * namespaces. Its PID 1 (see init-script.ts) runs the launcher loop. File operations go through RootedFs against
 * PID 1's root. Its scratch folder and cgroups are named after its id (names.ts), so sweepNsLeftovers can find
 * them after a crash.
 */
export class NsInstance implements DriverInstance {
  readonly platform = 'linux' as const;
  readonly canReboot = false;
  readonly fs: RootedFs;
  private readonly primary: Launcher;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly children = new Set<ChildProcess>();
  private init: ChildProcess | undefined;
  private initPid: number | undefined;
  private pidNs: string | undefined;
  private rootFd: number | undefined;
  private cgroups: InstanceCgroups | undefined;
  private dead = false;
  private disposing: Promise<void> | undefined;

  private constructor(
    readonly id: string,
    private readonly spec: LaunchSpec,
    private readonly scratch: string,
  ) {
    this.fs = new RootedFs(() => {
      if (this.rootFd === undefined) throw Object.assign(new Error('ENOENT: ns instance is gone'), { code: 'ENOENT' });
      return openSync(`/proc/self/fd/${this.rootFd}`, O_PATH | constants.O_DIRECTORY);
    });
    this.primary = new Launcher({ spawn: () => this.spawnInit(), killTree: (pid) => this.killInner(pid), defaultCwd: () => '/' });
  }

  /**
   * Host PID of the instance's PID 1 while it runs, for a debugging shell:
   * `nsenter -t PID -m -u -i -n -p -r -w /bin/bash` enters all its namespaces and its root. Undefined before the
   * launch completes and once the instance is disposed. (The shell keeps the host's capabilities: for people.)
   */
  get initHostPid(): number | undefined {
    return this.dead ? undefined : this.initPid;
  }

  /** Launches an instance; on any failure releases what it acquired and rethrows the original error. */
  static async launch(spec: LaunchSpec, signal?: AbortSignal): Promise<NsInstance> {
    const id = newInstanceId();
    const scratch = join(spec.scratchRoot, resourceName(id));
    const inst = new NsInstance(id, spec, scratch);
    // Killing what runs unblocks start(), which then fails and disposes; disposing under it would race.
    const onAbort = () => inst.killChildren();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal?.aborted) throw new KilnError('Cancelled', 'ns instance launch cancelled');
      await inst.start(signal);
      return inst;
    } catch (err) {
      // The launch error is the one to report; a cleanup failure rides along on it rather than replacing it.
      await inst.dispose().catch((cleanup: unknown) => {
        if (typeof err === 'object' && err !== null) Object.assign(err, { suppressed: cleanup });
      });
      if (signal?.aborted) throw new KilnError('Cancelled', 'ns instance launch cancelled', [], { cause: err });
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private env(): Record<string, string> {
    return { PATH: INSTANCE_PATH, HOME: '/root', HOSTNAME: this.spec.hostname, LANG: 'C.UTF-8', USER: 'root', SHELL: '/bin/bash' };
  }

  private async start(signal?: AbortSignal): Promise<void> {
    const checkAbort = () => {
      if (signal?.aborted) throw new KilnError('Cancelled', 'ns instance launch cancelled');
    };
    await fsp.mkdir(this.scratch, { mode: 0o700 });
    for (const d of ['upper', 'work', 'merged', 'etc', 'init', LAYER_LINKS_DIR]) await fsp.mkdir(join(this.scratch, d), { mode: 0o755 });
    for (const [i, layer] of this.spec.layers.entries()) await fsp.symlink(layer, join(this.scratch, LAYER_LINKS_DIR, String(i)));
    await this.writeInitLayer();
    checkAbort();
    this.cgroups = await InstanceCgroups.create(resourceName(this.id), this.spec.resources);
    checkAbort();
    // The first exec starts PID 1; its stderr (a failed mount, say) becomes this probe's output.
    const probe = this.primary.exec(['/bin/bash', '-c', 'exit 0'], {});
    const init = this.init!;
    const network = this.spec.network === 'nat' ? this.startNat(init) : Promise.resolve();
    // Both settle even when one fails, so nothing is still starting when the caller disposes.
    const [r, net] = await Promise.allSettled([probe, network]);
    checkAbort();
    if (net.status === 'rejected') throw net.reason;
    if (r.status === 'rejected') throw r.reason;
    const probed = r.value;
    if (probed.exitCode !== 0) {
      throw new KilnError('Internal', `ns instance failed to start: ${(probed.spawnError ?? `exit code ${probed.exitCode}`).trim()}\n${probed.stderr.trim()}`);
    }
    this.initPid = descendants(init.pid!)[0];
    if (this.initPid === undefined) throw new KilnError('Internal', 'ns instance: its PID 1 is gone');
    this.pidNs = nsOf(this.initPid, 'pid');
    this.rootFd = openSync(`/proc/${this.initPid}/root`, O_PATH | constants.O_DIRECTORY);
  }

  /**
   * The layer between the image and the upper layer: mount points and per-instance /etc files. Directories copy
   * the owner, mode and times of the topmost image layer that has them (as the merged view shows them), so that
   * a copy-up into the upper layer looks as the image had it.
   */
  private async writeInitLayer(): Promise<void> {
    const { spec, scratch } = this;
    for (const dir of ['etc', 'proc', 'dev', 'tmp']) {
      const at = join(scratch, 'init', dir);
      await fsp.mkdir(at, { mode: dir === 'tmp' ? 0o1777 : 0o755 });
      const st = (await resolveInLayers(spec.layers, `/${dir}`))?.stats;
      if (st?.isDirectory()) {
        await fsp.chown(at, st.uid, st.gid);
        await fsp.chmod(at, st.mode & 0o7777);
        await fsp.utimes(at, st.atime, st.mtime);
      }
    }
    const files: Record<string, string> = {
      'resolv.conf': spec.network === 'nat' ? `nameserver ${SLIRP_DNS}\n` : '# no network\n',
      hosts: `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${spec.hostname}\n`,
      hostname: `${spec.hostname}\n`,
    };
    for (const [name, text] of Object.entries(files)) {
      await fsp.writeFile(join(scratch, 'etc', name), text, { mode: 0o644 });
      await fsp.writeFile(join(scratch, 'init', 'etc', name), '', { mode: 0o644 });
    }
    // Restore etc's times last: creating the placeholders above moved them.
    const etc = (await resolveInLayers(spec.layers, '/etc'))?.stats;
    if (etc?.isDirectory()) await fsp.utimes(join(scratch, 'init', 'etc'), etc.atime, etc.mtime);
  }

  /**
   * Starts PID 1: joins the cgroups, then unshare runs the init script. Called once, by the primary launcher.
   * Every bash gets --norc: bash reads ~/.bashrc when its stdin is a socket, as Node's pipes are, and neither
   * the host's nor the image's may run here.
   */
  private spawnInit(): ChildProcess {
    if (this.init || this.dead) throw new KilnError('Unavailable', `ns instance ${this.id} is gone`);
    const syscalls = (SYSCALLS[process.arch] ?? []).join(',');
    const unshare = ['unshare', '--mount', '--pid', '--uts', '--ipc', '--net', '--fork', '--kill-child', '--propagation', 'private'];
    const init = [...unshare, 'bash', '--norc', '-c', INIT_SCRIPT, 'kiln-init', overlayMountOptions(this.spec.layers.length), this.scratch, this.spec.hostname, String(this.spec.resources.memoryMiB), LAUNCHER_SCRIPT, syscalls, DROPPED_CAPABILITIES.join(',')];
    const child = this.spawnLimited(init);
    this.init = child;
    child.once('exit', () => {
      this.dead = true;
    });
    return child;
  }

  private spawnLimited(argv: string[], stdio: ('pipe' | 'ignore')[] = ['pipe', 'pipe', 'pipe', 'pipe']): ChildProcess {
    const cgroups = this.cgroups?.paths ?? [];
    const child = spawn('bash', ['--norc', '-c', JOIN_CGROUPS_SCRIPT, 'kiln-join', String(cgroups.length), ...cgroups, ...argv], { stdio, env: this.env() });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Attaches slirp4netns to the instance's network namespace once unshare has made it. */
  private async startNat(init: ChildProcess): Promise<void> {
    const pid = init.pid!;
    const own = nsOf(process.pid, 'net');
    // Attaching before unshare(2) ran would give the host's namespace a tap device: wait for the new one.
    await waitFor('the network namespace', () => {
      const ns = nsOf(pid, 'net');
      return ns === undefined || ns !== own;
    });
    if (nsOf(pid, 'net') === undefined) throw new KilnError('Internal', 'ns instance exited before its network was set up');
    // exit-fd: slirp4netns ends when we do, even if dispose never runs.
    const slirp = spawn('slirp4netns', ['--configure', '--mtu=65520', '--disable-host-loopback', '--ready-fd=3', '--exit-fd=4', String(pid), 'tap0'], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    });
    this.children.add(slirp);
    slirp.once('exit', () => this.children.delete(slirp));
    let errText = '';
    slirp.stderr!.on('data', (c: Buffer) => {
      errText = (errText + c.toString('utf8')).slice(-4000);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new KilnError('Internal', `slirp4netns did not become ready: ${errText}`)), STEP_TIMEOUT_MS);
      (slirp.stdio[3] as Readable).once('data', () => {
        clearTimeout(timer);
        resolve();
      });
      slirp.once('error', (err) => {
        clearTimeout(timer);
        reject(new KilnError('Unavailable', `slirp4netns: ${err.message}`));
      });
      slirp.once('exit', (code) => {
        clearTimeout(timer);
        reject(new KilnError('Internal', `slirp4netns exited with ${code}: ${errText}`));
      });
    });
    for (const s of [slirp.stderr, slirp.stdio[3], slirp.stdio[4]] as ({ unref?: () => void } | null)[]) s?.unref?.();
    slirp.unref();
  }

  /**
   * Kills every process this instance started: the processes below our direct children first (PID 1 of the
   * namespace), so that unshare reaps it and exits by itself; a child with nothing below it (slirp4netns, a
   * wrapper still starting) is killed itself.
   */
  private killChildren(): void {
    for (const child of this.children) {
      if (child.pid === undefined) continue;
      const below = descendants(child.pid);
      if (below.length > 0) killTree(below[0]!);
      else killTree(child.pid);
    }
  }

  /** Kills a process tree named by its PID inside the instance: the launcher reports those, not host PIDs. */
  private killInner(innerPidValue: number): void {
    if (this.pidNs === undefined) return;
    for (const pid of pidsInNamespace(this.pidNs)) {
      if (innerPid(pid) === innerPidValue) {
        killTree(pid);
        return;
      }
    }
  }

  /**
   * Runs argv as root inside the instance; cwd defaults to `/`. Calls run one at a time, in order: a second
   * launcher entered with nsenter would start the image's bash with all of the host's capabilities, before
   * anything could drop them (see init-script.ts), so concurrency waits for a launcher pool started by PID 1.
   */
  exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const run = this.queue.then(() => this.execNow(argv, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private execNow(argv: string[], options: ExecOptions): Promise<ExecResult> {
    if (this.dead || this.initPid === undefined) return Promise.resolve(gone(argv));
    if (options.signal?.aborted) return Promise.resolve({ exitCode: null, signal: null, stdout: '', stderr: '', timedOut: false, aborted: true });
    return this.primary.exec(argv, options);
  }

  putFile(path: string, data: Buffer | string, mode?: number): Promise<void> {
    return this.fs.writeFile(path, data, mode === undefined ? undefined : { mode });
  }

  getFile(path: string): Promise<Buffer> {
    return this.fs.readFile(path);
  }

  reboot(): Promise<void> {
    return Promise.reject(new KilnError('Unavailable', 'ns instances cannot reboot yet; the runner simulates the reboot'));
  }

  snapshotDir(): string {
    return join(this.scratch, 'upper');
  }

  dispose(): Promise<void> {
    this.disposing ??= this.release();
    return this.disposing;
  }

  /**
   * Kills PID 1 (the kernel then kills the rest of its PID namespace, and the mount namespace with every mount
   * goes with the last process), waits for that, then removes cgroups and the scratch directory. Each step runs
   * even when an earlier one failed; the first failure is reported at the end.
   */
  private async release(): Promise<void> {
    this.dead = true;
    const errors: unknown[] = [];
    const attempt = async (fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    await attempt(async () => {
      this.killChildren();
      const children = [...this.children];
      await waitFor(`the processes of ${this.id} to exit`, () => children.every((c) => c.exitCode !== null || c.signalCode !== null));
    });
    // After its processes are gone, so that this kills no one and unshare was not killed before its child.
    this.primary.dispose();
    const pidNs = this.pidNs;
    if (pidNs !== undefined) await attempt(() => waitFor(`the processes of ${this.id} to exit`, () => pidsInNamespace(pidNs).length === 0));
    if (this.rootFd !== undefined) {
      const fd = this.rootFd;
      this.rootFd = undefined;
      await attempt(() => closeSync(fd));
    }
    await attempt(() => this.cgroups?.remove());
    await attempt(() => fsp.rm(this.scratch, { recursive: true, force: true }));
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `releasing ns instance ${this.id} failed ${errors.length} times`);
  }
}
