/**
 * The content-addressed store of machine-image disks: raw disk files named by a hash of their bytes. Disks
 * are large and mostly holes, so they are kept apart from the blob store: a disk is moved in by rename (it stays
 * sparse), never copied through a stream, and only complete, hashed files appear under their digest.
 *
 * `DiskStore` is the port builds, exports and the garbage collector use; `LocalDiskStore` is the embedded one,
 * the data directory's `disks/`. With an object store configured, s3-disk-store.ts keeps disks in the bucket and
 * a LocalDiskStore serves as this node's cache of them.
 */
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { digestHex, type Digest } from '../blob-store.js';
import { KilnError } from '../../domain/errors.js';
import { runTool } from './run-tool.js';

/** A stored disk. */
export interface StoredDisk {
  digest: Digest;
  /** Apparent size (the disk's size as a machine sees it). */
  sizeBytes: number;
}

/** The block size of disk hashes. */
const BLOCK = 4 * 1024 * 1024;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
const ZERO_BLOCK_DIGEST = createHash('sha256').update(ZERO_BLOCK).digest();

/** hashFile's digest computed over a disk's bytes as they stream by, block by block (disk-stream.ts). */
export class DiskHash {
  private readonly outer = createHash('sha256');

  /** Adds the next block: 4 MiB, fewer only for the last. Returns whether it was all zeros. */
  block(bytes: Buffer): boolean {
    const zero = bytes.length === BLOCK && bytes.equals(ZERO_BLOCK);
    this.outer.update(zero ? ZERO_BLOCK_DIGEST : createHash('sha256').update(bytes).digest());
    return zero;
  }

  /** Adds a whole block known to be a hole, without its bytes. */
  hole(): void {
    this.outer.update(ZERO_BLOCK_DIGEST);
  }

  digest(): Digest {
    return `sha256:${this.outer.digest('hex')}`;
  }
}

/**
 * hashFile's digest, reading only the file's data: qemu-img map lists its holes (SEEK_HOLE), and a block that
 * lies wholly in one is a zero block without being read. For a disk fetched into a cache, mostly holes.
 */
export async function hashSparseFile(file: string, signal?: AbortSignal): Promise<Digest> {
  const extents = (JSON.parse(await runTool('qemu-img', ['map', '--output=json', '-f', 'raw', file], signal ? { signal } : {})) as { start: number; length: number; data: boolean }[])
    .filter((e) => e.data)
    .sort((a, b) => a.start - b.start);
  const { size } = await fsp.stat(file);
  const hash = new DiskHash();
  const handle = await fsp.open(file, 'r');
  try {
    const buffer = Buffer.alloc(BLOCK);
    let next = 0;
    for (let offset = 0; offset < size; offset += BLOCK) {
      if (signal?.aborted) throw new KilnError('Cancelled', 'hashing a disk was cancelled');
      const end = Math.min(offset + BLOCK, size);
      while (next < extents.length && extents[next]!.start + extents[next]!.length <= offset) next++;
      const data = next < extents.length && extents[next]!.start < end;
      if (!data && end - offset === BLOCK) {
        hash.hole();
        continue;
      }
      let filled = 0;
      while (offset + filled < end) {
        const { bytesRead } = await handle.read(buffer, filled, end - offset - filled, offset + filled);
        if (bytesRead === 0) throw new KilnError('Internal', 'a disk changed size while it was hashed');
        filled += bytesRead;
      }
      hash.block(buffer.subarray(0, filled));
    }
  } finally {
    await handle.close();
  }
  return hash.digest();
}

/**
 * A disk's content address: the sha256 of the sha256 digests of its 4 MiB blocks in order (the last one may be
 * shorter). Equal bytes give equal addresses as with a plain sha256, but a block of zeros (a hole, most of a
 * sparse disk) is recognised by comparison and not hashed: a 3 GiB disk took 14.6 s to hash whole.
 */
export async function hashFile(file: string, signal?: AbortSignal): Promise<Digest> {
  const hash = new DiskHash();
  const handle = await fsp.open(file, 'r');
  try {
    const buffer = Buffer.alloc(BLOCK);
    for (;;) {
      if (signal?.aborted) throw new KilnError('Cancelled', `hashing ${file} was cancelled`);
      let filled = 0;
      while (filled < BLOCK) {
        const { bytesRead } = await handle.read(buffer, filled, BLOCK - filled, null);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled === 0) break;
      hash.block(buffer.subarray(0, filled));
      if (filled < BLOCK) break;
    }
  } finally {
    await handle.close();
  }
  return hash.digest();
}

