/**
 * The Instance contract: what the AWSTOE runner needs from the machine it configures. The same runner drives
 * this host (LocalInstance), a namespace sandbox or a VM; only these operations cross that boundary.
 */

export interface ExecOptions {
  /** Extra environment variables, merged over the instance's default environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Kill the whole process tree after this many milliseconds; undefined or <= 0 means no limit. */
  timeoutMs?: number;
  /** Live output, called as chunks arrive. */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Aborting kills the whole process tree, like a timeout. */
  signal?: AbortSignal;
}

export interface ExecResult {
  /** null when the process was killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  aborted: boolean;
  /** Process could not be started (e.g. ENOENT); exitCode is then null. */
  spawnError?: string;
  /**
   * Why the instance itself failed the process, in words for a failure reason: it ran out of memory, its disk is
   * full. Absent when the process failed on its own.
   */
  instanceFault?: string;
}

export interface FileStat {
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  mode: number;
  uid: number;
  gid: number;
}

/**
 * File operations inside the instance, with the semantics of node:fs/promises on absolute paths as the
 * instance sees them. Failures throw errors carrying the errno `code` (ENOENT, EEXIST, ...).
 */
export interface InstanceFs {
  /** lstat: does not follow a final symlink; null when the path does not exist. */
  lstat(path: string): Promise<FileStat | null>;
  /** stat: follows symlinks; null when the path (or its target) does not exist. */
  stat(path: string): Promise<FileStat | null>;
  readFile(path: string): Promise<Buffer>;
  writeFile(path: string, data: Buffer | string, options?: { mode?: number }): Promise<void>;
  appendFile(path: string, data: Buffer | string): Promise<void>;
  mkdir(path: string, options?: { recursive?: boolean; mode?: number }): Promise<void>;
  readdir(path: string): Promise<string[]>;
  rm(path: string, options?: { recursive?: boolean; force?: boolean }): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Recursive copy keeping modes and symlinks (cp -a semantics). */
  copy(from: string, to: string, options?: { overwrite?: boolean }): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  realpath(path: string): Promise<string>;
}

export interface Instance {
  /** A short label for logs, e.g. "local" or "ns:i-0abc". */
  readonly id: string;
  readonly platform: 'linux' | 'windows' | 'macos';
  /**
   * Whether reboot() really restarts the machine (and this process with it). When false, a step that asks for
   * a reboot is re-run after a simulated reboot.
   */
  readonly canReboot: boolean;
  readonly fs: InstanceFs;
  /** Runs argv[0] with its arguments as root inside the instance, in its own process group. */
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
  putFile(path: string, data: Buffer | string, mode?: number): Promise<void>;
  getFile(path: string): Promise<Buffer>;
  /** Restarts the instance. Only called when canReboot is true. */
  reboot(signal?: AbortSignal): Promise<void>;
  /** Releases what the instance holds; idempotent. */
  dispose?(): Promise<void>;
}
