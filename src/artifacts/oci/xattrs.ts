/**
 * Extended attributes of a whole tree, read in one `getfattr` run (Debian package `attr`): Node has no xattr
 * API, and one process per file would dominate the time of a layer with thousands of entries.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { KilnError } from '../../domain/errors.js';

/** xattrs by absolute path; files without any are absent. */
export type XattrMap = Map<string, Map<string, Buffer>>;

/**
 * Every xattr (all namespaces) of `root` and everything under it, symlinks not followed. `root` must be an
 * absolute, canonical path: getfattr reports paths as it walked them.
 */
export async function readTreeXattrs(root: string, signal?: AbortSignal): Promise<XattrMap> {
  const args = ['-R', '-P', '-h', '-d', '-m', '-', '--absolute-names', '-e', 'hex', root];
  const { code, stdout, stderr, error } = await run('getfattr', args, signal);
  signal?.throwIfAborted();
  if (error?.code === 'ENOENT') {
    throw new KilnError('Unavailable', 'getfattr is not installed (Debian package "attr"); it is needed to read overlay and file xattrs');
  }
  if (error) throw new KilnError('Internal', `getfattr: ${error.message}`, [], { cause: error });
  if (code !== 0) throw new KilnError('Internal', `getfattr exited with ${code}: ${stderr.trim()}`);
  return parseGetfattr(stdout);
}

/** Parses `getfattr -d -e hex --absolute-names` output (decoded as latin1, so bytes map 1:1 to chars). */
export function parseGetfattr(output: string): XattrMap {
  const result: XattrMap = new Map();
  let current: Map<string, Buffer> | undefined;
  for (const line of output.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = new Map();
      result.set(path.normalize(unescapeName(line.slice('# file: '.length))), current);
      continue;
    }
    if (line === '' || !current) continue;
    const eq = line.indexOf('=');
    // An attribute with an empty value is printed without `=`.
    const name = unescapeName(eq === -1 ? line : line.slice(0, eq));
    const raw = eq === -1 ? '' : line.slice(eq + 1);
    current.set(name, decodeValue(raw));
  }
  for (const [file, attrs] of result) if (attrs.size === 0) result.delete(file);
  return result;
}

/** getfattr writes `\\` for a backslash and `\ooo` for bytes it will not print (newlines, controls). */
function unescapeName(escaped: string): string {
  const latin1 = escaped.replace(/\\(\\|[0-7]{3})/g, (_, e: string) => (e === '\\' ? '\\' : String.fromCharCode(parseInt(e, 8))));
  return Buffer.from(latin1, 'latin1').toString('utf8');
}

function decodeValue(raw: string): Buffer {
  if (raw.startsWith('0x')) return Buffer.from(raw.slice(2), 'hex');
  if (raw.startsWith('0s')) return Buffer.from(raw.slice(2), 'base64');
  if (raw.startsWith('"') && raw.endsWith('"')) return Buffer.from(unescapeName(raw.slice(1, -1)), 'utf8');
  return Buffer.from(raw, 'latin1');
}

function run(file: string, args: string[], signal?: AbortSignal): Promise<{ code: number | null; stdout: string; stderr: string; error?: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, signal });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let spawnError: NodeJS.ErrnoException | undefined;
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => (spawnError = e));
    child.on('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString('utf8'), ...(spawnError ? { error: spawnError } : {}) }),
    );
  });
}
