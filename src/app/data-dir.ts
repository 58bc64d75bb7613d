/**
 * Permissions of the data directory. It holds every account's resources (kiln.db), the secret key, the admin
 * credentials, blobs and step logs of private images: no other local user may read any of it.
 *
 * The guarantee is the directory itself: mode 0700 and owned by Kiln's user, nothing below it can be reached
 * by another user whatever the modes further down. Each start also sets the top-level folders to 0700 and
 * top-level files (kiln.db and its -wal/-shm, secret.key, credentials) to 0600, so a data directory made by an
 * older Kiln (0755 with a 0644 kiln.db) is fixed in a few dozen syscalls; walking blobs/ or layers/ (millions
 * of files) on every start would cost minutes for nothing the top-level modes do not already ensure. Files
 * Kiln writes itself below (blobs, upload sessions, step logs) are created 0600 for defence in depth.
 *
 * No process umask of 0o077: the build engine writes image contents on the host (layer unpacking, AWSTOE's
 * file actions through the instance's rooted file system) and build processes inherit the umask, so a private
 * umask would change the modes of files inside built images. Layers and instance folders keep the modes the
 * image asks for, behind their 0700 top-level folders.
 */
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** Mode of the data directory and of its top-level folders. */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of files Kiln keeps in the data directory. */
export const PRIVATE_FILE_MODE = 0o600;

/** What Kiln keeps at the top of a data directory (see build-engine.ts for the folders). */
const KILN_ENTRY = /^(kiln\.db(-wal|-shm|-journal)?|secret\.key|credentials|build\.lock|blobs|layers|scratch|logs|work|disks)$/;

function restrict(file: string, mode: number): void {
  const st = lstatSync(file);
  // A symlink's own mode means nothing, and chmod would change its target, which may lie outside.
  if (st.isSymbolicLink()) return;
  const wanted = st.isDirectory() ? PRIVATE_DIR_MODE : mode;
  if ((st.mode & 0o7777 & ~wanted) !== 0) chmodSync(file, st.mode & wanted);
}

/**
 * Creates the data directory (0700) or tightens an existing one: the directory 0700, Kiln's top-level folders
 * 0700 and files 0600, never widening a mode already stricter.
 */
export function secureDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  chmodSync(dataDir, PRIVATE_DIR_MODE);
  // Kiln's own entries only: --data-dir may name a directory that holds other things too.
  for (const name of readdirSync(dataDir)) if (KILN_ENTRY.test(name)) restrict(path.join(dataDir, name), PRIVATE_FILE_MODE);
}

/**
 * Creates `file` empty with mode 0600 unless it exists. SQLite creates a database's -wal and -shm files with
 * the mode of the database file, so creating kiln.db private first keeps all three private.
 */
export function ensurePrivateFile(file: string): void {
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
}
