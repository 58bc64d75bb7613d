import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { validationError, type Issue } from '../../domain/errors.js';
import type { DriverInstance, InstanceDriver, LaunchSpec } from '../driver.js';
import { MOUNT_OPTIONS_MAX, OVERLAY_MAX_LOWER_LAYERS, overlayMountOptions } from './init-script.js';
import { resolveInLayers } from './layers.js';
import { INSTANCE_PATH, NsInstance } from './ns-instance.js';
import { SECCOMP_PROFILE_PATH } from './seccomp-profile.js';

/** Host tools the driver runs, and the Debian package of each (for the issue text). */
const HOST_TOOLS: [tool: string, pkg: string][] = [
  ['unshare', 'util-linux'],
  ['mount', 'mount'],
  ['truncate', 'coreutils'],
  ['mkfs.ext4', 'e2fsprogs'],
  ['ip', 'iproute2'],
  ['bash', 'bash'],
  ['runc', 'runc'],
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
  if (process.arch !== 'x64' && process.arch !== 'arm64') add('', `the ns driver does not support the ${process.arch} architecture`);
  if (!existsSync(SECCOMP_PROFILE_PATH)) add('', `${SECCOMP_PROFILE_PATH} is missing (Debian package golang-github-containers-common): it is the seccomp profile of build instances`);
  if (!/ - cgroup2 /.test(readFileSync('/proc/self/mountinfo', 'utf8'))) add('', 'no cgroup v2 hierarchy is mounted: the ns driver kills a step\'s processes through one');
  const tools = network === 'nat' ? [...HOST_TOOLS, ['slirp4netns', 'slirp4netns'] as [string, string]] : HOST_TOOLS;
  for (const [tool, pkg] of tools) if (!onPath(tool)) add('', `${tool} is not installed (Debian package ${pkg})`);
  if (network === 'nat' && !isDir('/dev/net')) add('network', 'nat needs /dev/net/tun, which this host lacks');
  return issues;
}

/** What is wrong with an image's layer stack: not a list of directories, too deep to mount, or no /bin/bash. */
async function layerIssues(layers: readonly string[]): Promise<Issue[]> {
  const issues: Issue[] = [];
  const add = (path: string, message: string) => issues.push({ path, message });
  if (!Array.isArray(layers) || layers.length === 0) {
    add('layers', 'must list at least one directory (a plain root filesystem is a one-element list)');
    return issues;
  }
  // The init layer sits above the image's layers, in the same stack.
  if (layers.length + 1 > OVERLAY_MAX_LOWER_LAYERS) {
    add('layers', `has ${layers.length} layers; overlayfs stacks at most ${OVERLAY_MAX_LOWER_LAYERS - 1} below an instance's own (squash the image)`);
  } else if (overlayMountOptions(layers.length).length > MOUNT_OPTIONS_MAX) {
    add('layers', `has ${layers.length} layers, too many for the overlay's mount options (${MOUNT_OPTIONS_MAX} bytes)`);
  }
  layers.forEach((layer, i) => {
    if (typeof layer !== 'string' || !isAbsolute(layer)) add(`layers[${i}]`, `must be an absolute path, got ${JSON.stringify(layer)}`);
    else if (!isDir(layer)) add(`layers[${i}]`, `${layer} is not a directory`);
  });
  if (issues.length > 0) return issues;
  const bash = await resolveInLayers(layers, '/bin/bash', { follow: true });
  let executable = false;
  if (bash?.stats.isFile()) {
    try {
      accessSync(bash.hostPath, constants.X_OK);
      executable = true;
    } catch {
      // reported below
    }
  }
  if (!executable) add('layers', 'the image has no executable /bin/bash (looked up through its layers), which runs commands inside the instance');
  return issues;
}

/**
 * The `ns` driver: instances are OCI containers run by runc over an overlay of the image's layers, confined as
 * podman confines a container by default (runtime-spec.ts: capabilities, seccomp, masked and read-only paths,
 * no_new_privs, cgroup limits), with a root volume that bounds what they write, and user-mode NAT
 * (slirp4netns) or no network. It needs root. With NAT, the host's loopback is out of reach, but its other
 * addresses are reached like any outside host (as with a container bridge).
 */
export class NsDriver implements InstanceDriver {
  readonly kind = 'ns';

  async prepare(spec: LaunchSpec): Promise<Issue[]> {
    const issues: Issue[] = [];
    const add = (path: string, message: string) => issues.push({ path, message });
    issues.push(...hostIssues(spec.network === 'nat' ? 'nat' : 'none'));
    if (!isAbsolute(spec.scratchRoot)) add('scratchRoot', `must be an absolute path, got ${JSON.stringify(spec.scratchRoot)}`);
    else if (!isDir(spec.scratchRoot)) add('scratchRoot', `${spec.scratchRoot} is not a directory`);
    issues.push(...(await layerIssues(spec.layers)));
    if (spec.disk !== undefined) add('disk', 'an ns instance enters its layers; it boots no disk');
    if (!HOSTNAME_RE.test(spec.hostname) || spec.hostname.length > 64) add('hostname', `${JSON.stringify(spec.hostname)} is not a valid hostname`);
    if (spec.network !== 'none' && spec.network !== 'nat') add('network', `must be "none" or "nat", got ${JSON.stringify(spec.network)}`);
    const r = spec.resources;
    if (!(Number.isInteger(r.vcpus) && r.vcpus >= 1)) add('resources.vcpus', 'must be a whole number of at least 1');
    if (!(Number.isInteger(r.memoryMiB) && r.memoryMiB >= 64)) add('resources.memoryMiB', 'must be a whole number of at least 64');
    if (r.maxProcesses !== undefined && !(Number.isInteger(r.maxProcesses) && r.maxProcesses >= 16)) add('resources.maxProcesses', 'must be a whole number of at least 16');
    if (r.rootVolumeGiB !== undefined && !(Number.isInteger(r.rootVolumeGiB) && r.rootVolumeGiB >= 1 && r.rootVolumeGiB <= 16000)) add('resources.rootVolumeGiB', 'must be a whole number from 1 to 16000');
    return issues;
  }

  /** Validates the spec as prepare() does (an InvalidArgument error lists every issue), then launches. */
  async launch(spec: LaunchSpec, signal?: AbortSignal): Promise<DriverInstance> {
    const issues = await this.prepare(spec);
    if (issues.length > 0) throw validationError('ns instance launch', issues);
    return NsInstance.launch(spec, signal);
  }
}
