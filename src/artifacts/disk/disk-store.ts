/**
 * The content-addressed store of machine-image disks: raw disk files named by the sha256 of their bytes. Disks
 * are large and mostly holes, so they are kept apart from the blob store: a disk is moved in by rename (it stays
 * sparse), never copied through a stream, and only complete, hashed files appear under their digest.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
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

/** sha256 of a file's bytes (holes read as zeros). */
export async function hashFile(file: string, signal?: AbortSignal): Promise<Digest> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024, ...(signal ? { signal } : {}) })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
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
