/**
 * Whether another process has the data directory's database open. `kiln serve` keeps no lock file, but it holds
 * kiln.db (and its -wal) open for as long as it runs, which /proc shows; the data directory is private to Kiln's
 * user, so any process that could use it is one whose /proc entries that user can read.
 */
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';

/** Ids of the processes, other than this one, with `<dataDir>/kiln.db` (or its -wal, -shm) open. */
export function processesUsingStore(dataDir: string): number[] {
  // /proc names files by their real path.
  const db = path.join(realpathSync(dataDir), 'kiln.db');
  const watched = new Set([db, `${db}-wal`, `${db}-shm`]);
  const found: number[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return found;
  }
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone meanwhile, or another user's
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (watched.has(target)) {
        found.push(Number(pid));
        break;
      }
    }
  }
  return found;
}
