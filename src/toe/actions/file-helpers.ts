/** Shared pieces of the AWSTOE file-system modules: paths, wildcards, field specs, errors and chown. */
import { posix } from 'node:path';
import type { Issue } from '../../domain/errors.js';
import { ENCODING_NAMES } from './encoding.js';
import { checkMode, hasTemplate, isRecord, parseMode } from './fields.js';
import { ActionFailure, type ActionContext, type ActionModule, type FieldSpec } from './types.js';
import type { FileStat, InstanceFs } from '../instance/instance.js';

export type Item = Record<string, unknown>;

/** The coerced inputs of a `list` module. */
export function itemsOf(inputs: unknown): Item[] {
  if (Array.isArray(inputs)) return inputs.filter(isRecord);
  return isRecord(inputs) ? [inputs] : [];
}

export function str(item: Item, key: string): string {
  const v = item[key];
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}

export function optStr(item: Item, key: string): string | undefined {
  const v = item[key];
  return v === undefined || v === null || v === '' ? undefined : String(v);
}

export function bool(item: Item, key: string): boolean {
  return item[key] === true;
}

// ---- field specs -------------------------------------------------------------------------------------------

export const encodingField: FieldSpec = { type: 'string', default: 'utf8', enum: ENCODING_NAMES };

export const permissionsField = (required = false): FieldSpec => ({ type: 'string', required, check: checkMode });

/** A user or group name or id handed to chown: a ':' would change what is set, a leading '-' reads as an option. */
const checkPrincipal = (value: unknown): string | undefined => {
  const s = String(value);
  if (s.trim() === '') return 'must not be empty';
  if (/[:\s]/.test(s) || s.startsWith('-')) return `must be a user or group name or id, got ${JSON.stringify(s)}`;
  return undefined;
};

export const ownerField = (required = false): FieldSpec => ({ type: 'string', required, check: checkPrincipal });

export const groupField: FieldSpec = { type: 'string', check: checkPrincipal };

// ---- paths -------------------------------------------------------------------------------------------------

/**
 * An absolute, normalised path inside the instance. AWSTOE resolves relative paths against its working
 * directory; Kiln uses the step's work directory on the instance, the closest equivalent it controls.
 */
export function resolvePath(context: ActionContext, path: string): string {
  return posix.resolve(context.workDir, path);
}

/** AWSTOE reads a destination ending with a separator as a folder. */
export function endsWithSeparator(path: string): boolean {
  return path.endsWith('/');
}

export function hasWildcard(name: string): boolean {
  return name.includes('*');
}

/** `*` matches any run of characters, dot files included (the docs say "all of the files"); the rest is literal. */
export function wildcardRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[\\^$.|?+()[\]{}]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 's');
}

/** Splits a path whose last segment holds a wildcard; fails when a folder segment holds one. */
export function splitWildcard(module: string, path: string): { dir: string; pattern: string } | undefined {
  const dir = posix.dirname(path);
  const pattern = posix.basename(path);
  if (hasWildcard(dir)) throw failure(module, path, 'a wildcard (*) is allowed only after the last path separator');
  return hasWildcard(pattern) ? { dir, pattern } : undefined;
}

/** Entries of `dir` whose names match `pattern` and whose type (symlinks followed) is `kind`, sorted. */
export async function matchEntries(
  module: string,
  fs: InstanceFs,
  dir: string,
  pattern: string,
  kind: 'file' | 'directory',
): Promise<string[]> {
  const st = await fs.stat(dir);
  if (!st) throw failure(module, posix.join(dir, pattern), `folder ${dir} does not exist`);
  if (st.type !== 'directory') throw failure(module, posix.join(dir, pattern), `${dir} is not a folder`);
  const re = wildcardRegExp(pattern);
  const out: string[] = [];
  for (const name of (await fs.readdir(dir)).sort()) {
    if (!re.test(name)) continue;
    const full = posix.join(dir, name);
    if ((await fs.stat(full))?.type === kind) out.push(full);
  }
  return out;
}

/**
 * Validation hook: a wildcard only in the last segment of the named fields. Both separators count, as in the
 * docs, so Windows paths are checked too.
 */
export function wildcardOnlyInName(...keys: string[]) {
  return (inputs: unknown, path: string): Issue[] => {
    const issues: Issue[] = [];
    const list = Array.isArray(inputs) ? inputs : [];
    list.forEach((item, i) => {
      if (!isRecord(item)) return;
      for (const key of keys) {
        const v = item[key];
        if (typeof v !== 'string' || hasTemplate(v)) continue;
        const segments = v.split(/[\\/]/);
        if (segments.slice(0, -1).some(hasWildcard)) {
          issues.push({
            path: `${path}[${i}].${key}`,
            message: 'a wildcard (*) is allowed only in the last path segment, after the last path separator',
          });
        }
      }
    });
    return issues;
  };
}

