import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';

/*
 * The cgroups of ns instances. runc makes each instance's groups (limits from the runtime spec), named after
 * the instance below runc's own group of each hierarchy, cgroup v1 controllers and the v2 hierarchy alike (on
 * this kind of host a hybrid: v1 controllers, and a v2 hierarchy without controllers whose groups still have
 * `cgroup.kill`). Kiln adds one group of its own below the instance's v2 group: the running step's, so that a
 * step's processes, whatever they forked, die with it in one write. Names tie everything to the instance, so a
 * sweep after a crash finds what is left by name.
 */

/** How long removal waits for the kernel to release a group whose processes were just killed. */
const REMOVE_WAIT_MS = 5000;

interface Hierarchy {
  /** Where it is mounted. */
  mount: string;
  /** v1 controllers (or `name=…`) it carries; empty for the v2 hierarchy. */
  controllers: string[];
}

function unescape(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Every cgroup hierarchy mounted in this mount namespace. */
function hierarchies(): Hierarchy[] {
  const out: Hierarchy[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const [fstype, , superOptions] = right.split(' ');
    const mount = unescape(left.split(' ')[4] ?? '');
    if (fstype === 'cgroup2') out.push({ mount, controllers: [] });
    else if (fstype === 'cgroup') out.push({ mount, controllers: (superOptions ?? '').split(',').filter((o) => o !== 'rw' && o !== 'ro' && !o.startsWith('release_agent') && o !== 'clone_children' && o !== 'noprefix') });
  }
  return out;
}

/** A process's group in each hierarchy, as `/proc/PID/cgroup` names it: v2 under '', v1 under each controller. */
function groupsOf(pid: number | 'self'): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    for (const c of controllers === '' ? [''] : controllers.split(',')) out.set(c, path);
  }
  return out;
}

/** The directory of a process's group in a hierarchy, or undefined when the process has none there. */
function groupDir(h: Hierarchy, groups: Map<string, string>): string | undefined {
  const path = h.controllers.length === 0 ? groups.get('') : groups.get(h.controllers[0]!);
  return path === undefined ? undefined : join(h.mount, path);
}

/** Directories of a process's groups: its v2 group and its v1 memory group (undefined where not mounted). */
export function processGroups(pid: number): { unified: string | undefined; memory: string | undefined } {
  const groups = groupsOf(pid);
  const all = hierarchies();
  const v2 = all.find((h) => h.controllers.length === 0);
  const memoryV1 = all.find((h) => h.controllers.includes('memory'));
  return { unified: v2 && groupDir(v2, groups), memory: memoryV1 ? groupDir(memoryV1, groups) : v2 && groupDir(v2, groups) };
}

/**
 * The existing groups named `name` where runc makes an instance's (below this process's own group in every
 * hierarchy), deepest first, with any group Kiln made inside them: how dispose and a sweep find what to remove.
 */
export function existingGroups(name: string): string[] {
  const own = groupsOf('self');
  const out: string[] = [];
  const seen = new Set<string>();
  for (const h of hierarchies()) {
    const parent = groupDir(h, own);
    if (!parent) continue;
    const dir = join(parent, name);
    if (seen.has(dir) || !existsSync(dir)) continue;
    seen.add(dir);
    try {
      for (const entry of childGroups(dir)) out.push(join(dir, entry));
    } catch {
      // gone meanwhile
    }
    out.push(dir);
  }
  return out;
}

/** A group's children: its subdirectories (its files are the controllers' knobs). */
function childGroups(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
}

/** The number of OOM kills in a memory group so far (v1 `memory.oom_control`, v2 `memory.events`); 0 if unknown. */
export function oomKills(memoryDir: string | undefined): number {
  if (!memoryDir) return 0;
  for (const file of ['memory.oom_control', 'memory.events']) {
    try {
      const m = /^oom_kill (\d+)$/m.exec(readFileSync(join(memoryDir, file), 'utf8'));
      if (m) return Number(m[1]);
    } catch {
      // the other file, or no memory controller
    }
  }
  return 0;
}

/** Kills every process of a v2 group at once (`cgroup.kill`), fork bombs included, and waits until it is empty. */
export async function killGroup(dir: string, deadline = Date.now() + REMOVE_WAIT_MS): Promise<void> {
  try {
    if (/^populated 0$/m.test(await fsp.readFile(join(dir, 'cgroup.events'), 'utf8'))) return;
    await fsp.writeFile(join(dir, 'cgroup.kill'), '1');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (;;) {
    let events: string;
    try {
      events = await fsp.readFile(join(dir, 'cgroup.events'), 'utf8');
    } catch {
      return;
    }
    if (/^populated 0$/m.test(events)) return;
    if (Date.now() > deadline) throw new Error(`the processes of cgroup ${dir} did not exit after cgroup.kill`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Removes one group once the kernel has let go of its (killed) processes; waits up to REMOVE_WAIT_MS. */
export async function removeGroupWhenEmpty(dir: string): Promise<void> {
  const deadline = Date.now() + REMOVE_WAIT_MS;
  for (;;) {
    try {
      await fsp.rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      // EBUSY while the kernel is still tearing down the killed processes.
      if (code !== 'EBUSY' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
