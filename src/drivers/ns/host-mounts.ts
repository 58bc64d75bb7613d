/**
 * Mounts in this process's mount namespace under a directory: what must be gone before a folder that held a
 * sandbox is removed, since a recursive delete would otherwise descend into whatever is mounted there.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { KilnError } from '../../domain/errors.js';

/** The mount points at or under `dir` (an absolute, canonical path), deepest first. */
export function mountsUnder(dir: string): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const points = text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    // mountinfo escapes space, tab, newline and backslash as octal.
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Detaches one mount point (`umount --lazy`): it leaves the namespace now, the kernel frees it when unused. */
export function umountLazy(point: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('umount', ['--lazy', point], (err, _stdout, stderr) => {
      if (err) reject(new KilnError('Internal', `cannot unmount ${point}: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}
