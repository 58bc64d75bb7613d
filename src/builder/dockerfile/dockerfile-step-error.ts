/** How an instruction that failed while it ran is reported: the line, the instruction and its output's tail. */

const TAIL_LINES = 30;
/** The most characters of output an error keeps. */
export const TAIL_CHARS = 4000;

/** An instruction failed while it ran: a command's exit code, or a file it could not place. */
export class DockerfileStepError extends Error {
  override readonly name = 'DockerfileStepError';
  constructor(
    message: string,
    readonly line: number,
    readonly instruction: string,
    readonly exitCode?: number | null,
    readonly outputTail?: string,
  ) {
    super(message);
  }
}

/** Name-based guard, as for KilnError: errors may cross realms. */
export function isDockerfileStepError(err: unknown): err is DockerfileStepError {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'DockerfileStepError';
}

/** The last lines of a command's output, short enough for an error message. */
export function tailOf(output: string): string {
  const lines = output.replace(/\s+$/, '').split('\n');
  return lines.slice(-TAIL_LINES).join('\n').slice(-TAIL_CHARS);
}

/** An instruction's arguments, cut to fit in an error message. */
export function summarise(text: string): string {
  const rest = text.replace(/^\S+\s*/, '');
  return rest.length > 80 ? `${rest.slice(0, 77)}...` : rest;
}
