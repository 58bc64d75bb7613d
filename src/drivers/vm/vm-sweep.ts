/**
 * Finds the QEMU processes a killed Kiln left running. QEMU runs in its own process group so that a build can
 * kill it whole, which also means it outlives a `kill -9` of Kiln; every VM Kiln starts names a file under the
 * engine's work folder on its command line, which is how the start-up sweep recognises its own.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { isLive } from '../../toe/instance/process-tree.js';

/** PIDs of QEMU processes whose command line names a path under `dir`. */
export function qemuProcessesUnder(dir: string): number[] {
  const prefix = `${dir.replace(/\/+$/, '')}/`;
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!/qemu-system/.test(argv[0] ?? '')) continue;
    if (argv.some((a) => a.includes(prefix))) out.push(Number(name));
  }
  return out;
}

/** Kills (SIGKILL) every QEMU process under `dir` and waits until they are gone; returns what it killed. */
export async function killQemuUnder(dir: string, waitMs = 10_000): Promise<number[]> {
  const pids = qemuProcessesUnder(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  const deadline = Date.now() + waitMs;
  while (pids.some(isLive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return pids;
}
