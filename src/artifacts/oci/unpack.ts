/**
 * Stored image layers unpacked into directories in overlayfs lower-layer form, so that an instance can stack
 * them read-only (LaunchSpec.layers) instead of copying a root filesystem per build. Each layer is unpacked
 * once and shared. GNU tar extracts (owners, modes, setuid bits, devices, hard links, xattrs; about 3–10× faster
 * than extracting in JavaScript), while a header scan of the same bytes (tar-scan.ts) refuses entries that
 * would escape the layer and finds the OCI whiteouts, which are then turned into overlay form: `.wh.NAME`
 * becomes a 0/0 character device `NAME`, `.wh..wh..opq` the xattr `trusted.overlay.opaque=y` on its directory.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { errorMessage, isKilnError, KilnError } from '../../domain/errors.js';
import { streamTail } from '../../logs/utf8-chunks.js';
import { digestHex, syncDir, type BlobStore } from '../blob-store.js';
import { readManifest } from './image.js';
import { END_OF_ARCHIVE, encodeHeader } from './tar.js';
import { TarScanner, type ScannedEntry } from './tar-scan.js';
import type { LayerIntake, LayerRef } from './layer-intake.js';

/** The most of a tool's stderr an error message quotes. */
const STDERR_TAIL = 4096;

type Compression = 'none' | 'gzip' | 'zstd';

/** The layer media types Kiln unpacks, by compression. */
const MEDIA_TYPES: Readonly<Record<string, Compression>> = {
  'application/vnd.oci.image.layer.v1.tar': 'none',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar': 'none',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': 'zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.diff.tar': 'none',
};

const TMP_PREFIX = '.tmp-';
const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
/** Paths per setfattr run, well below the argument-size limit. */
const SETFATTR_BATCH = 256;

export type { LayerIntake, LayerRef } from './layer-intake.js';

/** Unpacked layers, each once, in overlay lower-layer form, under `root/<hex digest>/`. */
export class LayerCache {
  private readonly inFlight = new Map<string, Promise<string>>();
  /** Temp dirs this cache is filling now; prune leaves them alone. */
  private readonly ownTemp = new Set<string>();

  /**
   * `root` is created with mode 0700 when missing: unpacked layers hold setuid binaries and device nodes, which
   * no other user of the host may reach.
   */
  constructor(
    readonly root: string,
    private readonly blobs: BlobStore,
  ) {}

  /**
   * The directory of one stored layer blob, unpacking it on first use (atomically: concurrent callers and a
   * crash mid-unpack never leave a half-unpacked dir under the final name). InvalidArgument for a media type
   * Kiln cannot unpack or a malformed layer (nothing is left behind then); NotFound when the blob is absent.
   */
  layerDir(layer: LayerRef, signal?: AbortSignal): Promise<string> {
    const hex = digestHex(layer.digest);
    let run = this.inFlight.get(hex);
    if (!run) {
      run = this.unpackOnce(layer, hex, signal).finally(() => this.inFlight.delete(hex));
      this.inFlight.set(hex, run);
    }
    return run;
  }

  /** The layer dirs of a stored image manifest, TOP FIRST, ready for LaunchSpec.layers. */
  async imageLayers(manifestDigest: string, signal?: AbortSignal): Promise<string[]> {
    const manifest = await readManifest(this.blobs, manifestDigest);
    const dirs: string[] = [];
    for (const [i, layer] of manifest.layers.entries()) {
      signal?.throwIfAborted();
      try {
        dirs.push(await this.layerDir(layer, signal));
      } catch (err) {
        if (isKilnError(err)) throw new KilnError(err.kind, `image ${manifestDigest} layers[${i}]: ${err.message}`, err.issues, { cause: err });
        throw err;
      }
    }
    return dirs.reverse();
  }

