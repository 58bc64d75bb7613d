/**
 * Small partitioned disks with an ext4 filesystem made from a folder (mkfs.ext4 -d, written at the partition's
 * offset: no loop device, no mount), for tests that read disks Kiln did not lay out.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const MIB = 1024 * 1024;

export interface Ext4DiskOptions {
  /** Partition table: GPT or MBR. */
  label: 'gpt' | 'dos';
  /** Partitions before the ext4 one (type and MiB), left empty: an ESP, a swap... */
  before?: { type: string; mib: number }[];
  /** The ext4 partition's type (GPT GUID or MBR hex). */
  type: string;
  /** The ext4 partition's size; the disk is this plus 2 MiB and the partitions before it. */
  mib: number;
  uuid?: string;
  /** The whole disk's size when larger than its partitions need (room after the last one). */
  diskMib?: number;
}

/** Writes `disk` with the partitions asked for, the last holding an ext4 filesystem of the files in `rootfs`. */
export function writeExt4Disk(disk: string, rootfs: string, options: Ext4DiskOptions): void {
  const before = options.before ?? [];
  const total = Math.max(options.diskMib ?? 0, 2 + before.reduce((n, p) => n + p.mib, 0) + options.mib);
  writeFileSync(disk, '');
  truncateSync(disk, total * MIB);
  let start = 1;
  const lines = [`label: ${options.label}`];
  for (const p of before) {
    lines.push(`start=${start * 2048}, size=${p.mib * 2048}, type=${p.type}`);
    start += p.mib;
  }
  lines.push(`start=${start * 2048}, size=${options.mib * 2048}, type=${options.type}${options.uuid ? `, uuid=${options.uuid}` : ''}`);
  execFileSync('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', disk], { input: `${lines.join('\n')}\n` });
  execFileSync('mkfs.ext4', ['-q', '-F', '-E', `offset=${start * MIB}`, '-d', rootfs, disk, `${options.mib * 1024}k`], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A dpkg status file with these packages installed (name, version). */
export function dpkgStatus(packages: [string, string][]): string {
  return packages.map(([name, version]) => `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${version}\n`).join('\n');
}

/**
 * A Debian-like root filesystem under `dir`: /etc/os-release a relative symlink into /usr/lib (as Debian has it),
 * a merged /usr (/bin → usr/bin), dpkg's status with `packages`, and cloud-init and/or qemu-ga when asked.
 */
export function writeDebianLikeRoot(dir: string, options: { packages: [string, string][]; cloudInit: boolean; agent: boolean }): void {
  for (const d of ['etc', 'usr/lib', 'usr/bin', 'usr/sbin', 'var/lib/dpkg']) mkdirSync(path.join(dir, d), { recursive: true });
  writeFileSync(path.join(dir, 'usr/lib/os-release'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n');
  symlinkSync('../usr/lib/os-release', path.join(dir, 'etc/os-release'));
  symlinkSync('usr/bin', path.join(dir, 'bin'));
  symlinkSync('usr/sbin', path.join(dir, 'sbin'));
  writeFileSync(path.join(dir, 'var/lib/dpkg/status'), dpkgStatus(options.packages));
  if (options.cloudInit) writeFileSync(path.join(dir, 'usr/bin/cloud-init'), '#!/usr/bin/python3\n', { mode: 0o755 });
  if (options.agent) writeFileSync(path.join(dir, 'usr/sbin/qemu-ga'), '\x7fELF', { mode: 0o755 });
}
