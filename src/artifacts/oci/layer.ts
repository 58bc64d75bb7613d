/**
 * Directory → OCI layer. An overlayfs upper directory becomes a diff layer (overlay whiteouts and opaque
 * directories turned into OCI `.wh.` markers); a plain root filesystem becomes a base layer. The tar is
 * normalised so that identical input gives identical bytes: entries sorted by path, mtimes clamped to
 * `sourceDateEpoch`, no user/group names, no atime/ctime, a fixed compressor setting.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { withLeaks } from '../../domain/cleanup-stack.js';
import { errorMessage, isKilnError, KilnError } from '../../domain/errors.js';
import { streamTail } from '../../logs/utf8-chunks.js';
import type { BlobInfo, BlobStore, Digest } from '../blob-store.js';
import type { LayerIntakes } from './layer-intake.js';
import { END_OF_ARCHIVE, encodeHeader, padding, type TarHeader } from './tar.js';
import { readTreeXattrs, type XattrMap } from './xattrs.js';

export const MEDIA_TYPE_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const MEDIA_TYPE_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MEDIA_TYPE_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';

export type Compression = 'gzip' | 'zstd' | 'none';

/** The most of a compressor's stderr an error message quotes. */
const STDERR_TAIL = 4096;

/** A layer as stored: what a manifest lists, plus the uncompressed digest the image config lists. */
export interface LayerDescriptor {
  mediaType: string;
  /** Digest of the stored (compressed) blob. */
  digest: Digest;
  size: number;
  /** Digest of the uncompressed tar (the config's `rootfs.diff_ids`). */
  diffId: Digest;
  uncompressedSize: number;
}

/** What writeLayer and writeTar return. */
export interface WrittenLayer extends LayerDescriptor {
  /** The layer's dir in `unpackInto` (what its layerDir gives for `digest`), when that option was given. */
  dir?: string;
}

export interface LayerOptions {
  /**
   * `overlay-upper`: the directory is an overlayfs upper layer (0/0 character devices are whiteouts,
   * `trusted.overlay.opaque=y` marks opaque directories). `rootfs`: the directory is a whole file tree.
   */
  source: 'overlay-upper' | 'rootfs';
  /** Seconds since the epoch; later mtimes are clamped to it (SOURCE_DATE_EPOCH semantics). */
  sourceDateEpoch: number;
  compression?: Compression;
  /** gzip level 1–9 (DEFAULT_GZIP_LEVEL) or zstd level 1–19 (default 3). Part of the digest: keep it fixed per deployment. */
  level?: number;
  /** Which xattrs to keep; by default `user.*` and `security.capability` (file capabilities). */
  keepXattr?: (name: string) => boolean;
  /** Paths (relative, `/`-separated) to leave out, with everything under them. */
  exclude?: (relPath: string) => boolean;
  signal?: AbortSignal;
  /**
   * Also unpack the new layer into this cache, from the same tar stream while it is compressed: the result's
   * `dir` is then ready to stack, and the blob is never decompressed for it.
   */
  unpackInto?: LayerIntakes;
}

/** What decides a layer's tar bytes (the rest of LayerOptions decides how they are stored). */
export type TreeOptions = Omit<LayerOptions, 'compression' | 'level' | 'unpackInto'>;

/** The default xattr policy: overlay bookkeeping (`trusted.overlay.*`) and host labels (SELinux) stay out. */
export function defaultKeepXattr(name: string): boolean {
  return name.startsWith('user.') || name === 'security.capability';
}

const OVERLAY_OPAQUE = 'trusted.overlay.opaque';
const OVERLAY_WHITEOUT = 'trusted.overlay.whiteout';
/** Overlay features that store content elsewhere: a diff taken from such an upper dir would be wrong. */
const OVERLAY_UNSUPPORTED = ['trusted.overlay.redirect', 'trusted.overlay.metacopy'];

const S_IFMT = 0o170000n;
const S_IFREG = 0o100000n;
const S_IFDIR = 0o040000n;
const S_IFLNK = 0o120000n;
const S_IFCHR = 0o020000n;
const S_IFBLK = 0o060000n;
const S_IFIFO = 0o010000n;

/** One planned tar entry: the header, and for regular files the path whose bytes follow it. */
interface PlannedEntry {
  header: TarHeader;
  contentPath?: string;
  /** Overrides the archive path as the sort key. */
  sortKey?: string;
}

/**
 * Writes the layer of `dir` into the blob store and returns its descriptor. The tar is streamed: nothing of
 * the layer is held in memory beyond one read buffer.
 */
export async function writeLayer(store: BlobStore, dir: string, options: LayerOptions): Promise<WrittenLayer> {
  return writeTar(store, await layerTar(dir, options), options);
}

/**
 * The uncompressed tar of the layer of `dir`, as writeLayer stores it: the tree is walked now, the bytes are
 * read as the stream is consumed.
 */
