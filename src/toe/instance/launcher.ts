import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import type { ExecOptions, ExecResult } from './instance.js';
import { killTree } from './process-tree.js';

/**
 * A long-lived bash that starts processes on request. Forking a small bash costs a fraction of what forking this
 * Node process costs, and a step of a component is one short process more often than not, so the runner's
 * per-step overhead is mostly this fork. Requests are NUL-separated on its stdin (nonce, cwd, envc, NAME=value…,
 * argc, argv…); it reports `S nonce pid` and `E nonce code` on fd 3, and ends each process's output on stdout and
 * stderr with the sentinel `\0KILN:nonce\0`, after which the bytes belong to no process. Output from a process's
 * background children that outlive it is dropped or attributed to a later process, as with any shared terminal.
 * Exported so that sandboxes (drivers/ns) can run the same loop inside their namespaces with their own bash.
 *
 * With `1` as its first argument it waits, after reporting a process's pid, for `go` (or anything else: do not
 * start) on its stdin before that process runs anything, so that a sandbox can put it in a cgroup of its own
 * first. A process never keeps the request pipe or fd 3, and asks to be the OOM killer's first choice, so a
 * step that runs out of memory dies rather than the launcher.
 */
export const LAUNCHER_SCRIPT = String.raw`
handshake=${"$"}{1:-0}
# The processes' stderr is fd 5; bash's own notices (a "Killed" line for a killed step) go nowhere.
exec 5>&2 2>/dev/null
while IFS= read -r -d '' nonce && IFS= read -r -d '' cwd && IFS= read -r -d '' envc; do
  envs=()
  for ((i = 0; i < envc; i++)); do IFS= read -r -d '' a; envs+=("$a"); done
  IFS= read -r -d '' argc
  args=()
  for ((i = 0; i < argc; i++)); do IFS= read -r -d '' a; args+=("$a"); done
  (
    exec 2>&5 5>&-
    printf 'S %s %s\n' "$nonce" "$BASHPID" >&3
    if [ "$handshake" = 1 ]; then IFS= read -r -d '' go && [ "$go" = go ] || exit 125; fi
    exec </dev/null 3>&-
    echo 1000 2>/dev/null > /proc/self/oom_score_adj || true
    for kv in "${"$"}{envs[@]}"; do export -- "$kv" || exit 125; done
    cd -- "$cwd" && exec -- "${"$"}{args[@]}"
  )
  code=$?
  printf '\0KILN:%s\0' "$nonce"
  printf '\0KILN:%s\0' "$nonce" >&5
  printf 'E %s %s\n' "$nonce" "$code" >&3
done
`;

interface Pending {
  nonce: string;
  sentinel: Buffer;
  options: ExecOptions;
  stdout: Buffer[];
  stderr: Buffer[];
  tails: { out: Buffer; err: Buffer };
  done: { out: boolean; err: boolean; code: number | undefined };
  pid: number | undefined;
  timedOut: boolean;
  aborted: boolean;
  /** Why beforeStart refused to let the process run. */
  startError: string | undefined;
  /**
   * Whether the process runs its own code: only then may it be killed. One still waiting for the handshake is
   * told to stop instead, since killing it would leave its `go` in the pipe for the loop to misread.
   */
  started: boolean;
  resolve: (r: ExecResult) => void;
}

/** Where and how a launcher runs; the defaults start a bash on this host. */
export interface LauncherOptions {
  /** Starts the bash running LAUNCHER_SCRIPT with stdio pipes 0-3; called again after the launcher died. */
  spawn?: () => ChildProcess;
  /** Kills a process tree by the pid the launcher reported (a sandbox translates its pid namespace). */
  killTree?: (pid: number) => void;
  /** The working directory of a request without `cwd`; default this process's. */
  defaultCwd?: () => string;
  /**
   * Called with a process's pid before it runs anything; the launcher must have been started with the
   * handshake argument (see LAUNCHER_SCRIPT). A rejection stops the process before it starts: its result
   * carries the error as spawnError.
   */
  beforeStart?: (pid: number) => Promise<void>;
}

