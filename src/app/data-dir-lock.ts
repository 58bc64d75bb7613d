/**
 * The lock of a data directory's build side. A worker's start sweeps `scratch/` and `work/` (what a killed Kiln
 * left), so two processes running builds on one data directory would tear down each other's instances,
 * bootstraps and disk assemblies. `kiln serve` (with the worker role) and `kiln build` take this lock before that
 * sweep and hold it until they stop; the second one is refused with a message that says why.
 *
 * The lock is a file (`build.lock`) holding the holder's process id, created exclusively. A lock whose process is
 * gone (kill -9, a power cut) is taken over. Several servers in one process (tests restarting a server on the same
 * directory) share it: it guards against other processes, and is removed when the last holder in this process
 * releases it.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { PRIVATE_FILE_MODE } from './data-dir.js';
import { processRuns } from '../store/lease-owners.js';

/** The lock file's name in the data directory. */
export const LOCK_FILE = 'build.lock';

/** Holders in this process, per lock file. */
const held = new Map<string, number>();

/** The process id in a lock file, or undefined when it is unreadable or empty (a holder killed mid-write). */
function holder(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The process, other than this one, that holds the data directory's lock now; undefined when none does. */
export function dataDirLockHolder(dataDir: string): number | undefined {
  const pid = holder(path.join(dataDir, LOCK_FILE));
  return pid !== undefined && pid !== process.pid && processRuns(pid) ? pid : undefined;
}

/** A data directory another process builds in; a plain Error, so the CLI prints its message alone. */
export class DataDirInUseError extends Error {}

/** The error for a data directory another process builds in; it names the process, never the directory's path. */
export function dataDirInUse(pid: number): DataDirInUseError {
  return new DataDirInUseError(`the data directory is in use by another Kiln process (pid ${pid}: a kiln serve or kiln build); stop it, or give this one another --data-dir`);
}

/**
 * Takes the lock of `dataDir` (which must exist) for this process, or throws DataDirInUseError naming the process that holds
 * it. The returned function releases this holder's share; calling it again does nothing.
 */
export function lockDataDir(dataDir: string): () => void {
  const file = path.join(path.resolve(dataDir), LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    const count = held.get(file);
    if (count !== undefined) {
      held.set(file, count + 1);
      break;
    }
    try {
      const fd = openSync(file, 'wx', PRIVATE_FILE_MODE);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      held.set(file, 1);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = holder(file);
    if (pid !== undefined && pid !== process.pid && processRuns(pid)) throw dataDirInUse(pid);
    // Left by a process that is gone (or by this one, outside the count: a crash of a test): taken over once.
    if (attempt > 0) throw new DataDirInUseError('the data directory lock could not be taken (another process is taking it at the same time)');
    rmSync(file, { force: true });
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const count = held.get(file) ?? 0;
    if (count > 1) {
      held.set(file, count - 1);
      return;
    }
    held.delete(file);
    if (holder(file) === process.pid) rmSync(file, { force: true });
  };
}
