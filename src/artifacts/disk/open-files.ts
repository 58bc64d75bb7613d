/**
 * Which files under a folder some process on this host is using: open file descriptors (a QEMU booted from a
 * disk, including a kept instance that outlived the build that launched it) and loop devices' backing files (a
 * disk's partition mounted for reading). A cache asks before evicting, so it never removes a disk in use by
 * something it did not hand the disk to itself.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

/**
 * Files under `dir` that are open in any process or back a loop device, as paths relative to `dir` (the kernel
 * reports real paths, so a `dir` reached through a symlink still matches); unreadable entries are skipped.
 */
export async function filesInUseUnder(dir: string): Promise<Set<string>> {
  const real = await fsp.realpath(dir).catch(() => path.resolve(dir));
  const root = `${real}${path.sep}`;
  const out = new Set<string>();
  const note = (target: string) => {
    if (target.startsWith(root)) out.add(target.slice(root.length));
  };
  // Processes come and go while this runs: a vanished one simply has no descriptors left.
  for (const pid of (await fsp.readdir('/proc').catch(() => [] as string[])).filter((n) => /^\d+$/.test(n))) {
    const fdDir = `/proc/${pid}/fd`;
    for (const fd of await fsp.readdir(fdDir).catch(() => [] as string[])) {
      const target = await fsp.readlink(path.join(fdDir, fd)).catch(() => undefined);
      if (target) note(target);
    }
  }
  for (const dev of (await fsp.readdir('/sys/block').catch(() => [] as string[])).filter((n) => n.startsWith('loop'))) {
    const backing = await fsp.readFile(`/sys/block/${dev}/loop/backing_file`, 'utf8').catch(() => undefined);
    if (backing) note(backing.trim());
  }
  return out;
}
