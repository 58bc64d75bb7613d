/**
 * The working directory of one bootstrap: on a fresh tmpfs when the host allows it (dpkg's many small synced
 * writes are 1.3–2× faster in RAM, see machine.md §1), and always removed afterwards, with whatever a crashed
 * earlier run left there.
 */
import { execFile } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { mountsUnder, umountLazy } from '../../drivers/ns/host-mounts.js';

/** An upper bound, not a reservation: tmpfs takes memory only for what is written. */
const TMPFS_SIZE = '4g';

function mountTmpfs(dir: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('mount', ['-t', 'tmpfs', '-o', `mode=0700,size=${TMPFS_SIZE}`, 'kiln-bootstrap', dir], (err) => resolve(!err));
  });
}

/** Unmounts everything at or under `dir`, then deletes it; a mount that will not go stops the delete. */
async function removeDir(dir: string): Promise<void> {
  for (const point of mountsUnder(dir)) await umountLazy(point);
  await fsp.rm(dir, { recursive: true, force: true });
}

/**
 * Runs `fn` with `dir` as an empty directory (mode 0700), on a tmpfs when mounting one works, and removes the
 * directory when `fn` settles, on failure too. `fn` must have stopped every process it started in there.
 */
export async function withScratchDir<T>(dir: string, fn: (dir: string, info: { tmpfs: boolean }) => Promise<T>): Promise<T> {
  const abs = path.resolve(dir);
  await removeDir(abs);
  await fsp.mkdir(abs, { recursive: true, mode: 0o700 });
  let result: { ok: true; value: T } | { ok: false; error: unknown };
  try {
    const tmpfs = await mountTmpfs(abs);
    result = { ok: true, value: await fn(abs, { tmpfs }) };
  } catch (error) {
    result = { ok: false, error };
  }
  try {
    await removeDir(abs);
  } catch (cleanup) {
    // The work's own error is the one to report; a cleanup failure rides along on it.
    if (!result.ok) {
      if (typeof result.error === 'object' && result.error !== null) Object.assign(result.error, { suppressed: cleanup });
    } else {
      throw cleanup;
    }
  }
  if (!result.ok) throw result.error;
  return result.value;
}
