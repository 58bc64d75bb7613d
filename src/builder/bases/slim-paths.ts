/**
 * The paths Docker's official `debian:*-slim` images leave out: documentation (but each package's copyright),
 * man and info pages, translations, lintian overrides. The lists are debuerreotype's `.slimify-excludes` and
 * `.slimify-includes` (the tool those images are made with), read in its repository; dpkg keeps them out of every
 * later install through the `path-exclude`/`path-include` lines of `slimDpkgConfig`.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

/** dpkg globs (fnmatch: `*` also matches `/`) of what a slim image leaves out. */
export const SLIM_PATH_EXCLUDES: readonly string[] = [
  '/usr/share/doc/*',
  '/usr/share/groff/*',
  '/usr/share/info/*',
  '/usr/share/linda/*',
  '/usr/share/lintian/overrides/*',
  '/usr/share/locale/*',
  '/usr/share/man/*',
];

/** What stays although an exclude matches it: copyright files (licences ask for them), the C locale's help, locale.alias. */
export const SLIM_PATH_INCLUDES: readonly string[] = [
  '/usr/share/doc/*/copyright',
  '/usr/share/doc/kde/HTML/C/*',
  '/usr/share/gnome/help/*/C/*',
  '/usr/share/locale/all_languages',
  '/usr/share/locale/currency/*',
  '/usr/share/locale/l10n/*',
  '/usr/share/locale/languages',
  '/usr/share/locale/locale.alias',
  '/usr/share/omf/*/*-C.emf',
];

/** The filters in dpkg.cfg syntax. Includes come last because dpkg applies the last matching rule. */
export function slimDpkgConfig(): string {
  return [...SLIM_PATH_EXCLUDES.map((p) => `path-exclude=${p}`), ...SLIM_PATH_INCLUDES.map((p) => `path-include=${p}`)].join('\n') + '\n';
}

/** A dpkg (fnmatch without FNM_PATHNAME) glob as a RegExp: `*` and `?` cross `/`, `[...]` is a class. */
export function dpkgGlob(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Whether the absolute path `p` of the tree at `rootfs` leads somewhere, following symlinks inside the tree
 * (an absolute target is read against `rootfs`, never against this host).
 */
async function resolvesInRoot(rootfs: string, p: string): Promise<boolean> {
  let rest = p.split('/').filter((s) => s && s !== '.');
  let done: string[] = [];
  for (let hops = 0; rest.length > 0; ) {
    const name = rest.shift()!;
    if (name === '..') {
      done.pop();
      continue;
    }
    const at = path.join(rootfs, ...done, name);
    const st = await fsp.lstat(at).catch(() => undefined);
    if (!st) return false;
    if (st.isSymbolicLink()) {
      if (++hops > 40) return false;
      const target = await fsp.readlink(at);
      if (target.startsWith('/')) done = [];
      rest = [...target.split('/').filter((s) => s && s !== '.'), ...rest];
      continue;
    }
    if (rest.length > 0 && !st.isDirectory()) return false;
    done.push(name);
  }
  return true;
}

/** True when every component of the absolute `p` under `rootfs` is a real directory (no symlink to follow out). */
async function isRealDir(rootfs: string, p: string): Promise<boolean> {
  let at = rootfs;
  for (const name of p.split('/').filter(Boolean)) {
    at = path.join(at, name);
    const st = await fsp.lstat(at).catch(() => undefined);
    if (!st?.isDirectory()) return false;
  }
  return true;
}

/** Every entry under the absolute directory `dir` of the tree, deepest first, as absolute paths with their lstat. */
async function walk(rootfs: string, dir: string): Promise<{ p: string; isDir: boolean; isLink: boolean }[]> {
  const out: { p: string; isDir: boolean; isLink: boolean }[] = [];
  for (const entry of await fsp.readdir(path.join(rootfs, dir), { withFileTypes: true })) {
    const p = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(rootfs, p)));
    out.push({ p, isDir: entry.isDirectory(), isLink: entry.isSymbolicLink() });
  }
  return out;
}

/**
 * Removes from the root filesystem at `rootfs` what the slim excludes match and no include keeps, as
 * debuerreotype's slimify does: files first, then dangling symlinks and empty directories until none is left
 * (the directories named by the excludes themselves stay). Symlinks are never followed out of the tree.
 * Returns the paths removed, sorted.
 */
export async function removeSlimExcluded(rootfs: string): Promise<string[]> {
  const includes = SLIM_PATH_INCLUDES.map(dpkgGlob);
  const removed: string[] = [];
  const remove = async (p: string) => {
    await fsp.rm(path.join(rootfs, p), { recursive: true, force: true });
    removed.push(p);
  };
  for (const exclude of SLIM_PATH_EXCLUDES) {
    const top = path.posix.dirname(exclude);
    if (!(await isRealDir(rootfs, top))) continue;
    const excluded = dpkgGlob(exclude);
    for (const e of await walk(rootfs, top)) {
      if (!e.isDir && !e.isLink && excluded.test(e.p) && !includes.some((r) => r.test(e.p))) await remove(e.p);
    }
    // A dangling link can empty a directory, and an emptied directory can leave a link dangling.
    for (let changed = true; changed; ) {
      changed = false;
      for (const e of await walk(rootfs, top)) {
        const empty = e.isDir && (await fsp.readdir(path.join(rootfs, e.p))).length === 0;
        if (empty || (e.isLink && !(await resolvesInRoot(rootfs, e.p)))) {
          await remove(e.p);
          changed = true;
        }
      }
    }
  }
  return removed.sort();
}