export async function layerTar(dir: string, options: TreeOptions): Promise<AsyncIterable<Buffer>> {
  const root = await fsp.realpath(dir);
  const entries = await planLayer(root, options);
  return tarChunks(entries, options.signal);
}

/**
 * Compresses and stores a tar byte stream in one pass: the diff_id is hashed, the compressor fed and (with
 * `unpackInto`) the layer unpacked from the same chunks as they come. A failure or abort stores nothing,
 * leaves no compressor process and no half-unpacked dir.
 */
export async function writeTar(store: BlobStore, tar: AsyncIterable<Uint8Array>, options: Pick<LayerOptions, 'compression' | 'level' | 'signal' | 'unpackInto'>): Promise<WrittenLayer> {
  const compression = options.compression ?? 'gzip';
  const signal = options.signal;
  // Checked before anything runs: a bad level is a configuration error, not a compressor crash.
  const compressor = compression === 'none' ? undefined : compressorFor(compression, options.level);
  const intake = await options.unpackInto?.openIntake(signal);
  const diffHash = createHash('sha256');
  let uncompressedSize = 0;
  async function* measured(): AsyncGenerator<Uint8Array> {
    for await (const chunk of tar) {
      diffHash.update(chunk);
      uncompressedSize += chunk.byteLength;
      // The compressor gets the chunk while the unpack may still be draining the previous one.
      const accepted = intake?.write(chunk);
      accepted?.catch(() => undefined);
      yield chunk;
      await accepted;
    }
  }
  try {
    const stored = compressor ? await putThroughProgram(store, measured(), compressor, signal) : await store.put(measured(), { signal });
    const mediaType = compression === 'none' ? MEDIA_TYPE_LAYER_TAR : compression === 'gzip' ? MEDIA_TYPE_LAYER_GZIP : MEDIA_TYPE_LAYER_ZSTD;
    const dir = intake ? await intake.commit({ digest: stored.digest, mediaType }) : undefined;
    return {
      mediaType,
      digest: stored.digest,
      size: stored.size,
      diffId: `sha256:${diffHash.digest('hex')}`,
      uncompressedSize,
      ...(dir === undefined ? {} : { dir }),
    };
  } catch (err) {
    if (!intake) throw err;
    const leaks = await intake.discard().then(
      () => [],
      (e: unknown) => [{ what: 'the unpack of the new layer', error: errorMessage(e) }],
    );
    throw withLeaks(err, 'writing a layer', leaks);
  }
}

/** A compressor program, and the Debian package an error names when it is missing. */
interface Compressor {
  program: string;
  args: string[];
  pkg: string;
}

/**
 * The gzip level of new layers, chosen by measurement (bench/layer-compress.ts and pigz alone on a 152 MB
 * tar of what apt-get install adds: package lists, apt's binary caches, libraries). CPU seconds of one pigz
 * thread and size against zlib 6 (Kiln before pigz): level 1 1.7 s +8%, 3 2.4 s +6%, 4 2.6 s +2%, 6 5.4 s ±0.
 * Level 4 is zlib's first lazy-matching level: the CPU of level 3, layers within a few percent of before (so
 * pushes and pulls do not grow), half the CPU of level 6.
 */
export const DEFAULT_GZIP_LEVEL = 4;
const DEFAULT_ZSTD_LEVEL = 3;

/**
 * gzip runs `pigz` (Debian package pigz): compression spread over every available CPU. Both pigz and zstd
 * cut the input into blocks of a fixed size, whatever the thread count, so equal input gives equal bytes on
 * any machine; `-n` keeps the name and mtime out of the gzip header. pigz's one-thread path gives other
 * bytes at levels 1–3 (measured with pigz 2.6), hence never fewer than 2 threads. There is no fallback to
 * zlib: its bytes differ from pigz's, so the same layer would get another digest on a machine without pigz.
 */
function compressorFor(compression: 'gzip' | 'zstd', level: number | undefined): Compressor {
  const [lowest, highest] = compression === 'gzip' ? [1, 9] : [1, 19];
  const chosen = level ?? (compression === 'gzip' ? DEFAULT_GZIP_LEVEL : DEFAULT_ZSTD_LEVEL);
  if (!Number.isInteger(chosen) || chosen < lowest || chosen > highest) throw new KilnError('InvalidArgument', `level: ${compression} layers take a level from ${lowest} to ${highest}, not ${chosen}`);
  if (compression === 'gzip') return { program: 'pigz', args: ['-c', '-n', `-${chosen}`, '-p', String(Math.max(2, availableParallelism()))], pkg: 'pigz' };
  return { program: 'zstd', args: ['-q', '-c', `-${chosen}`, '-T0'], pkg: 'zstd' };
}

