/**
 * Crash recovery for the ns driver: releases what instances of a process that died (or simply forgot them)
 * still hold. An instance is found by its scratch folder `kiln-ns-…` under the scratch root (names.ts); what
 * belongs to it is then found by name and by namespace, never by guessing from process names:
 *  - processes whose arguments name the scratch folder or a path in it (`runc run`, which holds the private
 *    mount namespace with the instance's root volume);
 *  - processes in its cgroups (the container's, and its step group);
 *  - PID 1s whose mounts come from the scratch folder (the per-instance /etc files are bind-mounted from it);
 *  - everything in the PID namespaces of those;
 *  - slirp4netns processes attached to any of them.
 * They are killed, then the cgroups are removed, the root volume (mounted under the folder) is unmounted and
 * its loop device detaches (autoclear), and the folder is removed.
 */
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { KilnError } from '../../domain/errors.js';
import { killTree } from '../../toe/instance/process-tree.js';
import { existingGroups, removeGroupWhenEmpty } from './cgroups.js';
import { mountsUnder, umountLazy } from './host-mounts.js';
import { loopDevicesOf, waitLoopDetached } from './loop-devices.js';
import { instanceIdOf, resourceName } from './names.js';

/** How long the sweep waits for killed processes to go. */
const EXIT_WAIT_MS = 10_000;

interface Proc {
  pid: number;
  argv: string[];
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function nsOf(pid: number | 'self', ns: string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${ns}`);
  } catch {
    return undefined;
  }
}

function isLive(pid: number): boolean {
  const stat = readText(`/proc/${pid}/stat`);
  return stat !== undefined && !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

/** Every live process but this one and the host's init. */
function processes(): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid || pid === 1 || !isLive(pid)) continue;
    const cmdline = readText(`/proc/${pid}/cmdline`);
    if (cmdline !== undefined) out.push({ pid, argv: cmdline.split('\0').slice(0, -1) });
  }
  return out;
}

async function waitGone(pids: number[]): Promise<void> {
  const deadline = Date.now() + EXIT_WAIT_MS;
  for (;;) {
    const left = pids.filter(isLive);
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new KilnError('Internal', `processes ${left.join(', ')} did not exit after SIGKILL`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** What belongs to one instance, found in a snapshot of the process table. */
function instanceProcesses(id: string, scratch: string, procs: readonly Proc[], groups: readonly string[]): { pids: Set<number>; groups: Set<string> } {
  const name = resourceName(id);
  const pids = new Set<number>();
  const foundGroups = new Set(groups.map((g) => realpathOrUndefined(g) ?? g));
  const ownPidNs = nsOf('self', 'pid');
  const ownMntNs = nsOf('self', 'mnt');
  for (const dir of groups) {
    for (const line of (readText(join(dir, 'cgroup.procs')) ?? '').split('\n')) if (/^\d+$/.test(line)) pids.add(Number(line));
  }
  const checkedMntNs = new Map<string, boolean>();
  for (const p of procs) {
    if (p.argv.some((a) => a === scratch || a.startsWith(`${scratch}/`))) pids.add(p.pid);
    for (const line of (readText(`/proc/${p.pid}/cgroup`) ?? '').split('\n')) {
      const path = line.split(':')[2];
      if (path?.split('/').includes(name)) {
        pids.add(p.pid);
        const controllers = line.split(':')[1]?.split(',') ?? [];
        for (const c of controllers) {
          // Co-mounted controllers (cpu,cpuacct) share one directory under several names.
          const dir = realpathOrUndefined(join('/sys/fs/cgroup', c, path));
          if (c && dir) foundGroups.add(dir);
        }
      }
    }
    // A mount namespace holding a bind mount of the instance's /etc files (root field: path inside its filesystem).
    const mnt = nsOf(p.pid, 'mnt');
    if (mnt === undefined || mnt === ownMntNs) continue;
    let hit = checkedMntNs.get(mnt);
    if (hit === undefined) {
      const info = readText(`/proc/${p.pid}/mountinfo`) ?? '';
      hit = info.split('\n').some((l) => l.split(' ')[3]?.endsWith(`/${name}/etc/resolv.conf`));
      checkedMntNs.set(mnt, hit);
    }
    if (hit) pids.add(p.pid);
  }
  // Everything in the PID namespaces those processes made or live in.
  const pidNamespaces = new Set<string>();
  for (const pid of pids) {
    for (const kind of ['pid', 'pid_for_children']) {
      const ns = nsOf(pid, kind);
      if (ns !== undefined && ns !== ownPidNs) pidNamespaces.add(ns);
    }
  }
  for (const p of procs) {
    const ns = nsOf(p.pid, 'pid');
    if (ns !== undefined && pidNamespaces.has(ns)) pids.add(p.pid);
  }
  // slirp4netns names its target's PID as the argument before the tap device.
  for (const p of procs) {
    if (p.argv[0]?.split('/').pop() === 'slirp4netns' && pids.has(Number(p.argv[p.argv.length - 2]))) pids.add(p.pid);
  }
  pids.delete(process.pid);
  pids.delete(1);
  return { pids, groups: foundGroups };
}

/**
 * Releases every ns instance left under `scratchRoot` by a process that is gone (or that lost track of it):
 * kills its processes, removes its cgroups, unmounts anything still mounted under its scratch folder, and
 * removes the folder. Instances for which `keep(instanceId)` is true are left alone: pass the ids of the
 * instances this process still runs, since the sweep cannot tell a live instance from a forgotten one. Returns
 * a line for each thing released (`process 123 (unshare)`, `cgroup …`, `mount …`, `directory …`).
 */
export async function sweepNsLeftovers(scratchRoot: string, options: { keep?: (instanceId: string) => boolean } = {}): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(scratchRoot);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const released: string[] = [];
  const errors: unknown[] = [];
  const procs = processes();
  for (const entry of names.sort()) {
    const id = instanceIdOf(entry);
    if (id === undefined || options.keep?.(id)) continue;
    const scratch = join(scratchRoot, entry);
    const attempt = async (fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    const found = instanceProcesses(id, scratch, procs, existingGroups(entry));
    const volume = join(scratch, 'volume.img');
    const loops = loopDevicesOf(volume);
    const pids = [...found.pids].sort((a, b) => a - b);
    for (const pid of pids) {
      const comm = readText(`/proc/${pid}/comm`)?.trim() ?? '?';
      killTree(pid);
      released.push(`process ${pid} (${comm}) of ${id}`);
    }
    await attempt(() => waitGone(pids));
    // Deepest first: a group with a group inside cannot be removed.
    for (const dir of [...found.groups].sort((a, b) => b.length - a.length)) {
      await attempt(async () => {
        await removeGroupWhenEmpty(dir);
        released.push(`cgroup ${dir}`);
      });
    }
    // The overlay died with the instance's namespace; its root volume is mounted in ours, and rm would descend
    // into it.
    for (const point of mountsUnder(scratch)) {
      await attempt(async () => {
        await umountLazy(point);
        released.push(`mount ${point}`);
      });
    }
    if (loops.length > 0) {
      await attempt(async () => {
        await waitLoopDetached(loops, volume);
        released.push(...loops.map((d) => `loop device /dev/${d}`));
      });
    }
    if (mountsUnder(scratch).length > 0) {
      errors.push(new KilnError('Internal', `${scratch} still has mounts; it is left in place`));
      continue;
    }
    await attempt(async () => {
      await fsp.rm(scratch, { recursive: true, force: true });
      released.push(`directory ${scratch}`);
    });
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `sweeping ${scratchRoot} failed ${errors.length} times`);
  return released;
}
