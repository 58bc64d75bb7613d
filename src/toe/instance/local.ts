import { spawn } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { chmodSync, writeFileSync, type Stats } from 'node:fs';
import type { ExecOptions, ExecResult, FileStat, Instance, InstanceFs } from './instance.js';
import { Launcher } from './launcher.js';
import { killTree } from './process-tree.js';

/** Files up to this size are written synchronously by putFile. */
const SYNC_WRITE_LIMIT = 64 * 1024;
/** How long to keep reading after the main process exits, for output still in the pipes. */
const DRAIN_MS = 100;

function toStat(s: Stats): FileStat {
  const type = s.isSymbolicLink() ? 'symlink' : s.isDirectory() ? 'directory' : s.isFile() ? 'file' : 'other';
  return { type, size: s.size, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid };
}

async function statOrNull(fn: () => Promise<Stats>): Promise<FileStat | null> {
  try {
    return toStat(await fn());
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      return null;
    }
    throw err;
  }
}

const localFs: InstanceFs = {
  lstat: (p) => statOrNull(() => fsp.lstat(p)),
  stat: (p) => statOrNull(() => fsp.stat(p)),
  readFile: (p) => fsp.readFile(p),
  writeFile: async (p, data, options) => {
    await fsp.writeFile(p, data, options?.mode === undefined ? undefined : { mode: options.mode });
    // writeFile's mode applies only when it creates the file, and is filtered by the umask.
    if (options?.mode !== undefined) await fsp.chmod(p, options.mode);
  },
  appendFile: (p, data) => fsp.appendFile(p, data),
  mkdir: async (p, options) => {
    await fsp.mkdir(p, { recursive: options?.recursive ?? false });
    if (options?.mode !== undefined) await fsp.chmod(p, options.mode);
  },
  readdir: (p) => fsp.readdir(p),
  rm: (p, options) => fsp.rm(p, { recursive: options?.recursive ?? false, force: options?.force ?? false }),
  rename: (a, b) => fsp.rename(a, b),
  copy: (a, b, options) =>
    fsp.cp(a, b, {
      recursive: true,
      force: options?.overwrite ?? true,
      errorOnExist: options?.overwrite === false,
      preserveTimestamps: true,
      verbatimSymlinks: true,
    }),
  symlink: (target, p) => fsp.symlink(target, p),
  chmod: (p, mode) => fsp.chmod(p, mode),
  realpath: (p) => fsp.realpath(p),
};

/** Runs argv as a child process in its own process group, killing the whole tree on timeout or abort. */
export function execLocal(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new TypeError('execLocal: empty argv');
  return new Promise((resolve) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    let aborted = false;
    let settled = false;
    let exit: { code: number | null; signal: string | null } | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let timeoutTimer: NodeJS.Timeout | undefined;

    const child = spawn(file, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });

    const finish = (spawnError?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(drainTimer);
      clearTimeout(timeoutTimer);
      options.signal?.removeEventListener('abort', onAbort);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        timedOut,
        aborted,
        ...(spawnError === undefined ? {} : { spawnError }),
      });
    };
    const kill = () => {
      if (child.pid !== undefined) killTree(child.pid);
    };
    const onAbort = () => {
      aborted = true;
      kill();
    };

    child.stdout.on('data', (c: Buffer) => {
      stdout.push(c);
      options.onStdout?.(c);
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr.push(c);
      options.onStderr?.(c);
    });
    child.on('error', (err) => {
      exit ??= { code: null, signal: null };
      finish(err.message);
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // A background process may hold the pipes open forever; stop reading shortly after the main one exits.
      drainTimer = setTimeout(() => {
        if (child.pid !== undefined && (timedOut || aborted)) killTree(child.pid);
        finish();
      }, DRAIN_MS);
    });
    child.on('close', () => finish());

    if (options.timeoutMs !== undefined && options.timeoutMs > 0) {
      timeoutTimer = setTimeout(() => {
        timedOut = true;
        kill();
      }, options.timeoutMs);
    }
    if (options.signal) {
      if (options.signal.aborted) onAbort();
      else options.signal.addEventListener('abort', onAbort, { once: true });
    }
  });
}

/** This machine as the instance, as awstoe runs on the EC2 instance it configures. */
export class LocalInstance implements Instance {
  readonly id = 'local';
  readonly platform = 'linux' as const;
  readonly canReboot = false;
  readonly fs = localFs;
  private readonly launcher = new Launcher();

  /** Starts processes through a bash launcher (cheaper than forking Node); spawns directly when it is busy. */
  exec(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (options.env !== undefined || this.launcher.busy) return execLocal(argv, options);
    return this.launcher.exec(argv, options);
  }

  dispose(): Promise<void> {
    this.launcher.dispose();
    return Promise.resolve();
  }

  putFile(path: string, data: Buffer | string, mode?: number): Promise<void> {
    // Small files (step scripts) are written synchronously: a thread-pool round trip per call costs more than the
    // write, and every ExecuteBash step writes one. Large files keep the event loop free.
    if (data.length > SYNC_WRITE_LIMIT) return localFs.writeFile(path, data, mode === undefined ? undefined : { mode });
    try {
      writeFileSync(path, data, mode === undefined ? undefined : { mode });
      if (mode !== undefined) chmodSync(path, mode);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  getFile(path: string): Promise<Buffer> {
    return fsp.readFile(path);
  }

  reboot(): Promise<void> {
    return Promise.reject(new Error('the local instance cannot reboot; the runner simulates the reboot'));
  }
}