/** Walks a tree below `dir` (not included) without following symlinks; yields paths with their lstat. */
export async function* walk(fs: InstanceFs, dir: string): AsyncGenerator<{ path: string; stat: FileStat }> {
  for (const name of (await fs.readdir(dir)).sort()) {
    const full = posix.join(dir, name);
    const stat = await fs.lstat(full);
    if (!stat) continue;
    yield { path: full, stat };
    if (stat.type === 'directory') yield* walk(fs, full);
  }
}

// ---- errors ------------------------------------------------------------------------------------------------

export function failure(module: string, path: string, reason: string): ActionFailure {
  return new ActionFailure(`${module}: ${path}: ${reason}`);
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'already exists',
  ENOTDIR: 'a parent is not a folder',
  EISDIR: 'is a folder',
  ENOTEMPTY: 'folder is not empty',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  ELOOP: 'too many levels of symbolic links',
  EINVAL: 'invalid argument',
};

/** Runs a file operation, turning an errno error into an ActionFailure that names the path and the reason. */
export async function attempt<T>(module: string, path: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw asFailure(module, path, err);
  }
}

/** An ActionFailure for an error thrown by a file operation on `path`. */
export function asFailure(module: string, path: string, err: unknown): ActionFailure {
  if (err instanceof ActionFailure) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const reason = (code !== undefined && REASONS[code]) || (err instanceof Error ? err.message : String(err));
  return failure(module, path, reason);
}

export async function mkdirParent(module: string, fs: InstanceFs, path: string): Promise<void> {
  const parent = posix.dirname(path);
  await attempt(module, parent, () => fs.mkdir(parent, { recursive: true }));
}

// ---- owners and modes --------------------------------------------------------------------------------------

/**
 * Runs chown inside the instance, where user and group names are defined. `spec` is chown's OWNER[:GROUP]
 * argument: `user:` sets the user's login group, `:group` the group alone.
 */
export async function chown(
  module: string,
  context: ActionContext,
  path: string,
  spec: string,
  recursive = false,
): Promise<void> {
  const argv = ['chown', ...(recursive ? ['-R'] : []), '--', spec, path];
  context.log.debug(`${module}: ${argv.join(' ')}`);
  const res = await context.instance.exec(argv, { signal: context.signal, timeoutMs: context.timeoutMs });
  if (res.exitCode === 0) return;
  const why = res.spawnError ?? (res.stderr.trim() || (res.timedOut ? 'timed out' : `exit code ${res.exitCode}`));
  throw failure(module, path, `chown "${spec}" failed: ${why}`);
}

export function ownerSpec(owner: string | undefined, group: string | undefined): string | undefined {
  if (owner === undefined) return group === undefined ? undefined : `:${group}`;
  return group === undefined ? owner : `${owner}:${group}`;
}

export function modeOf(item: Item): number | undefined {
  const raw = optStr(item, 'permissions');
  return raw === undefined ? undefined : parseMode(raw);
}

/** Owner, group and permissions are POSIX notions; the docs say these inputs fail on Windows. */
export function refusePosixOnWindows(module: string, context: ActionContext, item: Item, path: string): void {
  if (context.instance.platform !== 'windows') return;
  const used = ['owner', 'group', 'permissions'].filter((k) => optStr(item, k) !== undefined);
  if (used.length > 0) throw failure(module, path, `${used.join(', ')} cannot be set on Windows`);
}

// ---- copy and move -----------------------------------------------------------------------------------------

/** Moves one path: a rename, or copy and delete when it crosses file systems (as mv does). */
async function movePath(module: string, fs: InstanceFs, from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw asFailure(module, from, err);
    await attempt(module, to, () => fs.copy(from, to, { overwrite: true }));
    await attempt(module, from, () => fs.rm(from, { recursive: true, force: true }));
  }
}

/** True when `inner` is `outer` or below it. */
function within(outer: string, inner: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith('/') ? outer : `${outer}/`);
}

/**
 * CopyFile and MoveFile. A wildcard in the source name selects every matching file; a destination ending
 * with "/" (or naming an existing folder, as cp and mv do) receives the files under their own names,
 * otherwise it is the new file's path. Missing destination folders are created.
 */
