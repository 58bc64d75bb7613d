/**
 * The instructions that run commands in the build instance: RUN (shell or exec form, here-documents) and the
 * components marker, where the recipe's components run. Each runs with the ENV, ARGs, WORKDIR and USER in
 * effect and makes a layer.
 */
import { KilnError } from '../../domain/errors.js';
import type { ExecResult } from '../../toe/instance/instance.js';
import { utf8Chunks } from '../../logs/utf8-chunks.js';
import type { DockerfileInstruction } from './dockerfile-parse.js';
import type { HistoryEntry } from './dockerfile-image-config.js';
import { COMPONENTS_MARKER } from './dockerfile-render.js';
import { DockerfileStepError, TAIL_CHARS, summarise, tailOf } from './dockerfile-step-error.js';
import { isRoot, setprivArgs } from './dockerfile-users.js';
import { invalid, jsonForm, refuseFlags, type DockerfileState, type InstructionHandler, type Parsed } from './dockerfile-state.js';

/** BuildKit's RUN history: `RUN |2 A=1 B=2 /bin/sh -c … # buildkit`. */
function runCreatedBy(s: DockerfileState, argv: string[]): string {
  const env = s.envMap();
  const parts = s.args.map((a) => `${a.key}=${env.get(a.key) ?? a.value ?? ''}`);
  const prefix = parts.length > 0 ? [`|${parts.length}`, ...parts] : [];
  return `RUN ${[...prefix, ...argv].join(' ')} # buildkit`;
}

async function doRun(s: DockerfileState, p: Parsed, instruction: DockerfileInstruction): Promise<void> {
  refuseFlags(p, []);
  if (p.rest === '') throw invalid('RUN needs a command');
  const exec = jsonForm(p.rest);
  let argv: string[];
  let historyArgv: string[];
  const heredocs = instruction.heredocs ?? [];
  if (exec) {
    argv = historyArgv = exec;
  } else if (heredocs.length === 1 && /^<<-?(["']?)[A-Za-z_][A-Za-z0-9_]*\1$/.test(p.rest)) {
    // BuildKit runs a lone here-document as the script itself; a shebang makes it a file to execute.
    const body = heredocs[0]!.body;
    if (body.startsWith('#!')) {
      const script = s.scratchPath(`kiln-heredoc-${process.pid}-${instruction.line}`);
      await s.instance.putFile(script, body, 0o755);
      try {
        await execute(s, instruction, [script], s.withShell(p.rest));
      } finally {
        await s.removeScratch(script);
      }
      return;
    }
    argv = s.withShell(body);
    historyArgv = argv;
  } else {
    const text = heredocs.length === 0 ? p.rest : `${p.rest}\n${heredocs.map((h) => `${h.body}${h.name}`).join('\n')}`;
    argv = historyArgv = s.withShell(text);
  }
  await execute(s, instruction, argv, historyArgv);
}

async function execute(s: DockerfileState, instruction: DockerfileInstruction, argv: string[], historyArgv: string[]): Promise<void> {
  const createdBy = runCreatedBy(s, historyArgv);
  const cwd = s.workdir();
  await s.instance.fs.mkdir(cwd, { recursive: true });
  const user = s.user();
  const wrapped = isRoot(user) ? argv : [...(await setprivArgs(s.instance, user)), ...argv];
  let output = '';
  const collect = (stream: 'stdout' | 'stderr') => utf8Chunks((text) => {
    output = (output + text).slice(-TAIL_CHARS * 4);
    s.options.onOutput?.(text, stream);
  });
  const stdout = collect('stdout');
  const stderr = collect('stderr');
  const result: ExecResult = await s.instance.exec(wrapped, {
    env: s.runEnv(),
    cwd,
    onStdout: (c) => stdout.write(c),
    onStderr: (c) => stderr.write(c),
    ...(s.options.signal ? { signal: s.options.signal } : {}),
  });
  stdout.end();
  stderr.end();
  if (result.aborted || s.options.signal?.aborted) throw new KilnError('Cancelled', `the build was cancelled during line ${instruction.line}`);
  if (result.instanceFault !== undefined) {
    const tail = tailOf(output || `${result.stdout}${result.stderr}`);
    throw new DockerfileStepError(`line ${instruction.line}: RUN ${summarise(instruction.text)} failed: ${result.instanceFault}${tail ? `:\n${tail}` : ''}`, instruction.line, instruction.text, result.exitCode, tail);
  }
  if (result.spawnError !== undefined) {
    throw new DockerfileStepError(`line ${instruction.line}: RUN: the command could not be started: ${result.spawnError}`, instruction.line, instruction.text, null, '');
  }
  if (result.exitCode !== 0) {
    const tail = tailOf(output || `${result.stdout}${result.stderr}`);
    const how = result.exitCode === null ? `was killed by ${result.signal ?? 'a signal'}` : `exited with code ${result.exitCode}`;
    throw new DockerfileStepError(`line ${instruction.line}: RUN ${summarise(instruction.text)} ${how}${tail ? `:\n${tail}` : ''}`, instruction.line, instruction.text, result.exitCode, tail);
  }
  s.record(createdBy, true);
}

async function doComponents(s: DockerfileState, _p: Parsed, instruction: DockerfileInstruction): Promise<void> {
  if (!s.options.runComponents) throw invalid('the Dockerfile runs the recipe\'s components, but the build supplied no way to run them');
  const workdir = s.workdir();
  // Units make the directory on their own instances.
  if (!s.options.units) await s.instance.fs.mkdir(workdir, { recursive: true });
  let entries: void | HistoryEntry[];
  try {
    entries = await s.options.runComponents(s.runEnv(), workdir, {
      user: s.user(),
      line: instruction.line,
      ...(s.options.signal ? { signal: s.options.signal } : {}),
    });
  } catch (err) {
    if (s.options.signal?.aborted) throw new KilnError('Cancelled', `the build was cancelled while the components ran (line ${instruction.line})`);
    throw new DockerfileStepError(`line ${instruction.line}: {{{ imagebuilder:components }}}: ${(err as Error).message}`, instruction.line, '{{{ imagebuilder:components }}}');
  }
  if (entries) s.history.push(...entries);
  else s.record('RUN {{{ imagebuilder:components }}} # kiln: build and validate phases', true);
}


/** The handlers of these instructions, by keyword. */
export const RUN_INSTRUCTIONS: Readonly<Record<string, InstructionHandler>> = {
  RUN: doRun,
  [COMPONENTS_MARKER]: doComponents,
};
