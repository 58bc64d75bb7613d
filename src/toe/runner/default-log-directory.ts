/**
 * Where `kiln toe run` puts its TOE_… log folders when no --log-directory is given. AWSTOE's command reference
 * says awstoe itself falls back to the current directory, but every awstoe run Image Builder makes is given
 * `/var/lib/amazon/toe/` on Linux (the component-logging page), which is where people look for these folders.
 * Kiln follows that: root gets `/var/lib/amazon/toe`, others, who cannot write there, a folder of their own
 * under `$XDG_STATE_HOME` (default `~/.local/state`), so a run never litters the directory it was started in.
 */
import { lstat, chmod, mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { KilnError } from '../../domain/errors.js';

/** Image Builder's AWSTOE log directory on Linux instances. */
export const AWSTOE_LINUX_LOG_DIRECTORY = '/var/lib/amazon/toe';

/** The default log directory for a user: root's is AWSTOE's, anyone else's is under their state directory. */
export function defaultLogDirectory(env: NodeJS.ProcessEnv = process.env, uid: number | undefined = process.getuid?.()): string {
  if (uid === 0) return AWSTOE_LINUX_LOG_DIRECTORY;
  const state = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(env.HOME || homedir(), '.local', 'state');
  return join(state, 'kiln', 'toe');
}

/**
 * Makes sure the default log directory exists and only its owner can use it: created with mode 0700 (whatever
 * the umask), parents 0755. An existing one must be a real directory (not a symlink) owned by this user and not
 * writable by others, since logs hold the documents' inputs and output; anything else is refused with its path.
 */
export async function ensureDefaultLogDirectory(dir: string, uid: number | undefined = process.getuid?.()): Promise<void> {
  const found = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!found) {
    await mkdir(dirname(dir), { recursive: true, mode: 0o755 });
    await mkdir(dir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    await chmod(dir, 0o700);
    return ensureOwned(dir, uid);
  }
  return ensureOwned(dir, uid);
}

async function ensureOwned(dir: string, uid: number | undefined): Promise<void> {
  const st = await lstat(dir);
  const refuse = (why: string) => new KilnError('InvalidArgument', `log directory ${dir}: ${why}; give --log-directory or fix it`, [{ path: 'logDirectory', message: why }]);
  if (st.isSymbolicLink()) throw refuse('is a symbolic link');
  if (!st.isDirectory()) throw refuse('is not a directory');
  if (uid !== undefined && st.uid !== uid) throw refuse(`belongs to user ${st.uid}, not to this user`);
  if ((st.mode & 0o022) !== 0) throw refuse(`is writable by others (mode ${(st.mode & 0o777).toString(8)})`);
}
