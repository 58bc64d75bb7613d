import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync, readlinkSync, statfsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { KilnError } from '../../domain/errors.js';
import { streamTail } from '../../logs/utf8-chunks.js';
import type { ExecOptions, ExecResult } from '../../toe/instance/instance.js';
import { Launcher, LAUNCHER_SCRIPT } from '../../toe/instance/launcher.js';
import { descendants, killTree } from '../../toe/instance/process-tree.js';
import { DEFAULT_ROOT_VOLUME_GIB, type DriverInstance, type LaunchSpec } from '../driver.js';
import { existingGroups, killGroup, oomKills, processGroups, removeGroupWhenEmpty } from './cgroups.js';
import { mountsUnder, umountLazy } from './host-mounts.js';
import { INIT_SCRIPT, LAYER_LINKS_DIR, overlayMountOptions } from './init-script.js';
import { resolveInLayers } from './layers.js';
import { loopDevicesOf, waitLoopDetached } from './loop-devices.js';
import { newInstanceId, resourceName } from './names.js';
import { RootedFs } from './rooted-fs.js';
import { INSTANCE_CAPABILITIES, runtimeSpec } from './runtime-spec.js';
import { loadSeccompProfile, resolveSeccomp } from './seccomp-profile.js';

const O_PATH = 0o10000000;
/** The environment every process in an instance starts with, before ExecOptions.env. */
export const INSTANCE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Bounds on the waits of launch and dispose, so a wedged kernel object fails loudly instead of hanging a build. */
const STEP_TIMEOUT_MS = 10_000;
/** slirp4netns's addresses: the gateway (10.0.2.2) and its DNS forwarder. */
const SLIRP_DNS = '10.0.2.3';
/** The name of the cgroup (below the instance's v2 group) that holds the running step's processes. */
const STEP_GROUP = 'step';
/** Below this much free space on its root volume, a failed process is said to have filled the disk. */
const DISK_FULL_SLACK_BYTES = 16 * 1024 * 1024;

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

/** The last field of NSpid: a process's PID as its own namespace numbers it. */
function innerPid(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:'));
    return Number(line?.split(/\s+/).filter(Boolean).pop());
  } catch {
    return undefined;
  }
}

/** Host PIDs of a process's children (the kernel's own list: no scan of /proc). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** This process's hard limit on open files, which runc cannot raise for the instance. */
function nofileHardLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  const hard = line?.trim().split(/\s+/)[4];
  return hard === undefined || hard === 'unlimited' ? 1_048_576 : Number(hard);
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

/** `2 GiB` for 2048 MiB, `1536 MiB` otherwise. */
function sizeText(mib: number): string {
  return mib % 1024 === 0 ? `${mib / 1024} GiB` : `${mib} MiB`;
}

/**
 * One build instance: an OCI container that runc runs (ADR 0003) over an overlay of the image's layers, with a
 * private upper layer on a root volume of the instance's size. Its PID 1 runs the launcher loop; each exec runs
 * in a cgroup of its own that is killed, as a whole, when the exec ends, times out or is cancelled. File
 * operations go through RootedFs against PID 1's root. Its scratch folder, container and cgroups are named after
 * its id (names.ts), so sweepNsLeftovers can find them after a crash.
 */
