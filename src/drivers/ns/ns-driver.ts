import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { validationError, type Issue } from '../../domain/errors.js';
import type { DriverInstance, InstanceDriver, LaunchSpec } from '../driver.js';
import { SYSCALLS } from './init-script.js';
import { INSTANCE_PATH, NsInstance } from './ns-instance.js';

/** Host tools the driver runs, and the Debian package of each (for the issue text). */
const HOST_TOOLS: [tool: string, pkg: string][] = [
  ['unshare', 'util-linux'],
  ['mount', 'mount'],
  ['mknod', 'coreutils'],
  ['ip', 'iproute2'],
  ['perl', 'perl-base'],
  ['bash', 'bash'],
];

const HOSTNAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** The instance processes' PATH is what the host tools are looked up in too (see ns-instance.ts). */
function onPath(tool: string): boolean {
  return INSTANCE_PATH.split(':').some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** What this host lacks to run ns instances with the given network mode: no root, missing tools… */
export function hostIssues(network: 'none' | 'nat'): Issue[] {
  const issues: Issue[] = [];
  const add = (path: string, message: string) => issues.push({ path, message });
  if (process.platform !== 'linux') add('', 'the ns driver runs only on Linux');
  if (process.getuid?.() !== 0) add('', 'the ns driver needs root (mount, namespaces)');
  if (SYSCALLS[process.arch] === undefined) add('', `the ns driver does not support the ${process.arch} architecture`);
  const tools = network === 'nat' ? [...HOST_TOOLS, ['slirp4netns', 'slirp4netns'] as [string, string]] : HOST_TOOLS;
  for (const [tool, pkg] of tools) if (!onPath(tool)) add('', `${tool} is not installed (Debian package ${pkg})`);
  if (network === 'nat' && !isDir('/dev/net')) add('network', 'nat needs /dev/net/tun, which this host lacks');
  return issues;
}

/**
 * The `ns` driver: instances are overlayfs sandboxes in their own mount, PID, UTS, IPC and network namespaces
 * on this host, with user-mode NAT (slirp4netns) or no network. It needs root. With NAT, the host's loopback
 * is out of reach, but its other addresses are reached like any outside host (as with a container bridge).
 * Inside, root keeps the capabilities a build needs but not those that reach the host (see init-script.ts),
 * and may open only the devices of its /dev.
 */
export class NsDriver implements InstanceDriver {
  readonly kind = 'ns';

  prepare(spec: LaunchSpec): Promise<Issue[]> {
    const issues: Issue[] = [];
    const add = (path: string, message: string) => issues.push({ path, message });
    issues.push(...hostIssues(spec.network === 'nat' ? 'nat' : 'none'));
    for (const [field, value] of [['rootfs', spec.rootfs], ['scratchRoot', spec.scratchRoot]] as const) {
      if (!isAbsolute(value)) add(field, `must be an absolute path, got ${JSON.stringify(value)}`);
      // overlayfs splits its options on these characters.
      else if (/[,:\\\n]/.test(value)) add(field, 'must not contain commas, colons, backslashes or newlines');
      else if (!isDir(value)) add(field, `${value} is not a directory`);
    }
    if (isAbsolute(spec.rootfs) && isDir(spec.rootfs)) {
      try {
        accessSync(`${spec.rootfs}/bin/bash`, constants.X_OK);
      } catch {
        add('rootfs', `${spec.rootfs} has no executable /bin/bash, which runs commands inside the instance`);
      }
    }
    if (!HOSTNAME_RE.test(spec.hostname) || spec.hostname.length > 64) add('hostname', `${JSON.stringify(spec.hostname)} is not a valid hostname`);
    if (spec.network !== 'none' && spec.network !== 'nat') add('network', `must be "none" or "nat", got ${JSON.stringify(spec.network)}`);
    const r = spec.resources;
    if (!(Number.isInteger(r.vcpus) && r.vcpus >= 1)) add('resources.vcpus', 'must be a whole number of at least 1');
    if (!(Number.isInteger(r.memoryMiB) && r.memoryMiB >= 64)) add('resources.memoryMiB', 'must be a whole number of at least 64');
    if (r.maxProcesses !== undefined && !(Number.isInteger(r.maxProcesses) && r.maxProcesses >= 16)) add('resources.maxProcesses', 'must be a whole number of at least 16');
    return Promise.resolve(issues);
  }

  /** Validates the spec as prepare() does (an InvalidArgument error lists every issue), then launches. */
  async launch(spec: LaunchSpec, signal?: AbortSignal): Promise<DriverInstance> {
    const issues = await this.prepare(spec);
    if (issues.length > 0) throw validationError('ns instance launch', issues);
    return NsInstance.launch(spec, signal);
  }
}
