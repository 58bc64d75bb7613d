/**
 * Reading the merged view of overlay lower layers from the host, without mounting them: what prepare() needs to
 * check an image before launch (is there a /bin/bash?) and what the init layer copies its directory attributes
 * from. Follows overlayfs's lookup rules: the topmost entry of a name wins, a 0/0 character device hides the
 * name in the layers below, a non-directory hides everything below it, and directories merge down to the first
 * one marked opaque (`trusted.overlay.opaque=y`).
 */
import { execFile } from 'node:child_process';
import type { Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';

/** As Linux's MAXSYMLINKS. */
const MAX_SYMLINKS = 40;

/** A name found in the merged view: the topmost entry's host path and lstat. */
export interface LayeredEntry {
  hostPath: string;
  stats: Stats;
  /** Index of the layer the entry comes from (0 is the top). */
  layer: number;
}

/** A directory of the merged view: the real directories that make it up, top first. */
interface MergedDir {
  dirs: { path: string; layer: number }[];
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await fsp.lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** Node has no xattr API; getfattr (Debian package attr) exits non-zero when the attribute is absent. */
function isOpaque(dir: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('getfattr', ['--only-values', '-h', '-n', 'trusted.overlay.opaque', '--', dir], { encoding: 'latin1' }, (err, stdout) => {
      resolve(!err && stdout === 'y');
    });
  });
}

/** The topmost entry of `name` inside a merged directory, and the merged directory when it is one. */
async function lookup(parent: MergedDir, name: string): Promise<{ entry: LayeredEntry; dir?: MergedDir } | undefined> {
  let top: LayeredEntry | undefined;
  const dirs: MergedDir['dirs'] = [];
  for (let i = 0; i < parent.dirs.length; i++) {
    const { path, layer } = parent.dirs[i]!;
    const hostPath = join(path, name);
    const st = await lstatOrUndefined(hostPath);
    if (!st) continue;
    if (isWhiteout(st)) break;
    if (!st.isDirectory()) {
      top ??= { hostPath, stats: st, layer };
      break;
    }
    top ??= { hostPath, stats: st, layer };
    dirs.push({ path: hostPath, layer });
    if (i < parent.dirs.length - 1 && (await isOpaque(hostPath))) break;
  }
  if (!top) return undefined;
  return top.stats.isDirectory() ? { entry: top, dir: { dirs } } : { entry: top };
}

/**
 * Resolves an absolute path in the merged view of `layers` (top first). Symlinks are resolved inside the view,
 * never on the host; the last component is followed only when `follow` is true. Undefined when the path does
 * not exist (or loops).
 */
export async function resolveInLayers(layers: readonly string[], path: string, options: { follow?: boolean } = {}): Promise<LayeredEntry | undefined> {
  const root: MergedDir = { dirs: layers.map((p, layer) => ({ path: p, layer })) };
  const stack: MergedDir[] = [root];
  const queue = path.split('/').filter((c) => c !== '' && c !== '.');
  let links = 0;
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (name === '..') {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const found = await lookup(stack[stack.length - 1]!, name);
    if (!found) return undefined;
    const last = queue.length === 0;
    if (found.entry.stats.isSymbolicLink() && (!last || options.follow)) {
      if (++links > MAX_SYMLINKS) return undefined;
      const target = await fsp.readlink(found.entry.hostPath);
      if (target.startsWith('/')) stack.splice(1);
      queue.unshift(...target.split('/').filter((c) => c !== '' && c !== '.'));
      continue;
    }
    if (last) return found.entry;
    if (!found.dir) return undefined;
    stack.push(found.dir);
  }
  // The path ended at a directory reached through `..` or a link (or was `/`): its topmost real directory.
  const dir = stack[stack.length - 1]!.dirs[0];
  if (!dir) return undefined;
  return { hostPath: dir.path, stats: await fsp.lstat(dir.path), layer: dir.layer };
}
