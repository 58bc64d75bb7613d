/**
 * An optional cache of mmdebstrap's output, for hosts that bootstrap the same base into many data directories
 * (the test suite starts dozens of Kiln servers). Set `KILN_BOOTSTRAP_CACHE` to a directory: a bootstrap whose
 * inputs (mirror, suite, variant, architecture, packages and the mirror's Release date) were seen before unpacks
 * the saved tree instead of running mmdebstrap again. Everything after mmdebstrap (scrubbing, customising,
 * writing the layer) runs as usual, so the stored image is the same either way.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { KilnError } from '../../domain/errors.js';

export const BOOTSTRAP_CACHE_ENV = 'KILN_BOOTSTRAP_CACHE';

function tar(args: string[], signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls', ...args], { maxBuffer: 16 << 20, ...(signal ? { signal } : {}) }, (err, _out, stderr) =>
      err ? reject(new KilnError('Internal', `tar ${args[0]} failed: ${stderr.trim() || err.message}`)) : resolve(),
    );
  });
}

/**
 * Fills `rootfs` (an empty or missing directory) by `bootstrap`, or from the cache entry for `inputs` when the
 * cache is on and has one; a fresh result is saved for next time. `onOutput` says which happened.
 */
export async function cachedBootstrap(inputs: unknown, rootfs: string, bootstrap: () => Promise<void>, options: { signal?: AbortSignal; onOutput?: (text: string) => void } = {}): Promise<void> {
  const dir = process.env[BOOTSTRAP_CACHE_ENV];
  if (!dir) return bootstrap();
  const entry = path.join(dir, `${createHash('sha256').update(JSON.stringify(inputs)).digest('hex')}.tar`);
  const found = await fsp.stat(entry).catch(() => undefined);
  if (found?.isFile()) {
    await fsp.mkdir(rootfs, { recursive: true });
    await tar(['-xpf', entry, '-C', rootfs], options.signal);
    options.onOutput?.(`unpacked the cached bootstrap ${entry}\n`);
    return;
  }
  await bootstrap();
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  // Written aside and renamed, so a reader never sees half an entry.
  const partial = `${entry}.${randomBytes(4).toString('hex')}.partial`;
  try {
    await tar(['-cpf', partial, '-C', rootfs, '.'], options.signal);
    await fsp.rename(partial, entry);
    options.onOutput?.(`saved the bootstrap to ${entry}\n`);
  } finally {
    await fsp.rm(partial, { force: true });
  }
}
