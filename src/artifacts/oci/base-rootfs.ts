/**
 * A root filesystem (a directory, or a tar such as mmdebstrap writes) as the single base layer of an image,
 * normalised like every other layer, so the same rootfs gives the same digest whether it came as a tree or
 * as an archive.
 */
import { spawn } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { KilnError } from '../../domain/errors.js';
import type { BlobStore } from '../blob-store.js';
import { writeLayer, type LayerDescriptor, type LayerOptions } from './layer.js';

export type RootfsSource = { dir: string } | { tar: string };

export interface BaseRootfsOptions extends Omit<LayerOptions, 'source'> {
  /** Where a tar is unpacked for the walk; a tmpfs makes this several times faster. Default: os.tmpdir(). */
  scratchDir?: string;
}

/**
 * Stores the base layer of a rootfs. A tar (plain, gzip, xz or zstd) is unpacked with GNU tar into a scratch
 * directory first, since the layer must be sorted by path and a tar stream cannot be sorted without holding
 * it whole; the directory is removed afterwards, on failure too.
 */
export async function importBaseRootfs(store: BlobStore, source: RootfsSource, options: BaseRootfsOptions): Promise<LayerDescriptor> {
  const { scratchDir, ...layerOptions } = options;
  if ('dir' in source) return writeLayer(store, source.dir, { ...layerOptions, source: 'rootfs' });
  const scratch = await fsp.mkdtemp(path.join(scratchDir ?? os.tmpdir(), 'kiln-rootfs-'));
  try {
    await untar(source.tar, scratch, options.signal);
    return await writeLayer(store, scratch, { ...layerOptions, source: 'rootfs' });
  } finally {
    await fsp.rm(scratch, { recursive: true, force: true });
  }
}

function untar(archive: string, dir: string, signal?: AbortSignal): Promise<void> {
  // As root, GNU tar keeps owners, modes and device nodes; the xattr flags keep file capabilities and user.*.
  const args = ['-x', '-p', '--numeric-owner', '--same-owner', '--xattrs', '--xattrs-include=*', '-f', archive, '-C', dir];
  return new Promise((resolve, reject) => {
    const child = spawn('tar', args, { stdio: ['ignore', 'ignore', 'pipe'], signal });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new KilnError('InvalidArgument', `cannot unpack rootfs archive ${archive}: tar exited with ${code}: ${Buffer.concat(stderr).toString().trim()}`));
    });
  });
}
