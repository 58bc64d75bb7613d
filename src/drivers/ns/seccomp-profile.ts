/**
 * The seccomp filter of an ns instance: the profile that Debian's containers-common ships for podman and
 * buildah (`/usr/share/containers/seccomp.json`, moby's format), resolved for one capability set and one
 * architecture into the OCI runtime spec's `linux.seccomp`, as podman does before it hands a spec to runc.
 * Kiln does not write its own syscall list: the profile is maintained with the kernel, and podman's users
 * already trust it.
 */
import { readFileSync } from 'node:fs';

/** Where containers-common installs the profile (Debian package golang-github-containers-common). */
export const SECCOMP_PROFILE_PATH = '/usr/share/containers/seccomp.json';

interface ProfileRule {
  names?: string[];
  name?: string;
  action: string;
  errnoRet?: number;
  args?: unknown[];
  includes?: { caps?: string[]; arches?: string[]; minKernel?: string };
  excludes?: { caps?: string[]; arches?: string[] };
}

/** The file's shape (moby/containers-common `seccomp.json`). */
export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  syscalls?: ProfileRule[];
}

/** `linux.seccomp` of an OCI runtime spec. */
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: { names: string[]; action: string; errnoRet?: number; args?: unknown[] }[];
}

/** The profile's arch names (Go's GOARCH) and libseccomp's main architecture, by Node's process.arch. */
const ARCHES: Readonly<Record<string, { goArch: string; scmp: string }>> = {
  x64: { goArch: 'amd64', scmp: 'SCMP_ARCH_X86_64' },
  arm64: { goArch: 'arm64', scmp: 'SCMP_ARCH_AARCH64' },
};

/** True when kernel release `running` (`6.18.44-fc`) is at least `wanted` (`5.8`). */
function kernelAtLeast(running: string, wanted: string): boolean {
  const parse = (v: string) => v.split(/[^0-9]+/).filter(Boolean).slice(0, 3).map(Number);
  const [a, b] = [parse(running), parse(wanted)];
  for (let i = 0; i < 3; i++) {
    const [x, y] = [a[i] ?? 0, b[i] ?? 0];
    if (x !== y) return x > y;
  }
  return true;
}

/**
 * Resolves a profile for a process that holds `capabilities` (`CAP_CHOWN`…) on `arch` (process.arch) under
 * kernel `kernelRelease`: a rule applies when every capability and the architecture it includes are present
 * and none it excludes is, as podman's own resolver decides. Throws for an architecture Kiln has no mapping for.
 */
export function resolveSeccomp(profile: SeccompProfile, capabilities: readonly string[], arch: string, kernelRelease: string): OciSeccomp {
  const target = ARCHES[arch];
  if (!target) throw new Error(`no seccomp architecture for ${arch}`);
  const caps = new Set(capabilities);
  const entry = profile.archMap?.find((a) => a.architecture === target.scmp);
  const syscalls: OciSeccomp['syscalls'] = [];
  for (const rule of profile.syscalls ?? []) {
    const inc = rule.includes ?? {};
    const exc = rule.excludes ?? {};
    if (inc.caps && !inc.caps.every((c) => caps.has(c))) continue;
    if (inc.arches && inc.arches.length > 0 && !inc.arches.includes(target.goArch)) continue;
    if (inc.minKernel && !kernelAtLeast(kernelRelease, inc.minKernel)) continue;
    if (exc.caps?.some((c) => caps.has(c))) continue;
    if (exc.arches?.includes(target.goArch)) continue;
    const names = rule.names ?? (rule.name ? [rule.name] : []);
    if (names.length === 0) continue;
    syscalls.push({
      names,
      action: rule.action,
      ...(rule.errnoRet !== undefined ? { errnoRet: rule.errnoRet } : {}),
      ...(rule.args && rule.args.length > 0 ? { args: rule.args } : {}),
    });
  }
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    architectures: [target.scmp, ...(entry?.subArchitectures ?? [])],
    syscalls,
  };
}

let cached: SeccompProfile | undefined;

/** Reads containers-common's profile once per process; throws when the file is missing or not a profile. */
export function loadSeccompProfile(path = SECCOMP_PROFILE_PATH): SeccompProfile {
  if (path === SECCOMP_PROFILE_PATH && cached) return cached;
  const profile = JSON.parse(readFileSync(path, 'utf8')) as SeccompProfile;
  if (typeof profile?.defaultAction !== 'string' || !Array.isArray(profile.syscalls)) throw new Error(`${path} is not a seccomp profile`);
  if (path === SECCOMP_PROFILE_PATH) cached = profile;
  return profile;
}
