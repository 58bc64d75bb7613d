import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  statSync,
  symlinkSync,
  unlinkSync,
  type Stats,
} from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { FileStat, InstanceFs } from '../../toe/instance/instance.js';

/*
 * Why file operations resolve paths here, on the host, instead of running `cat`/`mkdir`/… inside the instance:
 * a step writes a script, runs it and removes it, so a fork per file operation would double the cost of a step,
 * and in-instance tools differ between rootfs flavours (GNU, busybox, none at all). Resolving paths against the
 * instance's root is only safe if no symlink can lead out of it, also when a process inside swaps a directory
 * for a symlink while we walk (the kernel would follow an absolute symlink against *our* root, the host's).
 * So every lookup is pinned to an open directory descriptor, one component at a time, through
 * /proc/self/fd/N/name (Node has no openat); symlinks are never followed by the kernel but read and resolved
 * here against the instance root, `..` never climbs above it, and final components are opened with O_NOFOLLOW.
 * A concurrent swap therefore makes an operation fail (ELOOP/ENOTDIR), never escape.
 */

// Not exported by node:fs; the value is the same on every Linux architecture Node runs on but alpha/parisc/sparc.
const O_PATH = 0o10000000;
const { O_DIRECTORY, O_NOFOLLOW, O_RDONLY, O_WRONLY, O_CREAT, O_TRUNC, O_APPEND, O_EXCL } = constants;
/** As Linux's MAXSYMLINKS. */
const MAX_SYMLINKS = 40;

function fdPath(fd: number, name?: string): string {
  return name ? `/proc/self/fd/${fd}/${name}` : `/proc/self/fd/${fd}`;
}

