/**
 * The content-addressed store of machine-image disks: raw disk files named by a hash of their bytes. Disks
 * are large and mostly holes, so they are kept apart from the blob store: a disk is moved in by rename (it stays
 * sparse), never copied through a stream, and only complete, hashed files appear under their digest.
 */
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { digestHex, type Digest } from '../blob-store.js';
import { KilnError } from '../../domain/errors.js';

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

/**
 * A disk's content address: the sha256 of the sha256 digests of its 4 MiB blocks in order (the last one may be
 * shorter). Equal bytes give equal addresses as with a plain sha256, but a block of zeros (a hole, most of a
 * sparse disk) is recognised by comparison and not hashed: a 3 GiB disk took 14.6 s to hash whole.
 */
export async function hashFile(file: string, signal?: AbortSignal): Promise<Digest> {
  const outer = createHash('sha256');
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
      const block = buffer.subarray(0, filled);
      outer.update(filled === BLOCK && block.equals(ZERO_BLOCK) ? ZERO_BLOCK_DIGEST : createHash('sha256').update(block).digest());
      if (filled < BLOCK) break;
    }
  } finally {
    await handle.close();
  }
  return `sha256:${outer.digest('hex')}`;
}

export class DiskStore {
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
