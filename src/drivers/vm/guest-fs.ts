/**
 * InstanceFs inside a VM: metadata operations run coreutils in the guest through the agent, contents move with
 * guest-file-*. Failures carry node:fs-style errno codes, read from the guest tool's strerror text.
 */
import type { FileStat, InstanceFs } from '../../toe/instance/instance.js';
import { GuestAgentCommandError, type GuestAgent } from './guest-agent.js';

/** What a guest command left behind; `code` null when it was killed. */
export interface GuestRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `/bin/sh -c script sh ...args` in the guest with a default PATH. */
export type GuestShell = (script: string, args: string[]) => Promise<GuestRun>;

/** strerror texts (glibc, as coreutils and qemu-ga print them) → errno codes. */
const ERRNO_TEXT: [RegExp, string][] = [
  [/No such file or directory/, 'ENOENT'],
  [/File exists/, 'EEXIST'],
  [/Not a directory|cannot overwrite non-directory .* with directory/, 'ENOTDIR'],
  [/Is a directory|cannot overwrite directory .* with non-directory/, 'EISDIR'],
  [/Directory not empty/, 'ENOTEMPTY'],
  [/Permission denied/, 'EACCES'],
  [/Operation not permitted/, 'EPERM'],
  [/Too many levels of symbolic links/, 'ELOOP'],
  [/No space left on device/, 'ENOSPC'],
  [/Read-only file system/, 'EROFS'],
  [/Invalid argument|to a subdirectory of itself/, 'EINVAL'],
  [/Device or resource busy/, 'EBUSY'],
];

export function errnoFromText(text: string): string {
  return ERRNO_TEXT.find(([re]) => re.test(text))?.[1] ?? 'EIO';
}

export function errnoError(code: string, op: string, path: string, detail: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${op} '${path}'${detail ? `: ${detail.trim()}` : ''}`), { code, syscall: op, path });
}

/** An agent failure of a file command as an errno error; other failures (agent gone, timeout) pass unchanged. */
export function fileError(err: unknown, op: string, path: string): Error {
  if (err instanceof GuestAgentCommandError) return errnoError(errnoFromText(err.desc), op, path, err.desc);
  return err as Error;
}

function typeOf(mode: number): FileStat['type'] {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'directory';
    case 0o120000:
      return 'symlink';
    default:
      return 'other';
  }
}

const READDIR = `if [ -d "$1" ]; then exec ls -A --zero -- "$1"; elif [ -e "$1" ] || [ -L "$1" ]; then echo "$1: Not a directory" >&2; else echo "$1: No such file or directory" >&2; fi; exit 1`;
const COPY_NO_OVERWRITE = `if { [ -e "$2" ] || [ -L "$2" ]; } && ! [ -d "$2" ]; then echo "'$2': File exists" >&2; exit 1; fi; exec cp -aTn -- "$1" "$2"`;

/**
 * The guest's filesystem as InstanceFs; `shell` runs commands, the agent (asked for each call: a restarted VM
 * has a new one) carries file contents.
 */
export function guestFs(shell: GuestShell, currentAgent: () => GuestAgent): InstanceFs {
  const run = async (op: string, path: string, script: string, args: string[]): Promise<Buffer> => {
    const r = await shell(script, args);
    if (r.code !== 0) throw errnoError(errnoFromText(r.stderr), op, path, r.stderr);
    return r.stdout;
  };
  const statWith = async (flags: string[], op: string, path: string): Promise<FileStat | null> => {
    const r = await shell('exec stat "$@"', [...flags, '-c', '%f %s %u %g', '--', path]);
    if (r.code !== 0) {
      const code = errnoFromText(r.stderr);
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw errnoError(code, op, path, r.stderr);
    }
    const [rawMode, size, uid, gid] = r.stdout.toString('utf8').trim().split(' ');
    const mode = parseInt(rawMode ?? '', 16);
    return { type: typeOf(mode), size: Number(size), mode: mode & 0o7777, uid: Number(uid), gid: Number(gid) };
  };
  const write = async (op: string, path: string, data: Buffer | string, mode: 'w' | 'a') => {
    try {
      await currentAgent().writeFile(path, Buffer.from(data), mode);
    } catch (err) {
      throw fileError(err, op, path);
    }
  };
  const self: InstanceFs = {
    lstat: (p) => statWith([], 'lstat', p),
    stat: (p) => statWith(['-L'], 'stat', p),
    readFile: async (p) => {
      try {
        return await currentAgent().readFile(p);
      } catch (err) {
        throw fileError(err, 'open', p);
      }
    },
    writeFile: async (p, data, options) => {
      await write('open', p, data, 'w');
      if (options?.mode !== undefined) await self.chmod(p, options.mode);
    },
    appendFile: (p, data) => write('open', p, data, 'a'),
    mkdir: async (p, options) => {
      await run('mkdir', p, 'exec mkdir "$@"', [...(options?.recursive ? ['-p'] : []), '--', p]);
      if (options?.mode !== undefined) await self.chmod(p, options.mode);
    },
    readdir: async (p) => {
      const out = (await run('scandir', p, READDIR, [p])).toString('utf8');
      return out.split('\0').filter((n) => n !== '');
    },
    rm: async (p, options) => {
      await run('rm', p, 'exec rm "$@"', [...(options?.recursive ? ['-r'] : []), ...(options?.force ? ['-f'] : []), '--', p]);
    },
    rename: async (a, b) => {
      await run('rename', a, 'exec mv -T -- "$1" "$2"', [a, b]);
    },
    copy: async (a, b, options) => {
      await run('cp', a, options?.overwrite === false ? COPY_NO_OVERWRITE : 'exec cp -aT -- "$1" "$2"', [a, b]);
    },
    symlink: async (target, p) => {
      await run('symlink', p, 'exec ln -sT -- "$1" "$2"', [target, p]);
    },
    chmod: async (p, mode) => {
      await run('chmod', p, 'exec chmod "$@"', [(mode & 0o7777).toString(8), '--', p]);
    },
    realpath: async (p) => (await run('realpath', p, 'exec realpath -e -- "$1"', [p])).toString('utf8').replace(/\n$/, ''),
  };
  return self;
}