/** Starts processes through a bash launcher; one at a time. `busy` tells callers to spawn directly instead. */
export class Launcher {
  private child: ChildProcess | undefined;
  private current: Pending | undefined;
  private control = '';
  private readonly spawnLauncher: () => ChildProcess;
  private readonly killTree: (pid: number) => void;
  private readonly defaultCwd: () => string;
  private readonly beforeStart: ((pid: number) => Promise<void>) | undefined;

  constructor(options: LauncherOptions = {}) {
    this.spawnLauncher = options.spawn ?? (() => spawn('bash', ['--norc', '--noprofile', '-c', LAUNCHER_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] }));
    this.killTree = options.killTree ?? killTree;
    this.defaultCwd = options.defaultCwd ?? (() => process.cwd());
    this.beforeStart = options.beforeStart;
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  private start(): ChildProcess {
    const child = this.spawnLauncher();
    child.stdout!.on('data', (c: Buffer) => this.output('out', c));
    child.stderr!.on('data', (c: Buffer) => this.output('err', c));
    (child.stdio[3] as Readable).on('data', (c: Buffer) => this.onControl(c));
    child.on('exit', () => this.died(child));
    child.on('error', () => this.died(child));
    this.child = child;
    this.setRef(false);
    return child;
  }

  /** Keeps the event loop alive only while a process runs, so an idle launcher never holds the program open. */
  private setRef(on: boolean): void {
    const c = this.child;
    if (!c) return;
    for (const s of [c.stdin, c.stdout, c.stderr, c.stdio[3]] as ({ ref?: () => void; unref?: () => void } | null)[]) {
      if (on) s?.ref?.();
      else s?.unref?.();
    }
    if (on) c.ref();
    else c.unref();
  }

