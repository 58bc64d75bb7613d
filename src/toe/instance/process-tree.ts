import { readdirSync, readFileSync } from 'node:fs';

/** PIDs of every live descendant of `root`, read from /proc (children before their own children). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    // The command name may hold spaces and parentheses; fields after the last ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    for (const child of children.get(pid) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/**
 * SIGKILLs a process, its process group and every descendant, including ones that left the group with setsid,
 * so a timed-out step cannot leave work running.
 */
export function killTree(pid: number): void {
  // Freeze the tree first so no process forks a child we have not seen yet.
  const tree = [pid, ...descendants(pid)];
  for (const p of tree) trySignal(p, 'SIGSTOP');
  for (const p of [pid, ...descendants(pid)]) trySignal(p, 'SIGKILL');
  trySignal(-pid, 'SIGKILL');
}

function trySignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** True while `pid` exists and is not a zombie (a zombie has exited; only its parent's wait is missing). */
export function isLive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}
