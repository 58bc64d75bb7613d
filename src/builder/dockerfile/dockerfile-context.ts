/** The build context: the files COPY and ADD may read, and how a source names some of them, as Docker matches it. */
import { posix } from 'node:path';
import { KilnError } from '../../domain/errors.js';

/** A build-context file: bytes, or bytes with a mode (default 0644). */
export type ContextEntry = Buffer | string | { data: Buffer | string; mode?: number };

/** A context file as the executor keeps it. */
export interface ContextFile {
  data: Buffer;
  mode: number;
}

/** The build context by normalised path relative to its root (no leading `/`). */
export type BuildContext = Map<string, ContextFile>;

/** A matched file: its path relative to what the source named (its base name for a single file). */
export interface MatchedFile extends ContextFile {
  path: string;
}

/** Normalises the caller's context: paths relative to the root, bytes as Buffers, the default mode filled in. */
export function normaliseContext(context: ReadonlyMap<string, ContextEntry> | Readonly<Record<string, ContextEntry>> | undefined): BuildContext {
  const out: BuildContext = new Map();
  const entries = context === undefined ? [] : context instanceof Map ? [...context.entries()] : Object.entries(context);
  for (const [raw, entry] of entries as [string, ContextEntry][]) {
    const path = posix.normalize(`/${raw}`).replace(/^\/+/, '');
    if (path === '' || path.endsWith('/')) continue;
    const isPlain = typeof entry === 'string' || Buffer.isBuffer(entry);
    const data = isPlain ? entry : entry.data;
    out.set(path, { data: Buffer.isBuffer(data) ? data : Buffer.from(data), mode: isPlain ? 0o644 : (entry.mode ?? 0o644) });
  }
  return out;
}

/** Sources of COPY: a file, a directory (its contents), or a pattern, relative to the context root. */
export function matchContext(context: BuildContext, src: string): { files: MatchedFile[]; wildcard: boolean; directory: boolean } {
  const clean = posix.normalize(`/${src}`).replace(/^\/+/, '').replace(/\/+$/, '');
  const wildcard = /[*?[]/.test(clean);
  const out: MatchedFile[] = [];
  if (!wildcard) {
    const file = context.get(clean);
    if (file) return { files: [{ path: posix.basename(clean), ...file }], wildcard, directory: false };
    const prefix = clean === '' ? '' : `${clean}/`;
    for (const [path, f] of context) if (path.startsWith(prefix)) out.push({ path: path.slice(prefix.length), ...f });
    return { files: out, wildcard, directory: out.length > 0 || clean === '' };
  }
  const pattern = globToRegExp(clean);
  const depth = clean.split('/').length;
  const seenDirs = new Set<string>();
  for (const [path, f] of context) {
    const parts = path.split('/');
    if (parts.length < depth) continue;
    const head = parts.slice(0, depth).join('/');
    if (!pattern.test(head)) continue;
    if (parts.length === depth) out.push({ path: parts[depth - 1]!, ...f });
    else {
      seenDirs.add(head);
      out.push({ path: parts.slice(depth).join('/'), ...f });
    }
  }
  return { files: out, wildcard, directory: seenDirs.size > 0 };
}

/** Go's filepath.Match for one path: `*` and `?` stay within a segment; `[…]` classes, `[^…]` negation. */
function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new KilnError('InvalidArgument', `syntax error in pattern ${pattern}`);
      re += `[${pattern.slice(i + 1, end).replace(/^\^/, '^').replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (ch === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else re += ch.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