  exec(argv: string[], options: ExecOptions): Promise<ExecResult> {
    const child = this.child ?? this.start();
    const nonce = randomBytes(12).toString('hex');
    return new Promise((resolve) => {
      const p: Pending = {
        nonce,
        sentinel: Buffer.from(`\0KILN:${nonce}\0`),
        options,
        stdout: [],
        stderr: [],
        tails: { out: Buffer.alloc(0), err: Buffer.alloc(0) },
        done: { out: false, err: false, code: undefined },
        pid: undefined,
        timedOut: false,
        aborted: false,
        startError: undefined,
        started: false,
        resolve,
      };
      this.current = p;
      this.setRef(true);
      let timer: NodeJS.Timeout | undefined;
      const kill = () => {
        if (p.pid !== undefined && p.started) this.killTree(p.pid);
      };
      const onAbort = () => {
        p.aborted = true;
        kill();
      };
      if (options.timeoutMs !== undefined && options.timeoutMs > 0) {
        timer = setTimeout(() => {
          p.timedOut = true;
          kill();
        }, options.timeoutMs);
      }
      if (options.signal) {
        if (options.signal.aborted) p.aborted = true;
        else options.signal.addEventListener('abort', onAbort, { once: true });
      }
      p.resolve = (r) => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const env = Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`);
      const fields = [nonce, options.cwd ?? this.defaultCwd(), String(env.length), ...env, String(argv.length), ...argv];
      (child.stdin as Writable).write(Buffer.from(`${fields.join('\0')}\0`));
    });
  }

  /** Passes a process's output on as it arrives, holding back just enough bytes to spot the sentinel. */
  private output(which: 'out' | 'err', chunk: Buffer): void {
    const p = this.current;
    if (!p || p.done[which]) return;
    const buf = Buffer.concat([p.tails[which], chunk]);
    const at = buf.indexOf(p.sentinel);
    // Without the sentinel, hold back only what may be its beginning: the tail from a NUL in its last bytes.
    const window = Math.max(0, buf.length - (p.sentinel.length - 1));
    const nul = buf.indexOf(0, window);
    const end = at >= 0 ? at : nul >= 0 ? nul : buf.length;
    const data = buf.subarray(0, end);
    p.tails[which] = at >= 0 ? Buffer.alloc(0) : Buffer.from(buf.subarray(end));
    if (data.length > 0) {
      (which === 'out' ? p.stdout : p.stderr).push(Buffer.from(data));
      (which === 'out' ? p.options.onStdout : p.options.onStderr)?.(Buffer.from(data));
    }
    if (at >= 0) {
      p.done[which] = true;
      this.settle();
    }
  }

  private onControl(chunk: Buffer): void {
    this.control += chunk.toString('utf8');
    let nl: number;
    while ((nl = this.control.indexOf('\n')) >= 0) {
      const [kind, nonce, value] = this.control.slice(0, nl).split(' ');
      this.control = this.control.slice(nl + 1);
      const p = this.current;
      if (!p || nonce !== p.nonce) continue;
      if (kind === 'S') {
        p.pid = Number(value);
        if (this.beforeStart) {
          this.release(p, this.beforeStart);
        } else {
          p.started = true;
          if (p.aborted || p.options.signal?.aborted) this.killTree(p.pid);
        }
      } else if (kind === 'E') {
        p.done.code = Number(value);
        this.settle();
      }
    }
  }

  /** Lets a process that waits for the handshake run once beforeStart is done, or stops it if it failed. */
  private release(p: Pending, beforeStart: (pid: number) => Promise<void>): void {
    const pid = p.pid!;
    beforeStart(pid).then(
      () => {
        if (p.aborted || p.timedOut || p.options.signal?.aborted) {
          p.aborted ||= p.options.signal?.aborted === true;
          this.child?.stdin?.write('stop\0');
          return;
        }
        p.started = true;
        this.child?.stdin?.write('go\0');
      },
      (err: unknown) => {
        p.startError = err instanceof Error ? err.message : String(err);
        this.child?.stdin?.write('stop\0');
      },
    );
  }

  private settle(): void {
    const p = this.current;
    if (!p || !p.done.out || !p.done.err || p.done.code === undefined) return;
    this.current = undefined;
    this.setRef(false);
    const code = p.done.code;
    // bash reports death by signal N as 128+N; SIGKILL after a timeout or abort is the common case.
    const killed = code > 128 && (p.timedOut || p.aborted);
    p.resolve({
      exitCode: killed ? null : code,
      signal: killed ? signalName(code - 128) : null,
      stdout: Buffer.concat(p.stdout).toString('utf8'),
      stderr: Buffer.concat(p.stderr).toString('utf8'),
      timedOut: p.timedOut,
      aborted: p.aborted,
      ...(p.startError !== undefined ? { spawnError: p.startError } : {}),
    });
  }

  private died(child: ChildProcess): void {
    if (this.child !== child) return;
    this.child = undefined;
    const p = this.current;
    this.current = undefined;
    if (p) {
      if (p.pid !== undefined) this.killTree(p.pid);
      p.resolve({
        exitCode: null,
        signal: null,
        stdout: Buffer.concat(p.stdout).toString('utf8'),
        stderr: Buffer.concat(p.stderr).toString('utf8'),
        timedOut: p.timedOut,
        aborted: p.aborted,
        spawnError: 'the process launcher exited unexpectedly',
      });
    }
  }

  /** Stops the launcher; idempotent. A running process is killed with its tree. */
  dispose(): void {
    const child = this.child;
    this.child = undefined;
    if (this.current?.pid !== undefined) this.killTree(this.current.pid);
    child?.stdin?.end();
    child?.kill('SIGKILL');
  }
}

function signalName(n: number): string {
  return n === 9 ? 'SIGKILL' : n === 15 ? 'SIGTERM' : `signal ${n}`;
}