export class NsInstance implements DriverInstance {
  readonly platform = 'linux' as const;
  readonly canReboot = false;
  readonly fs: RootedFs;
  private readonly primary: Launcher;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly children = new Set<ChildProcess>();
  /** The process that becomes `runc run`: it holds the private mount namespace with the volume and overlay. */
  private wrapper: ChildProcess | undefined;
  private initPid: number | undefined;
  private rootFd: number | undefined;
  private stepGroup: string | undefined;
  private memoryGroup: string | undefined;
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
    this.primary = new Launcher({
      spawn: () => this.spawnWrapper(),
      killTree: () => void this.killStep(),
      defaultCwd: () => '/',
      beforeStart: (pid) => this.confineStep(pid),
    });
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
    for (const d of ['volume', 'merged', 'etc', 'init', 'bundle', 'runc', LAYER_LINKS_DIR]) await fsp.mkdir(join(this.scratch, d), { mode: 0o700 });
    for (const [i, layer] of this.spec.layers.entries()) await fsp.symlink(layer, join(this.scratch, LAYER_LINKS_DIR, String(i)));
    await this.writeInitLayer();
    await this.writeBundle();
    checkAbort();
    // The first exec starts the container; its stderr (a failed mount, say) becomes this probe's output.
    const probe = this.primary.exec(['/bin/bash', '-c', 'exit 0'], {});
    const wrapper = this.wrapper!;
    const network = this.spec.network === 'nat' ? this.startNat(wrapper) : Promise.resolve();
    // Both settle even when one fails, so nothing is still starting when the caller disposes.
    const [r, net] = await Promise.allSettled([probe, network]);
    checkAbort();
    if (net.status === 'rejected') throw net.reason;
    if (r.status === 'rejected') throw r.reason;
    const probed = r.value;
    if (probed.exitCode !== 0) {
      throw new KilnError('Internal', `ns instance failed to start: ${(probed.spawnError ?? `exit code ${probed.exitCode}`).trim()}\n${probed.stderr.trim()}`);
    }
  }

  /**
   * The layer between the image and the upper layer: mount points and per-instance /etc files. Directories copy
   * the owner, mode and times of the topmost image layer that has them (as the merged view shows them), so that
   * a copy-up into the upper layer looks as the image had it.
   */
  private async writeInitLayer(): Promise<void> {
    const { spec, scratch } = this;
    await fsp.chmod(join(scratch, 'init'), 0o755);
    for (const dir of ['etc', 'proc', 'dev', 'sys', 'tmp']) {
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
    await fsp.chmod(join(scratch, 'etc'), 0o755);
    for (const [name, text] of Object.entries(files)) {
      await fsp.writeFile(join(scratch, 'etc', name), text, { mode: 0o644 });
      await fsp.writeFile(join(scratch, 'init', 'etc', name), '', { mode: 0o644 });
    }
    // Restore etc's times last: creating the placeholders above moved them.
    const etc = (await resolveInLayers(spec.layers, '/etc'))?.stats;
    if (etc?.isDirectory()) await fsp.utimes(join(scratch, 'init', 'etc'), etc.atime, etc.mtime);
  }

  /** runc's bundle: config.json with the instance's confinement; its root is the overlay the wrapper mounts. */
  private async writeBundle(): Promise<void> {
    const seccomp = resolveSeccomp(loadSeccompProfile(), INSTANCE_CAPABILITIES, process.arch, release());
    const config = runtimeSpec({
      rootfs: join(this.scratch, 'merged'),
      scratch: this.scratch,
      hostname: this.spec.hostname,
      resources: this.spec.resources,
      // Every bash gets --norc: bash reads ~/.bashrc when its stdin is a socket, and the image's may not run here.
      args: ['/bin/bash', '--norc', '-c', LAUNCHER_SCRIPT, 'kiln-launcher', '1'],
      env: this.env(),
      seccomp,
      cgroupsPath: resourceName(this.id),
      nofileHardLimit: nofileHardLimit(),
    });
    await fsp.writeFile(join(this.scratch, 'bundle', 'config.json'), JSON.stringify(config), { mode: 0o600 });
  }

  /** Starts the wrapper that becomes `runc run`. Called once, by the primary launcher. */
  private spawnWrapper(): ChildProcess {
    if (this.wrapper || this.dead) throw new KilnError('Unavailable', `ns instance ${this.id} is gone`);
    const diskMiB = (this.spec.resources.rootVolumeGiB ?? DEFAULT_ROOT_VOLUME_GIB) * 1024;
    const argv = ['bash', '--norc', '-c', INIT_SCRIPT, 'kiln-init', this.scratch, overlayMountOptions(this.spec.layers.length), String(diskMiB), join(this.scratch, 'runc'), resourceName(this.id)];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: { PATH: INSTANCE_PATH, LANG: 'C.UTF-8' } });
    this.children.add(child);
    child.once('exit', () => {
      this.children.delete(child);
      this.dead = true;
    });
    this.wrapper = child;
    return child;
  }

  /**
   * Runs before each process runs anything: learns the container's PID 1 and groups on the first call, then
   * moves the process (a child of PID 1, named by its PID inside) into the step group.
   */
  private async confineStep(inner: number): Promise<void> {
    if (this.initPid === undefined) await this.attach();
    const host = childrenOf(this.initPid!).find((pid) => innerPid(pid) === inner);
    if (host === undefined) throw new KilnError('Internal', 'the process to run is gone before it started');
    await fsp.writeFile(join(this.stepGroup!, 'cgroup.procs'), String(host));
  }

  /** Finds PID 1 through runc's pid file, opens its root, and makes the step group below the instance's. */
  private async attach(): Promise<void> {
    // runc writes the file just after it starts PID 1, so the launcher may speak first.
    const pidFile = join(this.scratch, 'bundle', 'pid');
    await waitFor("runc's pid file", () => existsSync(pidFile) || this.dead);
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1) throw new KilnError('Internal', 'runc gave no pid for the instance');
    const groups = processGroups(pid);
    if (!groups.unified) throw new KilnError('Unavailable', 'this host has no cgroup v2 hierarchy to confine steps in');
    const step = join(groups.unified, STEP_GROUP);
    await fsp.mkdir(step);
    this.stepGroup = step;
    this.memoryGroup = groups.memory;
    this.initPid = pid;
    this.rootFd = openSync(`/proc/${pid}/root`, O_PATH | constants.O_DIRECTORY);
  }

  /** Kills every process of the running step (and anything it left behind) and waits until they are gone. */
  private async killStep(): Promise<void> {
    if (this.stepGroup) await killGroup(this.stepGroup);
  }

  /** Attaches slirp4netns to the instance's network namespace once unshare has made it. */
  private async startNat(wrapper: ChildProcess): Promise<void> {
    const pid = wrapper.pid!;
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
    const slirpErr = streamTail(slirp.stderr!, 4000);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new KilnError('Internal', `slirp4netns did not become ready: ${slirpErr()}`)), STEP_TIMEOUT_MS);
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
        reject(new KilnError('Internal', `slirp4netns exited with ${code}: ${slirpErr()}`));
      });
    });
    for (const s of [slirp.stderr, slirp.stdio[3], slirp.stdio[4]] as ({ unref?: () => void } | null)[]) s?.unref?.();
    slirp.unref();
  }

  /** Kills every process this instance started on the host: slirp4netns, and runc with the container below it. */
  private killChildren(): void {
    for (const child of this.children) {
      if (child.pid === undefined) continue;
      for (const pid of descendants(child.pid).reverse()) killTree(pid);
      killTree(child.pid);
    }
  }

  /**
   * Runs argv as root inside the instance; cwd defaults to `/`. Calls run one at a time, in order, each in the
   * step group, which is emptied before the next starts: nothing a process left running outlives its exec.
   */
  exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const run = this.queue.then(() => this.execNow(argv, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async execNow(argv: string[], options: ExecOptions): Promise<ExecResult> {
    if (this.dead) return gone(argv);
    if (options.signal?.aborted) return { exitCode: null, signal: null, stdout: '', stderr: '', timedOut: false, aborted: true };
    const oomBefore = oomKills(this.memoryGroup);
    const result = await this.primary.exec(argv, options);
    if (!this.dead) await this.killStep();
    if (result.exitCode === 0) return result;
    const fault = oomKills(this.memoryGroup) > oomBefore ? this.outOfMemory() : this.diskFull();
    return fault ? { ...result, instanceFault: fault } : result;
  }

  private outOfMemory(): string {
    const r = this.spec.resources;
    return `the build instance ran out of memory: ${sizeText(r.memoryMiB)}${r.instanceType ? ` for ${r.instanceType}` : ''}`;
  }

  /** A reason when the root volume is (nearly) full, which is why a process failing now most likely failed. */
  private diskFull(): string | undefined {
    if (this.initPid === undefined || this.dead) return undefined;
    try {
      const st = statfsSync(`/proc/${this.initPid}/root/`);
      if (st.bavail * st.bsize > DISK_FULL_SLACK_BYTES) return undefined;
    } catch {
      return undefined;
    }
    const gib = this.spec.resources.rootVolumeGiB ?? DEFAULT_ROOT_VOLUME_GIB;
    return `the build instance's disk is full: ${gib} GiB (the recipe's root ebs.volumeSize in blockDeviceMappings sets it)`;
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

  /** The upper layer, on the root volume. */
  snapshotDir(): string {
    return join(this.scratch, 'volume', 'upper');
  }

  dispose(): Promise<void> {
    this.disposing ??= this.release();
    return this.disposing;
  }

  /**
   * Empties and removes the step group, kills the container and runc (the mount namespace with the overlay goes
   * with them), removes whatever groups are left, unmounts the root volume and waits for its loop device to
   * detach, then removes the scratch directory. Each step runs even when an earlier one failed; the first
   * failure is reported at the end.
   */
  private async release(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    const volume = join(this.scratch, 'volume.img');
    const loops = loopDevicesOf(volume);
    await attempt(() => this.killStep());
    await attempt(() => this.stepGroup && removeGroupWhenEmpty(this.stepGroup));
    this.dead = true;
    await attempt(async () => {
      this.killChildren();
      const children = [...this.children];
      await waitFor(`the processes of ${this.id} to exit`, () => children.every((c) => c.exitCode !== null || c.signalCode !== null));
    });
    this.primary.dispose();
    if (this.rootFd !== undefined) {
      const fd = this.rootFd;
      this.rootFd = undefined;
      await attempt(() => closeSync(fd));
    }
    await attempt(async () => {
      for (const dir of existingGroups(resourceName(this.id))) {
        await killGroup(dir);
        await removeGroupWhenEmpty(dir);
      }
    });
    await attempt(async () => {
      for (const point of mountsUnder(this.scratch)) await umountLazy(point);
    });
    await attempt(() => waitLoopDetached([...loops, ...loopDevicesOf(volume)], volume));
    await attempt(() => fsp.rm(this.scratch, { recursive: true, force: true }));
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `releasing ns instance ${this.id} failed ${errors.length} times`);
  }
}
