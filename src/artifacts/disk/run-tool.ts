/**
 * Runs one host tool to completion for the disk code: argv only (no shell), stderr kept for the error,
 * the process killed when the signal aborts.
 */
import { spawn } from 'node:child_process';
import { KilnError } from '../../domain/errors.js';

export interface ToolOptions {
  signal?: AbortSignal;
  /** Written to the tool's stdin, then closed. */
  input?: string;
}

/** Resolves with stdout when `cmd` exits 0. Rejects with Unavailable (tool missing), Cancelled or Internal. */
export function runTool(cmd: string, args: readonly string[], options: ToolOptions = {}): Promise<string> {
  const { signal, input } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new KilnError('Cancelled', `${cmd}: cancelled before start`));
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    const onAbort = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    if (input !== undefined) child.stdin?.end(input);
    child.on('error', (err: NodeJS.ErrnoException) => {
      signal?.removeEventListener('abort', onAbort);
      reject(err.code === 'ENOENT' ? new KilnError('Unavailable', `${cmd} is not installed`) : err);
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) reject(new KilnError('Cancelled', `${cmd}: cancelled`));
      else if (code === 0) resolve(stdout);
      else reject(new KilnError('Internal', `${cmd} ${args.join(' ')} failed (${sig ?? `exit ${code}`}): ${stderr.trim() || stdout.trim().slice(-2000)}`));
    });
  });
}