export async function transferFiles(mode: 'copy' | 'move', module: string, inputs: unknown, context: ActionContext) {
  const fs = context.instance.fs;
  for (const item of itemsOf(inputs)) {
    const source = resolvePath(context, str(item, 'source'));
    const destRaw = str(item, 'destination');
    const dest = resolvePath(context, destRaw);
    const overwrite = bool(item, 'overwrite');
    const wildcard = splitWildcard(module, source);
    let sources: string[];
    if (wildcard) {
      sources = await attempt(module, source, () => matchEntries(module, fs, wildcard.dir, wildcard.pattern, 'file'));
      if (sources.length === 0) throw failure(module, source, 'no files match');
    } else {
      const st = await attempt(module, source, () => fs.stat(source));
      if (!st) throw failure(module, source, 'source file does not exist');
      if (st.type === 'directory') {
        throw failure(module, source, `is a folder; use ${mode === 'copy' ? 'CopyFolder' : 'MoveFolder'}`);
      }
      sources = [source];
    }
    const destStat = await attempt(module, dest, () => fs.stat(dest));
    const intoFolder = endsWithSeparator(destRaw) || destStat?.type === 'directory';
    if (!intoFolder && sources.length > 1) {
      const why = `${sources.length} files match ${source}; end the destination with "/" to name a folder`;
      throw failure(module, dest, why);
    }
    if (intoFolder) {
      if (destStat && destStat.type !== 'directory') throw failure(module, dest, 'exists and is not a folder');
      await attempt(module, dest, () => fs.mkdir(dest, { recursive: true }));
    } else {
      await mkdirParent(module, fs, dest);
    }
    for (const src of sources) {
      const target = intoFolder ? posix.join(dest, posix.basename(src)) : dest;
      if (target === src) {
        if (mode === 'copy') throw failure(module, src, 'source and destination are the same file');
        continue;
      }
      const existing = await attempt(module, target, () => fs.lstat(target));
      if (existing?.type === 'directory') throw failure(module, target, 'a folder exists with the destination name');
      if (existing && !overwrite) throw failure(module, target, 'file exists and overwrite is false');
      if (mode === 'copy') {
        // Like cp, a symlink source copies the file it points to.
        const real = await attempt(module, src, () => fs.realpath(src));
        await attempt(module, target, () => fs.copy(real, target, { overwrite: true }));
      } else {
        await movePath(module, fs, src, target);
      }
      context.log.debug(`${module}: ${src} -> ${target}`);
    }
  }
  return { outputs: {} };
}

/**
 * CopyFolder and MoveFolder. A destination ending with "/" receives the source folder under its own name;
 * otherwise the destination is the folder the source's contents end up in. An existing destination folder is
 * merged into, files overwritten (the docs say it is "overwritten"; merging loses nothing that is not being
 * replaced), unless overwrite is false, which refuses it.
 */
export async function transferFolders(mode: 'copy' | 'move', module: string, inputs: unknown, context: ActionContext) {
  const fs = context.instance.fs;
  for (const item of itemsOf(inputs)) {
    const source = resolvePath(context, str(item, 'source'));
    const destRaw = str(item, 'destination');
    const dest = resolvePath(context, destRaw);
    const overwrite = bool(item, 'overwrite');
    const wildcard = splitWildcard(module, source);
    let sources: string[];
    if (wildcard) {
      sources = await attempt(module, source, () =>
        matchEntries(module, fs, wildcard.dir, wildcard.pattern, 'directory'),
      );
      if (sources.length === 0) throw failure(module, source, 'no folders match');
    } else {
      const st = await attempt(module, source, () => fs.stat(source));
      if (!st) throw failure(module, source, 'source folder does not exist');
      if (st.type !== 'directory') {
        throw failure(module, source, `is not a folder; use ${mode === 'copy' ? 'CopyFile' : 'MoveFile'}`);
      }
      sources = [source];
    }
    const intoFolder = endsWithSeparator(destRaw);
    if (!intoFolder && sources.length > 1) {
      const why = `${sources.length} folders match ${source}; end the destination with "/" to name a parent folder`;
      throw failure(module, dest, why);
    }
    for (const src of sources) {
      const target = intoFolder ? posix.join(dest, posix.basename(src)) : dest;
      const real = await attempt(module, src, () => fs.realpath(src));
      if (within(real, target) || within(src, target)) {
        throw failure(module, src, `cannot ${mode} a folder into itself (${target})`);
      }
      const existing = await attempt(module, target, () => fs.stat(target));
      if (existing && existing.type !== 'directory') throw failure(module, target, 'exists and is not a folder');
      if (existing && !overwrite) throw failure(module, target, 'folder exists and overwrite is false');
      await mkdirParent(module, fs, target);
      if (mode === 'copy') {
        await attempt(module, target, () => fs.copy(real, target, { overwrite: true }));
      } else if (!existing) {
        await movePath(module, fs, src, target);
      } else {
        await attempt(module, target, () => fs.copy(real, target, { overwrite: true }));
        await attempt(module, src, () => fs.rm(src, { recursive: true, force: true }));
      }
      context.log.debug(`${module}: ${src} -> ${target}`);
    }
  }
  return { outputs: {} };
}

/**
 * A CopyFile, CopyFolder, MoveFile or MoveFolder module: they take the same inputs (a list of source, destination
 * and overwrite, with a wildcard allowed in the source's last name) and differ only in what they transfer and how.
 */
export function transferModule(name: string, mode: 'copy' | 'move', what: 'files' | 'folders'): ActionModule {
  return {
    name,
    platforms: ['linux', 'windows', 'macos'],
    inputShape: 'list',
    fields: {
      source: { type: 'string', required: true },
      destination: { type: 'string', required: true },
      overwrite: { type: 'boolean', default: true },
    },
    validate: wildcardOnlyInName('source'),
    run: (inputs, context) => (what === 'files' ? transferFiles : transferFolders)(mode, name, inputs, context),
  };
}