  /**
   * Removes unpacked layers not in `keep` (digests); returns how many. Also removes temp dirs that unpacks of a
   * crashed process left. Layers being unpacked now are kept; a layer an instance still stacks must be in `keep`.
   */
  async prune(keep: ReadonlySet<string>): Promise<number> {
    let names: string[];
    try {
      names = await fsp.readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    const keepHex = new Set([...keep].map((d) => d.replace(/^sha256:/, '')));
    let removed = 0;
    for (const name of names) {
      const full = path.join(this.root, name);
      if (name.startsWith(TMP_PREFIX)) {
        if (!this.ownTemp.has(full) && !ownerAlive(name)) await fsp.rm(full, { recursive: true, force: true });
        continue;
      }
      if (!/^[0-9a-f]{64}$/.test(name) || keepHex.has(name) || this.inFlight.has(name)) continue;
      await fsp.rm(full, { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  /**
   * Starts unpacking a layer from its uncompressed tar while the tar is being written (writeTar's
   * `unpackInto`), so a layer Kiln just made is never decompressed again. The same checks and overlay
   * conversion as layerDir's apply. Feed every chunk in order, then `commit` once the blob is stored; on any
   * failure `discard`. Until committed the unpack lives in a temp dir, which prune leaves alone.
   */
  async openIntake(signal?: AbortSignal): Promise<LayerIntake> {
    const tmp = await this.newTemp('intake');
    let extraction: TarExtraction;
    try {
      extraction = new TarExtraction(tmp, signal);
    } catch (err) {
      await this.dropTemp(tmp);
      throw err;
    }
    let state: 'open' | 'committing' | 'closed' = 'open';
    const what = (err: unknown) => (isKilnError(err) ? new KilnError(err.kind, `unpacking the new layer: ${err.message}`, [], { cause: err }) : err);
    return {
      write: async (chunk) => {
        if (state !== 'open') throw new KilnError('Internal', 'layer intake written after commit or discard');
        await extraction.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)).catch((err: unknown) => {
          throw what(err);
        });
      },
      commit: (layer) => {
        if (state !== 'open') return Promise.reject(new KilnError('Internal', 'layer intake committed twice or after discard'));
        state = 'committing';
        const hex = digestHex(layer.digest);
        const work = (async () => {
          try {
            const plan = await extraction.finish().catch((err: unknown) => {
              throw what(err);
            });
            await toOverlayForm(tmp, plan, signal);
            return await this.publish(tmp, hex, signal);
          } catch (err) {
            await extraction.kill();
            throw err;
          } finally {
            state = 'closed';
            await this.dropTemp(tmp);
          }
        })();
        // A layerDir of the same digest meanwhile waits for this unpack instead of starting its own.
        const run = work.finally(() => {
          if (this.inFlight.get(hex) === run) this.inFlight.delete(hex);
        });
        if (!this.inFlight.has(hex)) this.inFlight.set(hex, run);
        return run;
      },
      discard: async () => {
        // A commit in progress cleans up after itself.
        if (state === 'committing') return;
        state = 'closed';
        await extraction.kill();
        await this.dropTemp(tmp);
      },
    };
  }

  private async unpackOnce(layer: LayerRef, hex: string, signal?: AbortSignal): Promise<string> {
    const final = path.join(this.root, hex);
    if (await isDir(final)) return final;
    const compression = MEDIA_TYPES[layer.mediaType];
    if (compression === undefined) throw new KilnError('InvalidArgument', `layer ${layer.digest} has media type ${JSON.stringify(layer.mediaType)}, which Kiln cannot unpack`);
    const tmp = await this.newTemp(hex.slice(0, 16));
    try {
      const plan = await extract(await this.blobs.open(layer.digest), compression, tmp, signal).catch((err: unknown) => {
        throw isKilnError(err) ? new KilnError(err.kind, `layer ${layer.digest}: ${err.message}`, [], { cause: err }) : err;
      });
      await toOverlayForm(tmp, plan, signal);
      return await this.publish(tmp, hex, signal);
    } finally {
      await this.dropTemp(tmp);
    }
  }

  /** A new empty temp dir under the root, `.tmp-<label>-<pid>-<random>` (ownerAlive reads the pid). */
  private async newTemp(label: string): Promise<string> {
    await fsp.mkdir(this.root, { recursive: true, mode: 0o700 });
    const tmp = path.join(this.root, `${TMP_PREFIX}${label}-${process.pid}-${randomBytes(4).toString('hex')}`);
    this.ownTemp.add(tmp);
    try {
      await fsp.mkdir(tmp, { mode: 0o755 });
    } catch (err) {
      this.ownTemp.delete(tmp);
      throw err;
    }
    return tmp;
  }

  /**
   * Removes a temp dir (gone already after a publish). A failure names the dir within the cache and leaves it
   * to the next prune, which removes temp dirs of processes no longer running.
   */
  private async dropTemp(tmp: string): Promise<void> {
    try {
      await fsp.rm(tmp, { recursive: true, force: true });
    } catch (err) {
      throw new KilnError('Internal', `could not remove the layer cache's temp dir ${path.basename(tmp)} (the next prune does): ${errorMessage(err)}`, [], { cause: err });
    } finally {
      this.ownTemp.delete(tmp);
    }
  }

  /** Renames a fully unpacked temp dir to the layer's final name: the rename is the commit. */
  private async publish(tmp: string, hex: string, signal?: AbortSignal): Promise<string> {
    const final = path.join(this.root, hex);
    // The data must be on disk before a name says the layer is complete.
    await run('sync', ['-f', tmp], signal);
    try {
      await fsp.rename(tmp, final);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Another process unpacked the same layer first; its copy is as good as ours.
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
    await syncDir(this.root);
    return final;
  }
}

/** What the header scan found that GNU tar does not do itself: OCI whiteouts and opaque markers. */
interface OverlayPlan {
  /** Marker paths (relative) to delete after extraction. */
  markers: string[];
  /** Names (relative) that the layer deletes from the layers below. */
  whiteouts: string[];
  /** Directories (relative) whose lower content the layer hides. */
  opaque: string[];
}

/** An archive path as components; refuses absolute paths and `..`, which could lead out of the layer. */
function components(name: string, what: string): string[] {
  if (name.startsWith('/')) throw new KilnError('InvalidArgument', `${what} ${JSON.stringify(name)} is an absolute path`);
  const parts = name.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw new KilnError('InvalidArgument', `${what} ${JSON.stringify(name)} leads out of the layer (..)`);
  return parts;
}

/**
 * Checks every entry before GNU tar's copy of it matters, and plans the overlay conversion. An entry under a
 * symlink of the same archive is refused too: extracting through a link would write where the link points.
 */
class EntryChecker {
  readonly plan: OverlayPlan = { markers: [], whiteouts: [], opaque: [] };
  private readonly types = new Map<string, string>();

  check(entry: ScannedEntry): void {
    const parts = components(entry.name, 'entry');
    const rel = parts.join('/');
    if (rel === '' && entry.type !== '5') throw new KilnError('InvalidArgument', `entry ${JSON.stringify(entry.name)} names the layer root but is not a directory`);
    this.refuseUnderSymlink(parts, entry.name);
    if (entry.type === '1') {
      const target = components(entry.linkname, `hard link ${JSON.stringify(entry.name)} to`);
      if (target.length === 0) throw new KilnError('InvalidArgument', `hard link ${JSON.stringify(entry.name)} points at the layer root`);
      this.refuseUnderSymlink(target, entry.linkname);
    }
    this.types.set(rel, entry.type);
    const base = parts[parts.length - 1] ?? '';
    if (!base.startsWith(WHITEOUT_PREFIX)) return;
    const parent = parts.slice(0, -1).join('/');
    this.plan.markers.push(rel);
    if (base === OPAQUE_MARKER) {
      this.plan.opaque.push(parent);
    } else if (!base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) {
      // Other `.wh..wh.` names are aufs bookkeeping; they are dropped.
      const hidden = base.slice(WHITEOUT_PREFIX.length);
      if (hidden === '' || hidden === '.' || hidden === '..') throw new KilnError('InvalidArgument', `whiteout ${JSON.stringify(entry.name)} names no file`);
      this.plan.whiteouts.push(parent === '' ? hidden : `${parent}/${hidden}`);
    }
  }

  private refuseUnderSymlink(parts: string[], name: string): void {
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (this.types.get(prefix) === '2') throw new KilnError('InvalidArgument', `entry ${JSON.stringify(name)} is under the symlink ${JSON.stringify(prefix)} of the same layer`);
    }
  }
}

/**
 * GNU tar as root: numeric owners, exact modes, all xattrs but overlay's own, which only Kiln may set. Directory
 * times are set at the end: in path order `perl-base/` comes between `perl/` and `perl/5.36/`, and tar would
 * otherwise restore `perl`'s mtime before filling it.
 */
const TAR_EXTRACT = ['-x', '-f', '-', '-p', '--numeric-owner', '--same-owner', '--delay-directory-restore', '--xattrs', '--xattrs-include=*', '--xattrs-exclude=trusted.overlay.*', '--warning=no-unknown-keyword', '--warning=no-timestamp'];

/** A stored blob as BlobStore.open gives it. */
type BlobStream = NodeJS.ReadableStream & AsyncIterable<Buffer>;

/**
 * GNU tar extracting one layer into a dir, fed chunk by chunk; each chunk is header-scanned before tar gets it.
 * Whoever creates one ends it with `finish` or `kill`.
 */
class TarExtraction {
  private readonly checker = new EntryChecker();
  private readonly scanner = new TarScanner((e) => this.checker.check(e));
  private readonly tar: ChildProcessByStdio<Writable, null, Readable>;
  private readonly tarErr: () => string;
  private readonly tarExit: Promise<number | null>;
  private readonly onAbort = () => this.tar.kill('SIGKILL');
  /** tar exited before it read the whole archive: its exit status says why. */
  private stoppedReading = false;

  constructor(
    dir: string,
    private readonly signal?: AbortSignal,
  ) {
    signal?.throwIfAborted();
    this.tar = spawn('tar', [...TAR_EXTRACT, '-C', dir], { stdio: ['pipe', 'ignore', 'pipe'] });
    this.tarErr = streamTail(this.tar.stderr, STDERR_TAIL);
    this.tarExit = exitOf(this.tar, 'tar', 'tar');
    // A tar that died stops reading; its exit status says why, so the write error itself is not interesting.
    this.tar.stdin.on('error', () => undefined);
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /**
   * Scans one chunk and hands it to tar; resolves when tar can take more. False when no more bytes are
   * needed: the end-of-archive block was seen (what follows is not part of the archive), or tar stopped.
   */
  async write(chunk: Buffer): Promise<boolean> {
    if (this.signal?.aborted) throw new KilnError('Cancelled', 'layer unpack cancelled');
    if (this.scanner.done || this.stoppedReading) return false;
    this.scanner.push(chunk);
    if (!this.tar.stdin.write(chunk)) {
      const drained = once(this.tar.stdin, 'drain').then(
        () => 'drained' as const,
        () => 'exited' as const,
      );
      if ((await Promise.race([drained, this.tarExit.then(() => 'exited' as const, () => 'exited' as const)])) === 'exited') {
        this.stoppedReading = true;
        return false;
      }
    }
    return !this.scanner.done;
  }

  /** Ends tar's input and waits for it: the overlay conversion still to do, or why the layer is refused. */
  async finish(): Promise<OverlayPlan> {
    try {
      this.tar.stdin.end();
      const code = await this.tarExit;
      if (this.signal?.aborted) throw new KilnError('Cancelled', 'layer unpack cancelled');
      // A truncated archive is named as such rather than by tar's complaint about it.
      if (!this.stoppedReading && !this.scanner.done) this.scanner.end();
      if (code !== 0) throw new KilnError('InvalidArgument', `tar could not extract it (exit ${code}): ${this.tarErr().trim()}`);
      return this.checker.plan;
    } finally {
      this.signal?.removeEventListener('abort', this.onAbort);
    }
  }

  /** Stops tar (on a failure's way out) and waits until it is gone. */
  async kill(): Promise<void> {
    this.signal?.removeEventListener('abort', this.onAbort);
    if (this.tar.exitCode === null && this.tar.signalCode === null) this.tar.kill('SIGKILL');
    await this.tarExit.catch(() => undefined);
  }
}

/** Decompresses, scans and extracts one layer into `dir`; returns the overlay conversion to apply. */
async function extract(input: BlobStream, compression: Compression, dir: string, signal?: AbortSignal): Promise<OverlayPlan> {
  const extraction = new TarExtraction(dir, signal);
  try {
    for await (const chunk of decompressed(input, compression)) {
      if (!(await extraction.write(chunk))) break;
    }
    return await extraction.finish();
  } catch (err) {
    await extraction.kill();
    throw err;
  } finally {
    (input as Partial<Readable>).destroy?.();
  }
}

/** The uncompressed bytes of a layer blob; InvalidArgument when they are not what the media type says. */
async function* decompressed(input: BlobStream, compression: Compression): AsyncGenerator<Buffer> {
  if (compression === 'none') {
    yield* input;
    return;
  }
  if (compression === 'gzip') {
    // Large output chunks: the default 16 KiB makes inflating a base layer twice as slow.
    const gunzip = createGunzip({ chunkSize: 1 << 20 });
    input.on('error', (err) => gunzip.destroy(err));
    input.pipe(gunzip);
    try {
      yield* gunzip as AsyncIterable<Buffer>;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && code.startsWith('Z_')) throw new KilnError('InvalidArgument', `not valid gzip data: ${(err as Error).message}`);
      throw err;
    } finally {
      gunzip.destroy();
    }
    return;
  }
  // Node 20's zlib has no zstd; the zstd program (Debian package zstd) does it.
  const zstd = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const zstdErr = streamTail(zstd.stderr, STDERR_TAIL);
  const exited = exitOf(zstd, 'zstd', 'zstd');
  zstd.stdin.on('error', () => undefined);
  input.on('error', () => zstd.kill('SIGKILL'));
  input.pipe(zstd.stdin);
  try {
    yield* zstd.stdout as AsyncIterable<Buffer>;
    const code = await exited;
    if (code !== 0) throw new KilnError('InvalidArgument', `not valid zstd data: ${zstdErr().trim()}`);
  } finally {
    if (zstd.exitCode === null) zstd.kill('SIGKILL');
    await exited.catch(() => undefined);
  }
}

/**
 * Turns the extracted OCI markers into overlay form. Directories keep the times tar gave them: deleting a
 * marker and creating a whiteout would otherwise move their mtime.
 */
async function toOverlayForm(dir: string, plan: OverlayPlan, signal?: AbortSignal): Promise<void> {
  if (plan.markers.length === 0) return;
  const parents = new Set(plan.markers.map((m) => path.dirname(path.join(dir, m))));
  const times = new Map<string, { atime: Date; mtime: Date }>();
  for (const p of parents) {
    const st = await fsp.lstat(p).catch(() => undefined);
    if (st?.isDirectory()) times.set(p, { atime: st.atime, mtime: st.mtime });
  }
  for (const m of plan.markers) await fsp.rm(path.join(dir, m), { recursive: true, force: true });
  // A name the layer both deletes and creates is the layer's own: the whiteout only hides lower layers.
  const whiteouts: string[] = [];
  for (const w of new Set(plan.whiteouts)) if (!(await fsp.lstat(path.join(dir, w)).catch(() => undefined))) whiteouts.push(w);
  if (whiteouts.length > 0) {
    // Node cannot mknod; GNU tar makes the devices from a small archive in one run.
    const devices = Buffer.concat([...whiteouts.map((name) => encodeHeader({ name, type: 'char', mode: 0, uid: 0, gid: 0, size: 0, mtime: 0, devmajor: 0, devminor: 0 })), END_OF_ARCHIVE]);
    await run('tar', ['-x', '-f', '-', '-p', '--numeric-owner', '--same-owner', '-C', dir], signal, devices);
  }
  const opaque = [...new Set(plan.opaque)].map((d) => path.join(dir, d));
  for (let i = 0; i < opaque.length; i += SETFATTR_BATCH) {
    await run('setfattr', ['-h', '-n', 'trusted.overlay.opaque', '-v', 'y', '--', ...opaque.slice(i, i + SETFATTR_BATCH)], signal);
  }
  for (const [p, t] of times) await fsp.utimes(p, t.atime, t.mtime);
}


/** Resolves with the exit code (null when killed); a missing program is Unavailable, naming its package. */
function exitOf(child: ReturnType<typeof spawn>, program: string, pkg: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new KilnError('Unavailable', `${program} is not installed (Debian package ${pkg}); it is needed to unpack layers`) : err);
    });
    child.once('close', (code) => resolve(code));
  });
}

/** Runs a program to completion, optionally feeding it stdin; Internal error with its stderr on failure. */
async function run(program: string, args: string[], signal?: AbortSignal, stdin?: Buffer): Promise<void> {
  signal?.throwIfAborted();
  const child = spawn(program, args, { stdio: [stdin ? 'pipe' : 'ignore', 'ignore', 'pipe'], signal, killSignal: 'SIGKILL' });
  const err = streamTail(child.stderr!, STDERR_TAIL);
  const exited = exitOf(child, program, program === 'setfattr' ? 'attr' : program === 'sync' ? 'coreutils' : program);
  if (stdin) {
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(stdin);
  }
  const code = await exited.catch((e: unknown) => {
    if (signal?.aborted) throw new KilnError('Cancelled', 'layer unpack cancelled');
    throw e;
  });
  if (code !== 0) throw new KilnError('Internal', `${program} ${args.slice(0, 4).join(' ')}… failed (exit ${code}): ${err().trim()}`);
}

async function isDir(p: string): Promise<boolean> {
  return (await fsp.stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

/** Whether the process that named a temp dir (`.tmp-<hex>-<pid>-<rand>`) still runs. */
function ownerAlive(name: string): boolean {
  const pid = Number(name.split('-')[2]);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