function errnoError(code: string, op: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${op} '${path}'`), { code, syscall: op, path });
}

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Rewrites a Node error so that it names the path as the instance sees it, not our /proc/self/fd alias. */
function withInstancePath(err: unknown, op: string, path: string): Error {
  const code = codeOf(err);
  if (code === undefined) return err as Error;
  const text = (err as Error).message.replace(/\/proc\/self\/fd\/\d+(\/[^',]*)?/g, path);
  return Object.assign(new Error(text.includes(path) ? text : `${code}: ${op} '${path}'`), { code, syscall: op, path });
}

/** A looked-up path: `name` inside the directory `dir`, or the directory itself when `name` is empty. */
interface Resolved {
  dir: number;
  name: string;
  /** The resolved path as the instance sees it. */
  path: string;
  /** Every descriptor the lookup opened, `dir` included; release() closes them. */
  fds: number[];
}

function release(r: Resolved): void {
  for (const fd of r.fds) closeSync(fd);
}

/** The target of a lookup as a path our process can use; a bare /proc/self/fd/N is a magic link to the inode. */
function target(r: Resolved): string {
  return fdPath(r.dir, r.name || undefined);
}

/** O_NOFOLLOW for a named final component; a bare magic link must be followed to reach its inode. */
function nofollow(r: Resolved): number {
  return r.name ? O_NOFOLLOW : 0;
}

function toStat(s: Stats): FileStat {
  const type = s.isSymbolicLink() ? 'symlink' : s.isDirectory() ? 'directory' : s.isFile() ? 'file' : 'other';
  return { type, size: s.size, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid };
}

function split(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

/**
 * node:fs-like operations on the file tree under a root directory descriptor (an instance's `/`), confined to
 * it. `openRoot` returns a fresh descriptor of the root each call.
 */
export class RootedFs implements InstanceFs {
  constructor(private readonly openRoot: () => number) {}

  /**
   * Walks `path` from the root. Intermediate symlinks are resolved inside the root; the final one too when
   * `followFinal`. The final component need not exist.
   */
  private resolve(path: string, followFinal: boolean, op: string): Resolved {
    if (!path.startsWith('/')) throw errnoError('EINVAL', op, path);
    const fds = [this.openRoot()];
    const names: string[] = [];
    const todo = split(path);
    let hops = 0;
    const done = (name: string): Resolved => ({ dir: fds[fds.length - 1]!, name, path: `/${[...names, ...(name ? [name] : [])].join('/')}`, fds });
    try {
      while (todo.length > 0) {
        const c = todo.shift()!;
        const top = fds[fds.length - 1]!;
        if (c === '..') {
          if (fds.length > 1) {
            closeSync(fds.pop()!);
            names.pop();
          }
          continue;
        }
        const last = todo.length === 0;
        if (last && !followFinal) return done(c);
        let st: Stats;
        try {
          st = lstatSync(fdPath(top, c));
        } catch (err) {
          if (last && codeOf(err) === 'ENOENT') return done(c);
          throw err;
        }
        if (st.isSymbolicLink()) {
          if (++hops > MAX_SYMLINKS) throw errnoError('ELOOP', op, path);
          const link = readlinkSync(fdPath(top, c));
          if (link.startsWith('/')) {
            while (fds.length > 1) closeSync(fds.pop()!);
            names.length = 0;
          }
          todo.unshift(...split(link));
          continue;
        }
        if (last) return done(c);
        if (!st.isDirectory()) throw errnoError('ENOTDIR', op, path);
        // O_NOFOLLOW: if a symlink replaced the directory since lstat, this fails instead of following it.
        fds.push(openSync(fdPath(top, c), O_PATH | O_DIRECTORY | O_NOFOLLOW));
        names.push(c);
      }
      return done('');
    } catch (err) {
      for (const fd of fds) closeSync(fd);
      throw err;
    }
  }

  /** Runs `fn` on a lookup, closing its descriptors and naming the instance path in errors. */
  private with<T>(op: string, path: string, followFinal: boolean, fn: (r: Resolved) => T): T {
    let r: Resolved;
    try {
      r = this.resolve(path, followFinal, op);
    } catch (err) {
      throw withInstancePath(err, op, path);
    }
    try {
      return fn(r);
    } catch (err) {
      throw withInstancePath(err, op, path);
    } finally {
      release(r);
    }
  }

  private async withAsync<T>(op: string, path: string, followFinal: boolean, fn: (r: Resolved) => Promise<T>): Promise<T> {
    let r: Resolved;
    try {
      r = this.resolve(path, followFinal, op);
    } catch (err) {
      throw withInstancePath(err, op, path);
    }
    try {
      return await fn(r);
    } catch (err) {
      throw withInstancePath(err, op, path);
    } finally {
      release(r);
    }
  }

  private statOrNull(path: string, follow: boolean): FileStat | null {
    try {
      return this.with(follow ? 'stat' : 'lstat', path, follow, (r) => toStat(r.name ? lstatSync(target(r)) : statSync(target(r))));
    } catch (err) {
      if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR') return null;
      throw err;
    }
  }

  lstat(path: string): Promise<FileStat | null> {
    return Promise.resolve().then(() => this.statOrNull(path, false));
  }

  stat(path: string): Promise<FileStat | null> {
    return Promise.resolve().then(() => this.statOrNull(path, true));
  }

  readFile(path: string): Promise<Buffer> {
    return this.withAsync('open', path, true, async (r) => {
      const h = await fsp.open(target(r), O_RDONLY | nofollow(r));
      try {
        return await h.readFile();
      } finally {
        await h.close();
      }
    });
  }

  private async write(op: string, path: string, data: Buffer | string, flags: number, mode?: number): Promise<void> {
    await this.withAsync(op, path, true, async (r) => {
      const h = await fsp.open(target(r), O_WRONLY | O_CREAT | flags | nofollow(r), mode ?? 0o666);
      try {
        await h.writeFile(data);
        // The open mode applies only to a new file, filtered by the umask; an explicit mode is meant as given.
        if (mode !== undefined) await h.chmod(mode);
      } finally {
        await h.close();
      }
    });
  }

  writeFile(path: string, data: Buffer | string, options?: { mode?: number }): Promise<void> {
    return this.write('open', path, data, O_TRUNC, options?.mode);
  }

  appendFile(path: string, data: Buffer | string): Promise<void> {
    return this.write('open', path, data, O_APPEND);
  }

  mkdir(path: string, options?: { recursive?: boolean; mode?: number }): Promise<void> {
    return Promise.resolve().then(() => {
      if (options?.recursive) {
        const parts = split(path);
        for (let i = 1; i <= parts.length; i++) this.mkdirOne(`/${parts.slice(0, i).join('/')}`, true);
      } else {
        this.mkdirOne(path, false);
      }
      if (options?.mode !== undefined) this.chmodNow(path, options.mode);
    });
  }

  /** Creates one directory; with `existingOk` an existing directory (or symlink to one) is fine. */
  private mkdirOne(path: string, existingOk: boolean): void {
    this.with('mkdir', path, existingOk, (r) => {
      if (!r.name) {
        if (existingOk) return;
        throw errnoError('EEXIST', 'mkdir', path);
      }
      try {
        mkdirSync(target(r), 0o777);
      } catch (err) {
        if (existingOk && codeOf(err) === 'EEXIST' && lstatSync(target(r)).isDirectory()) return;
        throw err;
      }
    });
  }

  readdir(path: string): Promise<string[]> {
    return Promise.resolve().then(() =>
      this.with('scandir', path, true, (r) => {
        const fd = openSync(target(r), O_RDONLY | O_DIRECTORY | nofollow(r));
        try {
          return readdirSync(fdPath(fd));
        } finally {
          closeSync(fd);
        }
      }),
    );
  }

  rm(path: string, options?: { recursive?: boolean; force?: boolean }): Promise<void> {
    return Promise.resolve().then(() => {
      try {
        this.with('rm', path, false, (r) => {
          if (!r.name) throw errnoError('EPERM', 'rm', path);
          const st = lstatSync(target(r));
          if (!st.isDirectory()) unlinkSync(target(r));
          else if (options?.recursive) removeTree(r.dir, r.name);
          else throw errnoError('EISDIR', 'rm', path);
        });
      } catch (err) {
        if (options?.force && (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR')) return;
        throw err;
      }
    });
  }

  rename(from: string, to: string): Promise<void> {
    return Promise.resolve().then(() =>
      this.with('rename', from, false, (a) =>
        this.with('rename', to, false, (b) => {
          if (!a.name || !b.name) throw errnoError('EBUSY', 'rename', a.name ? to : from);
          renameSync(target(a), target(b));
        }),
      ),
    );
  }

  copy(from: string, to: string, options?: { overwrite?: boolean }): Promise<void> {
    const overwrite = options?.overwrite ?? true;
    return Promise.resolve().then(() =>
      this.with('cp', from, false, (a) =>
        this.with('cp', to, true, (b) => {
          if (!a.name || !b.name) throw errnoError('EINVAL', 'cp', a.name ? to : from);
          copyEntry(a.dir, a.name, b.dir, b.name, overwrite);
        }),
      ),
    );
  }

  symlink(linkTarget: string, path: string): Promise<void> {
    return Promise.resolve().then(() =>
      this.with('symlink', path, false, (r) => {
        if (!r.name) throw errnoError('EEXIST', 'symlink', path);
        symlinkSync(linkTarget, target(r));
      }),
    );
  }

  chmod(path: string, mode: number): Promise<void> {
    return Promise.resolve().then(() => this.chmodNow(path, mode));
  }

  private chmodNow(path: string, mode: number): void {
    this.with('chmod', path, true, (r) => {
      // chmod through the magic link of an O_PATH descriptor changes exactly the inode we looked up.
      const fd = openSync(target(r), O_PATH | nofollow(r));
      try {
        chmodSync(fdPath(fd), mode);
      } finally {
        closeSync(fd);
      }
    });
  }

  realpath(path: string): Promise<string> {
    return Promise.resolve().then(() =>
      this.with('realpath', path, true, (r) => {
        if (r.name) lstatSync(target(r));
        return r.path;
      }),
    );
  }
}

/** Removes `name` in `dir` and everything below it, each level pinned by a descriptor. */
function removeTree(dir: number, name: string): void {
  const fd = openSync(fdPath(dir, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    for (const e of readdirSync(fdPath(fd), { withFileTypes: true })) {
      if (e.isDirectory()) removeTree(fd, e.name);
      else unlinkSync(fdPath(fd, e.name));
    }
  } finally {
    closeSync(fd);
  }
  rmdirSync(fdPath(dir, name));
}

/** cp -a of one entry: modes, owners and timestamps kept, symlinks copied as symlinks. */
function copyEntry(srcDir: number, srcName: string, dstDir: number, dstName: string, overwrite: boolean): void {
  const src = fdPath(srcDir, srcName);
  const dst = fdPath(dstDir, dstName);
  const st = lstatSync(src);
  let existing: Stats | undefined;
  try {
    existing = lstatSync(dst);
  } catch (err) {
    if (codeOf(err) !== 'ENOENT') throw err;
  }
  if (st.isSymbolicLink()) {
    if (existing) {
      if (!overwrite || existing.isDirectory()) throw errnoError('EEXIST', 'cp', dstName);
      unlinkSync(dst);
    }
    symlinkSync(readlinkSync(src), dst);
    lchownSync(dst, st.uid, st.gid);
    return;
  }
  if (st.isDirectory()) {
    if (existing && !existing.isDirectory()) throw errnoError('EEXIST', 'cp', dstName);
    if (!existing) mkdirSync(dst, 0o700);
    const from = openSync(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    const to = openSync(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    try {
      for (const e of readdirSync(fdPath(from))) copyEntry(from, e, to, e, overwrite);
      fchownSync(to, st.uid, st.gid);
      fchmodSync(to, st.mode & 0o7777);
      futimesSync(to, st.atime, st.mtime);
    } finally {
      closeSync(from);
      closeSync(to);
    }
    return;
  }
  if (!st.isFile()) throw errnoError('EINVAL', 'cp', srcName);
  if (existing && (!overwrite || existing.isDirectory())) throw errnoError('EEXIST', 'cp', dstName);
  const from = openSync(src, O_RDONLY | O_NOFOLLOW);
  const to = openSync(dst, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | (existing ? 0 : O_EXCL), 0o600);
  try {
    // Both ends are pinned descriptors; their magic links reopen exactly those inodes.
    copyFileSync(fdPath(from), fdPath(to));
    fchownSync(to, st.uid, st.gid);
    fchmodSync(to, st.mode & 0o7777);
    futimesSync(to, st.atime, st.mtime);
  } finally {
    closeSync(from);
    closeSync(to);
  }
}
