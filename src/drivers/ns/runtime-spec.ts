/**
 * The OCI runtime spec (runc's config.json) of an ns instance: podman's default confinement, written out.
 * Capabilities are podman's default set, the seccomp filter is containers-common's profile resolved for them,
 * the masked and read-only paths are podman's, `no_new_privs` is on, and the cgroup limits come from the
 * instance type. The instance shares the network namespace runc is started in (a fresh one, see
 * init-script.ts), so slirp4netns can attach to it before the container exists.
 */
import type { InstanceResources } from '../driver.js';
import type { OciSeccomp } from './seccomp-profile.js';

/** podman's `default_capabilities` (containers.conf): what root inside an instance holds. */
export const INSTANCE_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_NET_BIND_SERVICE',
  'CAP_SETFCAP',
  'CAP_SETGID',
  'CAP_SETPCAP',
  'CAP_SETUID',
  'CAP_SYS_CHROOT',
];

/** Paths hidden from the instance (podman's list): kernel memory, keys, timers, firmware, host block devices. */
export const MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/fs/selinux',
  '/sys/dev/block',
  '/sys/devices/virtual/powercap',
];

/** Paths the instance may read but never write: kernel settings, interrupts, sysrq. */
export const READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** Processes an instance may run when its type names no limit: a build, not a fork bomb. */
export const DEFAULT_MAX_PROCESSES = 4096;
/** CFS accounting period; the quota is vCPUs × this. */
const CPU_PERIOD_US = 100_000;
/** podman's per-process open-file limit; lowered to what this host lets a process hold. */
const WANTED_NOFILE = 1_048_576;

/** What the spec is made of, in host terms. */
export interface RuntimeSpecInput {
  /** The instance's merged root filesystem (the overlay mount point). */
  rootfs: string;
  /** The instance's folder: `etc/` holds its resolv.conf, hosts and hostname. */
  scratch: string;
  hostname: string;
  resources: InstanceResources;
  /** The container's PID 1 and its environment. */
  args: string[];
  env: Record<string, string>;
  seccomp: OciSeccomp;
  /** Relative to runc's own cgroup of each controller, so a supervisor's accounting still covers the instance. */
  cgroupsPath: string;
  /** This process's hard limit on open files: runc cannot raise it without CAP_SYS_RESOURCE. */
  nofileHardLimit: number;
}

/** The config.json runc runs the instance from. */
export function runtimeSpec(input: RuntimeSpecInput): Record<string, unknown> {
  const { resources } = input;
  const memory = resources.memoryMiB * 1024 * 1024;
  const nofile = Math.min(WANTED_NOFILE, input.nofileHardLimit);
  const caps = [...INSTANCE_CAPABILITIES];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: input.args,
      env: Object.entries(input.env).map(([k, v]) => `${k}=${v}`),
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile }],
      noNewPrivileges: true,
    },
    root: { path: input.rootfs, readonly: false },
    hostname: input.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      // /tmp is memory, so the instance's memory limit bounds it too.
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', `size=${resources.memoryMiB}m`] },
      ...['resolv.conf', 'hosts', 'hostname'].map((name) => ({ destination: `/etc/${name}`, type: 'bind', source: `${input.scratch}/etc/${name}`, options: ['rbind', 'nosuid', 'nodev', 'noexec'] })),
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }],
      cgroupsPath: input.cgroupsPath,
      resources: {
        // Only the devices of the instance's /dev (runc adds null, zero, full, random, urandom, tty and the pts).
        devices: [{ allow: false, access: 'rwm' }],
        memory: { limit: memory, swap: memory },
        pids: { limit: resources.maxProcesses ?? DEFAULT_MAX_PROCESSES },
        cpu: { period: CPU_PERIOD_US, quota: Math.round(resources.vcpus * CPU_PERIOD_US) },
      },
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
      seccomp: input.seccomp,
      rootfsPropagation: 'private',
    },
  };
}
