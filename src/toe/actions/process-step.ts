import { ActionFailure, type ActionContext, type ActionResult } from './types.js';
import type { ExecResult } from '../instance/instance.js';

/** Linux exit code with which a script asks for a reboot and to be run again afterwards. */
export const REBOOT_EXIT_CODE = 194;
const TAIL_LINES = 20;

function tail(text: string): string {
  const lines = text.trimEnd().split('\n');
  return lines.slice(-TAIL_LINES).join('\n');
}

/** Runs a process for ExecuteBash / ExecuteBinary and turns its end into outputs, a reboot request or a failure. */
export async function runProcessStep(argv: string[], context: ActionContext, what: string): Promise<ActionResult> {
  const result: ExecResult = await context.instance.exec(argv, {
    cwd: context.workDir,
    timeoutMs: context.timeoutMs,
    signal: context.signal,
    onStdout: (c) => context.log.stdout(c),
    onStderr: (c) => context.log.stderr(c),
  });
  const stdout = result.stdout.replace(/\n$/, '');
  // The instance's own reason (out of memory, disk full) explains a failure better than the exit code it caused.
  if (result.instanceFault !== undefined && !result.timedOut && !result.aborted) {
    const err = tail(result.stderr);
    throw new ActionFailure(`${what} failed: ${result.instanceFault}${err ? `; stderr:\n${err}` : ''}`);
  }
  if (result.spawnError !== undefined) throw new ActionFailure(`${what} could not start: ${result.spawnError}`);
  if (result.timedOut) throw new ActionFailure(`${what} timed out after ${Math.round((context.timeoutMs ?? 0) / 1000)} seconds; its processes were killed`);
  if (result.aborted) throw new ActionFailure(`${what} was cancelled`);
  if (result.exitCode === REBOOT_EXIT_CODE) return { outputs: { stdout }, rebootRequested: true };
  if (result.exitCode !== 0) {
    const how = result.exitCode === null ? `was killed by ${result.signal ?? 'a signal'}` : `exited with code ${result.exitCode}`;
    const err = tail(result.stderr);
    throw new ActionFailure(`${what} ${how}${err ? `; stderr:\n${err}` : ''}`);
  }
  return { outputs: { stdout } };
}
