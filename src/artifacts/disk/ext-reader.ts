/**
 * Reads files out of a disk image's ext2/3/4 root filesystem without mounting it: no loop device, no kernel
 * filesystem code run on bytes a stranger uploaded. The partition table comes from `sfdisk --json` (GPT or MBR),
 * files from e2fsprogs' `debugfs` opened read-only at the partition's offset. Symlinks are resolved here, one
 * component at a time and a bounded number of hops, as the image's own kernel would with the partition as `/`:
 * an absolute target starts again at the image's root, `..` stops there, and nothing ever reaches the host.
 * Other filesystems (XFS, btrfs), LVM and encrypted volumes are not readable this way: callers get undefined.
 */
import * as fsp from 'node:fs/promises';
import { runTool } from './run-tool.js';
import { ROOT_TYPE } from './assemble.js';
import { isKilnError } from '../../domain/errors.js';
import { OS_RELEASE_FILES } from '../../domain/package-inventory.js';

/** What lstat tells of one path inside the filesystem. */
export interface ExtEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  /** A symlink's target as stored. */
  target?: string;
}

/** Answers the entry at an absolute, already resolved-up-to-its-parent path, or undefined when there is none. */
export type Lstat = (path: string) => Promise<ExtEntry | undefined>;

/** Linux's limit on symlinks followed in one lookup. */
export const MAX_SYMLINK_HOPS = 40;

/**
 * Resolves `file` (absolute, inside the image) to the path of what it names, following symlinks in every
 * component through `lstat`. Undefined when a component is missing, a non-final component is not a directory,
 * or more than `maxHops` links are followed (a loop).
 */
export async function resolveInImage(file: string, lstat: Lstat, maxHops = MAX_SYMLINK_HOPS): Promise<{ path: string; entry: ExtEntry } | undefined> {
  let pending = file.split('/');
  const resolved: string[] = [];
  let entry: ExtEntry = { type: 'dir', size: 0 };
  let hops = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      // The parent of a resolved prefix is a directory already seen; at the root, `..` is the root.
      resolved.pop();
      entry = { type: 'dir', size: 0 };
      continue;
    }
    const at = `/${[...resolved, name].join('/')}`;
    const found = await lstat(at);
    if (!found) return undefined;
    if (found.type === 'symlink') {
      if (++hops > maxHops || found.target === undefined || found.target === '') return undefined;
      if (found.target.startsWith('/')) resolved.length = 0;
      pending = [...found.target.split('/'), ...pending];
      entry = { type: 'dir', size: 0 };
      continue;
    }
    if (pending.some((p) => p !== '' && p !== '.') && found.type !== 'dir') return undefined;
    resolved.push(name);
    entry = found;
  }
  return { path: `/${resolved.join('/')}`, entry };
}

/** One partition as `sfdisk --json` lists it, in bytes. */
export interface DiskPartition {
  offset: number;
  size: number;
  /** The GPT type GUID (upper case) or the MBR type byte in hex (`83`). */
  type: string;
}

const LINUX_DATA_GPT = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';
const ARM64_ROOT_GPT = 'B921B045-1DF0-41C3-AF44-4C6F280D3FAE';
/** ESP, BIOS boot, swap, LVM and the MBR's EFI, swap, LVM and extended-partition types: never a readable root. */
const NOT_ROOT = new Set([
  'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  '21686148-6449-6E6F-744E-656564454649',
  '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F',
  'E6D6D379-F507-44C2-A23C-238F2A3DF928',
  'EF',
  '82',
  '8E',
  '5',
  'F',
  '85',
]);
/** Enough for any sane layout; each try is one debugfs run. */
const MAX_CANDIDATES = 8;

/**
 * The partitions worth looking into for a root filesystem, most likely first: typed root partitions, then Linux
 * data partitions (GPT's generic type, MBR's 83), then any other kind not known to be something else; larger
 * first within each. A disk with no partition table is one filesystem at offset 0.
 */
export function rootCandidates(partitions: readonly DiskPartition[] | undefined, diskBytes: number): DiskPartition[] {
  if (!partitions) return [{ offset: 0, size: diskBytes, type: '' }];
  const rank = (p: DiskPartition): number => {
    const type = p.type.toUpperCase();
    if (type === ROOT_TYPE || type === ARM64_ROOT_GPT) return 0;
    if (type === LINUX_DATA_GPT || type === '83') return 1;
    return 2;
  };
  return partitions
    .filter((p) => !NOT_ROOT.has(p.type.toUpperCase()) && p.size > 0)
    .sort((a, b) => rank(a) - rank(b) || b.size - a.size)
    .slice(0, MAX_CANDIDATES);
}

/** The disk's partitions, or undefined when it has no partition table sfdisk knows. */
export async function diskPartitions(disk: string, signal?: AbortSignal): Promise<DiskPartition[] | undefined> {
  const listed = await runTool('sfdisk', ['--json', disk], signal ? { signal } : {}).catch(() => undefined);
  if (!listed) return undefined;
  const table = (JSON.parse(listed) as { partitiontable?: { sectorsize?: number; partitions?: { start: number; size: number; type: string }[] } }).partitiontable;
  if (!table) return undefined;
  const sector = table.sectorsize ?? 512;
  return (table.partitions ?? []).map((p) => ({ offset: p.start * sector, size: p.size * sector, type: String(p.type) }));
}

