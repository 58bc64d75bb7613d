import type { TestContext } from 'node:test';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { scratchDir } from './action-context.js';

const kiln = resolve('bin/kiln');

/** A running `kiln logs` process. */
export interface Running {
  output(): string;
  errors(): string;
  /** Resolves once stdout matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

/** `kiln logs …` with an environment free of the caller's AWS settings (HOME too), killed after the test. */
export async function kilnLogs(t: TestContext, args: string[], env: Record<string, string> = {}): Promise<Running> {
  const home = await scratchDir(t, 'kiln-logs-home-');
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && k !== 'KILN_DATA_DIR'));
  const child = spawn('node', [kiln, 'logs', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...clean, HOME: home, ...env } });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout.on('data', (c: Buffer) => {
    out += String(c);
    for (const w of [...waiters]) if (w.pattern.test(out)) w.resolve();
  });
  child.stderr.on('data', (c: Buffer) => (err += String(c)));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return {
    output: () => out,
    errors: () => err,
    exited,
    waitFor: (pattern, timeoutMs = 20_000) =>
      new Promise<void>((res, rej) => {
        if (pattern.test(out)) return res();
        const timer = setTimeout(() => rej(new Error(`timed out waiting for ${pattern}; stdout:\n${out}\nstderr:\n${err}`)), timeoutMs);
        waiters.push({
          pattern,
          resolve: () => {
            clearTimeout(timer);
            res();
          },
        });
        void exited.then(() => {
          if (!pattern.test(out)) rej(new Error(`kiln logs exited before ${pattern}; stdout:\n${out}\nstderr:\n${err}`));
        });
      }),
  };
}