/**
 * Stores what a compressor program makes of `input`. The blob is committed only after the program exits
 * cleanly, so a crashed compressor stores nothing; an abort kills it, and every failure waits for it to be gone.
 */
async function putThroughProgram(store: BlobStore, input: AsyncIterable<Uint8Array>, tool: Compressor, signal?: AbortSignal): Promise<BlobInfo> {
  signal?.throwIfAborted();
  const child = spawn(tool.program, tool.args, { stdio: ['pipe', 'pipe', 'pipe'], signal, killSignal: 'SIGKILL' });
  const stderr = streamTail(child.stderr, STDERR_TAIL);
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? new KilnError('Unavailable', `${tool.program} is not installed (Debian package "${tool.pkg}"); it compresses layers`) : err),
    );
    child.on('close', (code) => resolve(code));
  });
  // A compressor that died stops reading; its exit status (or the spawn error) says why.
  child.stdin.on('error', () => undefined);
  // Once this function fails, the put must fail too: a compressor that saw its input end early may still exit 0.
  const stop = new AbortController();
  async function* checked(): AsyncGenerator<Buffer> {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) yield chunk;
    const code = await exited;
    stop.signal.throwIfAborted();
    if (code !== 0) throw new KilnError('Internal', `${tool.program} exited with ${code}: ${stderr().trim()}`);
  }
  const feeding = pipeline(Readable.from(input), child.stdin, { signal });
  const putting = store.put(checked(), { signal: signal ? AbortSignal.any([signal, stop.signal]) : stop.signal });
  try {
    const [, info] = await Promise.all([feeding, putting, exited]);
    return info;
  } catch (err) {
    stop.abort();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    const end = await exited.then(
      (code) => code,
      (e: unknown) => e,
    );
    await putting.catch(() => undefined);
    // A compressor that is missing or failed by itself breaks the pipe too; its own reason is the one to give.
    if (!signal?.aborted && isKilnError(end)) throw end;
    if (!signal?.aborted && typeof end === 'number' && end !== 0) throw new KilnError('Internal', `${tool.program} exited with ${end}: ${stderr().trim()}`);
    throw err;
  }
}

