import { existsSync, readFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import type { InstanceResources } from '../driver.js';

/*
 * Resource limits through cgroups v1, which is what this kind of host offers (a hybrid hierarchy whose v2 part
 * has no useful controllers). Each instance gets one group per controller, created below the group this
 * process is in (so a supervisor's own accounting still covers it) and named after the instance, so that a
 * crash recovery can find leftovers by name. Controllers that are not mounted are skipped: limits are best
 * effort, isolation does not depend on them.
 */

const CGROUP_ROOT = '/sys/fs/cgroup';
/** CFS accounting period; the quota is vCPUs × this. */
const CPU_PERIOD_US = 100_000;
/** Processes an instance may run when its type names no limit: a build, not a fork bomb. */
export const DEFAULT_MAX_PROCESSES = 4096;
/** null, zero, full, random, urandom, tty, ptmx and the pts terminals. */
const ALLOWED_DEVICES = ['c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 136:* rwm'];
/** How long removal waits for the kernel to release a group whose processes were just killed. */
const REMOVE_WAIT_MS = 3000;

/** The path of this process's group for a v1 controller, or undefined when the controller is not mounted. */
function ownGroup(controller: string): string | undefined {
  const base = join(CGROUP_ROOT, controller);
  if (!existsSync(join(base, 'cgroup.procs'))) return undefined;
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers?.split(',').includes(controller) && path !== undefined) return join(base, path);
  }
  return base;
}

/** The groups of one instance; `paths` are what a process writes its pid into to join them. */
export class InstanceCgroups {
  private constructor(
    readonly paths: string[],
    /** Limits that could not be applied, for the instance's log. */
    readonly skipped: string[],
  ) {}

  /** Creates the groups and writes the limits; releases what it made if a write fails. */
  static async create(name: string, resources: InstanceResources): Promise<InstanceCgroups> {
    const wanted: [string, [string, string][]][] = [
      ['memory', [['memory.limit_in_bytes', String(resources.memoryMiB * 1024 * 1024)]]],
      ['pids', [['pids.max', String(resources.maxProcesses ?? DEFAULT_MAX_PROCESSES)]]],
      ['cpu', [['cpu.cfs_period_us', String(CPU_PERIOD_US)], ['cpu.cfs_quota_us', String(Math.round(resources.vcpus * CPU_PERIOD_US))]]],
      // Only the devices of the instance's /dev: a disk node made with mknod cannot be opened or mounted.
      ['devices', [['devices.deny', 'a'], ...ALLOWED_DEVICES.map((d): [string, string] => ['devices.allow', d])]],
    ];
    const made = new InstanceCgroups([], []);
    try {
      for (const [controller, settings] of wanted) {
        const parent = ownGroup(controller);
        if (!parent) {
          made.skipped.push(`${controller}: controller not mounted`);
          continue;
        }
        const dir = join(parent, name);
        await fsp.mkdir(dir);
        made.paths.push(dir);
        for (const [file, value] of settings) await fsp.writeFile(join(dir, file), value);
      }
      return made;
    } catch (err) {
      await made.remove().catch(() => undefined);
      throw err;
    }
  }

  /** Removes the groups once their processes are gone; idempotent. Groups that could not go are kept to retry. */
  async remove(): Promise<void> {
    const deadline = Date.now() + REMOVE_WAIT_MS;
    const left: string[] = [];
    let first: unknown;
    for (const dir of this.paths) {
      try {
        await removeGroup(dir, deadline);
      } catch (err) {
        first ??= err;
        left.push(dir);
      }
    }
    this.paths.splice(0, this.paths.length, ...left);
    if (first !== undefined) throw first;
  }
}

/** The controllers InstanceCgroups.create makes a group in. */
const CONTROLLERS = ['memory', 'pids', 'cpu', 'devices'];

/**
 * The existing groups named `name` where InstanceCgroups.create would make them (below this process's own
 * group of each controller): how a sweep finds the groups of an instance a crashed process left.
 */
export function existingGroups(name: string): string[] {
  const out: string[] = [];
  for (const controller of CONTROLLERS) {
    const parent = ownGroup(controller);
    if (parent && existsSync(join(parent, name))) out.push(join(parent, name));
  }
  return out;
}

/** Removes one group once the kernel has let go of its (killed) processes; waits up to REMOVE_WAIT_MS. */
export function removeGroupWhenEmpty(dir: string): Promise<void> {
  return removeGroup(dir, Date.now() + REMOVE_WAIT_MS);
}

async function removeGroup(dir: string, deadline: number): Promise<void> {
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