/** Names debugfs' request parser would split or misread are treated as absent rather than quoted. */
const UNSAFE_PATH = /["\\\s\p{Cc}]/u;

/** A read-only view of one ext filesystem inside a disk image. */
export interface ExtFilesystem {
  /** The partition's byte offset in the disk. */
  offset: number;
  lstat: Lstat;
  /**
   * Looks up `files` and every directory above them in one debugfs run, so that resolving them later costs no
   * further runs unless a symlink leads elsewhere: each run reopens the filesystem.
   */
  prefetch(files: readonly string[]): Promise<void>;
  /** Resolves `file` (symlinks followed) to a regular file; undefined when it is none. */
  resolve(file: string): Promise<{ path: string; size: number } | undefined>;
  /** The text of `file` (symlinks followed); undefined when it is not a regular file or is over `maxBytes`. */
  readText(file: string, maxBytes: number): Promise<string | undefined>;
  /** Copies `file` (symlinks followed) to `hostFile`; false when it is not a regular file or is over `maxBytes`. */
  copyOut(file: string, hostFile: string, maxBytes: number): Promise<boolean>;
}

function parseStat(text: string): ExtEntry | undefined {
  const type = /\bType:\s*(\w+)/.exec(text)?.[1];
  if (!type) return undefined;
  const size = Number(/^User:.*?\bSize:\s*(\d+)/m.exec(text)?.[1] ?? 0);
  const kind = type === 'regular' ? 'file' : type === 'directory' ? 'dir' : type === 'symlink' ? 'symlink' : 'other';
  const fast = /^Fast link dest: "(.*)"$/m.exec(text)?.[1];
  return { type: kind, size, ...(fast !== undefined ? { target: fast } : {}) };
}

/**
 * Opens the ext filesystem at `offset` of `disk` read-only (debugfs' catastrophic mode: no bitmaps read, nothing
 * written); undefined when there is none there. Unavailable when debugfs is not installed.
 */
export async function openExtFilesystem(disk: string, offset: number, signal?: AbortSignal): Promise<ExtFilesystem | undefined> {
  const device = `${disk}?offset=${offset}`;
  const debugfs = (request: string) => runTool('debugfs', ['-c', '-R', request, device], signal ? { signal } : {});
  const cache = new Map<string, Promise<ExtEntry | undefined>>();
  const lstat: Lstat = (file) => {
    if (UNSAFE_PATH.test(file)) return Promise.resolve(undefined);
    let entry = cache.get(file);
    if (!entry) {
      entry = debugfs(`stat "${file}"`).then(async (out) => {
        const found = parseStat(out);
        // A link too long to live in the inode keeps its target in a data block, which cat reads.
        if (found?.type === 'symlink' && found.target === undefined && found.size <= 4096) return { ...found, target: (await debugfs(`cat "${file}"`)).slice(0, found.size) };
        return found;
      });
      cache.set(file, entry);
    }
    return entry;
  };
  const prefetch = async (files: readonly string[]) => {
    const wanted = new Set<string>();
    for (const file of files) {
      const names = file.split('/').filter((n) => n !== '');
      for (let i = 1; i <= names.length; i++) wanted.add(`/${names.slice(0, i).join('/')}`);
    }
    const todo = [...wanted].filter((p) => !cache.has(p) && !UNSAFE_PATH.test(p));
    if (todo.length === 0) return;
    const out = await runTool('debugfs', ['-c', '-f', '-', device], { input: todo.map((p) => `stat "${p}"\n`).join(''), ...(signal ? { signal } : {}) });
    // debugfs echoes each request as `debugfs: REQUEST` before its output; no line of stat's output starts so.
    const parts = out.split(/^debugfs: stat "(.*)"$/m);
    for (let i = 1; i + 1 < parts.length; i += 2) {
      const found = parseStat(parts[i + 1]!);
      // A long link's target needs its own run (lstat's); everything else is known now, absent ones included.
      if (found?.type === 'symlink' && found.target === undefined) continue;
      cache.set(parts[i]!, Promise.resolve(found));
    }
  };
  // debugfs fails to open what is not an ext filesystem; a missing debugfs or a cancel still throws.
  const root = await lstat('/').catch((err: unknown) => {
    if (isKilnError(err, 'Internal')) return undefined;
    throw err;
  });
  if (root?.type !== 'dir') return undefined;
  const resolve = async (file: string) => {
    const found = await resolveInImage(file, lstat);
    return found?.entry.type === 'file' ? { path: found.path, size: found.entry.size } : undefined;
  };
  return {
    offset,
    lstat,
    prefetch,
    resolve,
    async readText(file, maxBytes) {
      const found = await resolve(file);
      if (!found || found.size > maxBytes) return undefined;
      return debugfs(`cat "${found.path}"`);
    },
    async copyOut(file, hostFile, maxBytes) {
      const found = await resolve(file);
      if (!found || found.size > maxBytes || UNSAFE_PATH.test(hostFile)) return false;
      await fsp.rm(hostFile, { force: true });
      await debugfs(`dump "${found.path}" "${hostFile}"`);
      return (await fsp.stat(hostFile).catch(() => undefined))?.isFile() === true;
    },
  };
}

/**
 * The root filesystem of a disk image: the first ext filesystem among its likely partitions (rootCandidates)
 * that holds an os-release file. Undefined when none does (another filesystem, LVM, encryption, or no OS).
 */
export async function findRootFilesystem(disk: string, signal?: AbortSignal): Promise<ExtFilesystem | undefined> {
  const size = (await fsp.stat(disk)).size;
  for (const part of rootCandidates(await diskPartitions(disk, signal), size)) {
    const fs = await openExtFilesystem(disk, part.offset, signal);
    if (!fs) continue;
    await fs.prefetch(OS_RELEASE_FILES);
    for (const file of OS_RELEASE_FILES) if (await fs.resolve(file)) return fs;
  }
  return undefined;
}
