/**
 * Executes a rendered Dockerfile against a build Instance without a Docker engine, and accumulates the image
 * config and history as BuildKit would write them, so `docker inspect` of Kiln's image reads like Docker's.
 *
 * The caller launched the instance from the parent image already; FROM only names that parent. Filesystem
 * changes happen in the instance, and the caller snapshots them afterwards, so layers are the caller's business:
 * `history` says which instructions Docker would have given a layer (empty_layer false), and a writer that makes
 * fewer layers must merge those entries to keep the OCI rule (one non-empty history entry per layer).
 *
 * This module runs the instructions in order and turns what they throw into errors naming the line; the
 * instructions themselves are in dockerfile-config-instructions.ts, dockerfile-run.ts and dockerfile-files.ts.
 */
import { KilnError } from '../../domain/errors.js';
import { parseDockerfile, type DockerfileInstruction } from './dockerfile-parse.js';
import { WordError } from './dockerfile-words.js';
import { sortedConfig, type HistoryEntry, type ImageConfig } from './dockerfile-image-config.js';
import { DockerfileStepError, isDockerfileStepError, summarise } from './dockerfile-step-error.js';
import { DockerfileState, invalid, parseInstruction, type DockerfileExecOptions, type InstructionHandler } from './dockerfile-state.js';
import { CONFIG_INSTRUCTIONS } from './dockerfile-config-instructions.js';
import { RUN_INSTRUCTIONS } from './dockerfile-run.js';
import { FILE_INSTRUCTIONS } from './dockerfile-files.js';

export type { HealthcheckConfig, HistoryEntry, ImageConfig } from './dockerfile-image-config.js';
export { DEFAULT_PATH, HISTORY_COMMENT } from './dockerfile-image-config.js';
export type { ContextEntry } from './dockerfile-context.js';
export type { ComponentsRunInfo, DockerfileExecOptions, DockerfileUnits } from './dockerfile-state.js';
export { DockerfileStepError, isDockerfileStepError } from './dockerfile-step-error.js';
export { resolveUser, setprivArgs, type ResolvedUser } from './dockerfile-users.js';

export interface DockerfileExecResult {
  config: ImageConfig;
  history: HistoryEntry[];
  /** The parent reference FROM named, after ARG expansion. */
  from: string;
}

/** The instructions that change files, each a unit of its own when the build is cut into units. */
const UNIT_INSTRUCTIONS = new Set(['RUN', 'COPY', 'ADD', 'WORKDIR']);

const HANDLERS: Readonly<Record<string, InstructionHandler>> = { ...CONFIG_INSTRUCTIONS, ...RUN_INSTRUCTIONS, ...FILE_INSTRUCTIONS };

/** Executes the Dockerfile; throws KilnError (InvalidArgument, Cancelled) or DockerfileStepError, naming the line. */
export async function executeDockerfile(options: DockerfileExecOptions): Promise<DockerfileExecResult> {
  const parsed = parseDockerfile(options.dockerfile);
  if (parsed.issues.length > 0) {
    throw new KilnError('InvalidArgument', parsed.issues.map((i) => `line ${i.line}: ${i.message}`).join('\n'));
  }
  const state = new DockerfileState(options);
  state.escape = parsed.escape;
  // The lines since the previous unit: what a unit's result depends on besides the units before it.
  let pending: string[] = [];
  for (const instruction of parsed.instructions) {
    if (options.signal?.aborted) throw new KilnError('Cancelled', `the build was cancelled before line ${instruction.line}`);
    pending.push(instruction.text);
    try {
      const keyword = instruction.text.split(/\s+/, 1)[0]!.toUpperCase();
      if (options.units && UNIT_INSTRUCTIONS.has(keyword)) {
        const before = state.history.length;
        const kept = await options.units.run(pending, `line ${instruction.line}: ${summarise(instruction.text)}`, async (instance) => {
          state.current = instance;
          try {
            await dispatch(state, instruction);
          } finally {
            state.current = undefined;
          }
          return state.history.splice(before);
        });
        state.history.push(...kept);
        pending = [];
      } else {
        await dispatch(state, instruction);
      }
    } catch (err) {
      if (isDockerfileStepError(err) || (err as { kind?: string }).kind === 'Cancelled') throw err;
      if (options.signal?.aborted) throw new KilnError('Cancelled', `the build was cancelled at line ${instruction.line}`);
      const keyword = instruction.text.split(/\s+/, 1)[0]!.toUpperCase();
      const message = `line ${instruction.line}: ${keyword}: ${(err as Error).message}`;
      if (err instanceof WordError || (err as { kind?: string }).kind === 'InvalidArgument') throw new KilnError('InvalidArgument', message);
      throw new DockerfileStepError(message, instruction.line, instruction.text);
    }
  }
  if (state.from === undefined) throw new KilnError('InvalidArgument', 'the Dockerfile has no FROM instruction');
  return { config: sortedConfig(state.config), history: state.history, from: state.from };
}

async function dispatch(state: DockerfileState, instruction: DockerfileInstruction): Promise<void> {
  const p = parseInstruction(instruction);
  if (p.keyword !== 'ARG' && p.keyword !== 'FROM' && state.from === undefined) throw invalid(`${p.keyword} must come after FROM`);
  const handler = Object.hasOwn(HANDLERS, p.keyword) ? HANDLERS[p.keyword] : undefined;
  if (!handler) throw invalid('unsupported instruction');
  await handler(state, p, instruction);
}