/** Walks the tree and decides every entry (sorted by path), before a single byte of tar is written. */
async function planLayer(root: string, options: TreeOptions): Promise<PlannedEntry[]> {
  const xattrs: XattrMap = await readTreeXattrs(root, options.signal);
  const keep = options.keepXattr ?? defaultKeepXattr;
  const overlay = options.source === 'overlay-upper';
  const clamp = (st: BigIntStats) => Math.min(Number(st.mtimeNs / 1_000_000_000n), options.sourceDateEpoch);

  const found: { rel: string; abs: string; st: BigIntStats }[] = [];
  async function walk(absDir: string, relDir: string): Promise<void> {
    options.signal?.throwIfAborted();
    const names = await fsp.readdir(absDir);
    const stats = await Promise.all(names.map((n) => fsp.lstat(path.join(absDir, n), { bigint: true })));
    for (let i = 0; i < names.length; i++) {
      const rel = relDir === '' ? names[i]! : `${relDir}/${names[i]!}`;
      if (options.exclude?.(rel)) continue;
      const abs = path.join(absDir, names[i]!);
      const st = stats[i]!;
      found.push({ rel, abs, st });
      if ((st.mode & S_IFMT) === S_IFDIR) await walk(abs, rel);
    }
  }
  await walk(root, '');
  found.sort((a, b) => Buffer.compare(Buffer.from(a.rel), Buffer.from(b.rel)));

  const out: PlannedEntry[] = [];
  const firstLink = new Map<string, string>();
  for (const { rel, abs, st } of found) {
    const attrs = xattrs.get(abs) ?? new Map<string, Buffer>();
    if (overlay) {
      const bad = OVERLAY_UNSUPPORTED.find((n) => attrs.has(n));
      if (bad) throw new KilnError('InvalidArgument', `overlay upper ${rel} uses ${bad}; mount the overlay with redirect_dir=off,metacopy=off`);
    }
    const fmt = st.mode & S_IFMT;
    const base = { uid: Number(st.uid), gid: Number(st.gid), mode: Number(st.mode & 0o7777n), mtime: clamp(st), size: 0 };
    const kept = new Map([...attrs].filter(([n]) => keep(n)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const xa = kept.size > 0 ? { xattrs: kept } : {};

    // Whiteouts first: overlayfs may hard-link all whiteouts to one shared inode.
    const isWhiteout = overlay && ((fmt === S_IFCHR && st.rdev === 0n) || (fmt === S_IFREG && st.size === 0n && attrs.has(OVERLAY_WHITEOUT)));
    if (isWhiteout) {
      const slash = rel.lastIndexOf('/');
      const name = `${rel.slice(0, slash + 1)}.wh.${rel.slice(slash + 1)}`;
      out.push({ header: { ...base, name, type: 'file', mode: 0o644 } });
      continue;
    }
    if (fmt !== S_IFDIR && st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = firstLink.get(key);
      if (first !== undefined) {
        out.push({ header: { ...base, ...xa, name: rel, type: 'link', linkname: first } });
        continue;
      }
      firstLink.set(key, rel);
    }
    switch (fmt) {
      case S_IFDIR:
        out.push({ header: { ...base, ...xa, name: rel, type: 'directory' } });
        if (overlay && attrs.get(OVERLAY_OPAQUE)?.toString() === 'y') {
          // Keyed to sort right after its directory, so a reader applying the layer in order clears the lower
          // content before it unpacks the new one.
          out.push({ header: { ...base, name: `${rel}/.wh..wh..opq`, type: 'file', mode: 0o644 }, sortKey: `${rel}\0` });
        }
        break;
      case S_IFREG:
        out.push({ header: { ...base, ...xa, name: rel, type: 'file', size: Number(st.size) }, contentPath: abs });
        break;
      case S_IFLNK:
        out.push({ header: { ...base, ...xa, name: rel, type: 'symlink', linkname: await fsp.readlink(abs) } });
        break;
      case S_IFCHR:
      case S_IFBLK: {
        const { major, minor } = splitDev(st.rdev);
        out.push({ header: { ...base, ...xa, name: rel, type: fmt === S_IFCHR ? 'char' : 'block', devmajor: major, devminor: minor } });
        break;
      }
      case S_IFIFO:
        out.push({ header: { ...base, ...xa, name: rel, type: 'fifo' } });
        break;
      default:
        // Sockets cannot be archived and are meaningless in an image (Docker drops them too).
        break;
    }
  }
  // Sorted by archive path (whiteouts renamed). Names other than whiteouts keep their relative order, so the
  // first name of a hardlink still comes before its links.
  const keyed = out.map((e) => ({ e, key: Buffer.from(e.sortKey ?? e.header.name) }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return keyed.map((k) => k.e);
}

/** glibc's major()/minor() for a 64-bit dev_t. */
function splitDev(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { major: Number(major & 0xffffffffn), minor: Number(minor & 0xffffffffn) };
}

/** Files up to this size are read whole, several at once ahead of the writer. */
const SMALL_FILE = 1 << 20;
/** How many entries ahead small files are read: serial open/read/close round trips would leave the CPU idle. */
const LOOKAHEAD = 32;

/** The tar bytes of planned entries; a file whose size changed since planning fails the layer. */
async function* tarChunks(entries: PlannedEntry[], signal?: AbortSignal): AsyncGenerator<Buffer> {
  const prefetched = new Map<number, Promise<Buffer>>();
  let scheduled = 0;
  for (let i = 0; i < entries.length; i++) {
    signal?.throwIfAborted();
    for (; scheduled < Math.min(i + LOOKAHEAD, entries.length); scheduled++) {
      const e = entries[scheduled]!;
      if (e.contentPath === undefined || e.header.size > SMALL_FILE) continue;
      const read = readWhole(e.contentPath, e.header.name, e.header.size);
      // Awaited in order below; this only keeps an early failure from being reported as unhandled.
      read.catch(() => undefined);
      prefetched.set(scheduled, read);
    }
    const entry = entries[i]!;
    yield encodeHeader(entry.header);
    if (entry.contentPath === undefined) continue;
    const whole = prefetched.get(i);
    if (whole) {
      prefetched.delete(i);
      yield await whole;
    } else {
      yield* fileChunks(entry.contentPath, entry.header.name, entry.header.size);
    }
    yield padding(entry.header.size);
  }
  yield END_OF_ARCHIVE;
}

async function readWhole(file: string, name: string, size: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of fileChunks(file, name, size)) parts.push(chunk);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

const READ_CHUNK = 1 << 20;

/**
 * Exactly `size` bytes of a file, in buffers sized to what is left: a stream's fixed 1 MiB buffers would
 * allocate gigabytes for a tree of small files and leave the time to the garbage collector.
 */
async function* fileChunks(file: string, name: string, size: number): AsyncGenerator<Buffer> {
  const fh = await fsp.open(file, 'r');
  try {
    let position = 0;
    while (position < size) {
      const buf = Buffer.allocUnsafe(Math.min(size - position, READ_CHUNK));
      const { bytesRead } = await fh.read(buf, 0, buf.length, position);
      if (bytesRead === 0) throw changed(name);
      position += bytesRead;
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
    }
    if ((await fh.read(Buffer.alloc(1), 0, 1, position)).bytesRead !== 0) throw changed(name);
  } finally {
    await fh.close();
  }
}

function changed(name: string): KilnError {
  return new KilnError('Conflict', `${name} changed size while the layer was written`);
}