/** A disk held on this node's file system for as long as the holder uses it. */
export interface DiskLease {
  /** The raw disk file; read-only. */
  path: string;
  /** Ends the hold (idempotent): a cache may then evict the disk. */
  release(): void;
}

/** Where machine-image disks are stored, as builds, exports and the garbage collector see it. */
export interface DiskStore {
  /** True when the disk is stored (whether or not this node has a copy yet). */
  has(digest: string): Promise<boolean>;
  /**
   * Stores `file` (a raw disk on the file system of the store's local folder) under its digest and returns it;
   * the file is gone afterwards in every case. A disk already stored keeps its first copy.
   */
  adopt(file: string, signal?: AbortSignal): Promise<StoredDisk>;
  /**
   * The disk as a local raw file, fetched first when this node has no copy; kept until `release`.
   * NotFound when the disk is not stored.
   */
  acquire(digest: string, signal?: AbortSignal): Promise<DiskLease>;
  /** Every stored disk. */
  list(): Promise<StoredDisk[]>;
  /** When the disk was stored (epoch ms), undefined when it is not: the garbage collector spares young disks. */
  storedAt(digest: string): Promise<number | undefined>;
  /** Removes a stored disk; `bytes` is the storage that frees (a sparse disk's allocated blocks), 0 if it was missing. */
  remove(digest: string): Promise<{ bytes: number }>;
}

/** The data directory's disk store: `<root>/sha256/<hex>.raw`, read-only sparse files. */
export class LocalDiskStore implements DiskStore {
  constructor(readonly root: string) {}

  /** Where the disk with `digest` lives (whether or not it is there). */
  path(digest: string): string {
    return path.join(this.root, 'sha256', `${digestHex(digest)}.raw`);
  }

  async has(digest: string): Promise<boolean> {
    return (await fsp.stat(this.path(digest)).catch(() => undefined))?.isFile() === true;
  }

  /**
   * Moves `file` (which must be on the same filesystem as the store) in under its digest and returns it; the
   * file is gone afterwards in every case. A disk already stored keeps its first copy.
   */
  async adopt(file: string, signal?: AbortSignal): Promise<StoredDisk> {
    try {
      const digest = await hashFile(file, signal);
      const target = this.path(digest);
      await fsp.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      const { size } = await fsp.stat(file);
      if (await this.has(digest)) return { digest, sizeBytes: size };
      await fsp.chmod(file, 0o444);
      await fsp.rename(file, target);
      return { digest, sizeBytes: size };
    } finally {
      await fsp.rm(file, { force: true });
    }
  }

  /** The path of a stored disk; NotFound when it is missing (a data directory that lost files). */
  async require(digest: string): Promise<string> {
    if (!(await this.has(digest))) throw new KilnError('NotFound', `the disk ${digest} is not in the disk store (${this.root})`);
    return this.path(digest);
  }

  /** Local files need no fetching: the lease is the stored file itself. */
  async acquire(digest: string): Promise<DiskLease> {
    return { path: await this.require(digest), release: () => undefined };
  }

  /** The file's modification time: adopt renames the assembled file in, so that is when it was written. */
  async storedAt(digest: string): Promise<number | undefined> {
    return (await fsp.stat(this.path(digest)).catch(() => undefined))?.mtimeMs;
  }

  async remove(digest: string): Promise<{ bytes: number }> {
    const file = this.path(digest);
    const st = await fsp.stat(file).catch(() => undefined);
    if (!st) return { bytes: 0 };
    await fsp.rm(file, { force: true });
    // Disks are sparse: what the file held on disk is what removing it frees.
    return { bytes: st.blocks * 512 };
  }

  /** Every stored disk. */
  async list(): Promise<StoredDisk[]> {
    const names = await fsp.readdir(path.join(this.root, 'sha256')).catch(() => [] as string[]);
    const out: StoredDisk[] = [];
    for (const name of names.filter((n) => /^[0-9a-f]{64}\.raw$/.test(n)).sort()) {
      const st = await fsp.stat(path.join(this.root, 'sha256', name));
      out.push({ digest: `sha256:${name.slice(0, 64)}`, sizeBytes: st.size });
    }
    return out;
  }
}
