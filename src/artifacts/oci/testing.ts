/**
 * Test helpers for layer and image tests: temp dirs that clean themselves up, tool detection, and a tar
 * reader (tar-stream, an implementation independent of our writer).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { FsBlobStore } from '../blob-store.js';
import { readTreeXattrs } from './xattrs.js';

/** A path too long for a ustar header, to force a PAX `path` record. */
export const LONG = `${'deep/'.repeat(25)}file-with-a-long-name.txt`;

/**
 * An overlay upper dir made by hand, as overlayfs would leave it: a whiteout (0/0 char device), an opaque
 * directory, and every file type with odd owners, modes, xattrs and future mtimes.
 */
export async function makeUpper(dir: string): Promise<void> {
  const script = `
    set -e
    cd "$1"
    mkdir -p etc/apt/apt.conf.d usr/bin run dev "$(dirname '${LONG}')"
    printf 'new\\n' > etc/new.conf; chown 1000:1001 etc/new.conf; chmod 0640 etc/new.conf
    setfattr -n user.note -v hello etc/new.conf
    setfattr -n user.bin -v 0x00ff80 etc/new.conf
    setfattr -n trusted.kiln -v hidden etc/new.conf
    printf '#!/bin/sh\\necho tool\\n' > usr/bin/tool; chmod 4755 usr/bin/tool
    ln usr/bin/tool usr/bin/tool-link
    ln -s tool usr/bin/sym
    mknod usr/bin/rgrep c 0 0
    mknod dev/null2 c 1 3; chmod 0666 dev/null2
    mknod dev/blk b 7 200
    mkfifo run/fifo
    printf 'opaque\\n' > etc/apt/apt.conf.d/99new
    setfattr -n trusted.overlay.opaque -v y etc/apt/apt.conf.d
    printf 'long\\n' > '${LONG}'
    printf 'accent\\n' > 'etc/café.txt'
    touch -d '2040-01-01' etc/new.conf usr/bin/tool etc
    touch -h -d '2000-01-02' usr/bin/sym
  `;
  run('sh', ['-c', script, 'sh', dir]);
}

/** A temp dir removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'kiln-oci-'): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function tempBlobStore(t: TestContext): Promise<FsBlobStore> {
  return new FsBlobStore(await tempDir(t, 'kiln-blobs-'));
}

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** Why layer tests cannot run here, or undefined when they can. */
export function layerSkipReason(tools: string[] = []): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (mknod, chown, trusted.* xattrs)';
  const missing = ['getfattr', 'setfattr', ...tools].filter((t) => !hasTool(t));
  if (missing.length > 0) return `needs ${missing.join(', ')} (Debian packages: attr, umoci, skopeo, zstd)`;
  return undefined;
}

/** Runs a program and returns stdout; throws with stderr on failure. */
export function run(file: string, args: string[], options: { cwd?: string } = {}): string {
  return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

export interface ReadEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string | null;
  devmajor: number;
  devminor: number;
  pax: Record<string, string>;
  body: Buffer;
}

/** Reads an uncompressed or gzip tar with tar-stream. */
export async function readTar(data: Buffer): Promise<ReadEntry[]> {
  const gz = data[0] === 0x1f && data[1] === 0x8b;
  const source = gz ? Readable.from([data]).pipe(createGunzip()) : Readable.from([data]);
  const extract = tar.extract();
  source.pipe(extract);
  const out: ReadEntry[] = [];
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    const h = entry.header;
    out.push({
      name: h.name,
      type: h.type ?? '',
      mode: h.mode ?? 0,
      uid: h.uid ?? 0,
      gid: h.gid ?? 0,
      size: h.size ?? 0,
      mtime: Math.floor((h.mtime?.getTime() ?? 0) / 1000),
      linkname: h.linkname ?? null,
      devmajor: h.devmajor ?? 0,
      devminor: h.devminor ?? 0,
      pax: (h.pax ?? {}) as Record<string, string>,
      body: Buffer.concat(chunks),
    });
  }
  return out;
}

/**
 * Everything an unpacked tree is made of, one sorted line per path: type, mode, owner, size, link target,
 * device numbers, link count, mtime, the sha256 of a file's bytes and every xattr (hex). Two trees with equal
 * facts stack the same in an overlay.
 */
export async function treeFacts(root: string): Promise<string[]> {
  const lines = run('find', [root, '-mindepth', '1', '-printf', '%P|%y|%m|%U:%G|%s|%l|%n|%T@\\n']).split('\n').filter(Boolean);
  root = await fsp.realpath(root);
  const xattrs = await readTreeXattrs(root);
  const facts: string[] = [];
  for (const line of lines) {
    const fields = line.split('|');
    const [rel, type] = fields as [string, string];
    const file = path.join(root, rel);
    const rdev = type === 'c' || type === 'b' ? run('stat', ['-c', '%t:%T', file]).trim() : '';
    // Sizes of directories and devices depend on the filesystem, not on the layer.
    if (/^[dcb]$/.test(type)) fields[4] = '-';
    const content = type === 'f' ? createHash('sha256').update(await fsp.readFile(file)).digest('hex') : '';
    const attrs = [...(xattrs.get(file) ?? new Map<string, Buffer>())].map(([k, v]) => `${k}=${v.toString('hex')}`).sort();
    facts.push([...fields, rdev, content, attrs.join(',')].join('|'));
  }
  return facts.sort();
}
