/**
 * What a Dockerfile execution knows between instructions: the caller's options, the image config and history
 * so far, the ARGs in scope and the variables they make, and the parsed form of one instruction. The
 * instruction handlers read and change it; the executor (dockerfile-exec.ts) owns it.
 */
import { posix } from 'node:path';
import { KilnError, errorMessage } from '../../domain/errors.js';
import type { Instance } from '../../toe/instance/instance.js';
import type { OutputSink } from '../../logs/line-assembler.js';
import type { DockerfileInstruction } from './dockerfile-parse.js';
import { WordLexer, type Lookup } from './dockerfile-words.js';
import { normaliseContext, type BuildContext, type ContextEntry } from './dockerfile-context.js';
import { DEFAULT_PATH, HISTORY_COMMENT, type HistoryEntry, type ImageConfig } from './dockerfile-image-config.js';

/** What a components callback learns besides the environment and working directory. */
export interface ComponentsRunInfo {
  /** The USER in effect ('' for root): AWS runs components inside a RUN, as that user. */
  user: string;
  line: number;
  signal?: AbortSignal;
}

/**
 * Cuts a Dockerfile's execution into layers, one per instruction that changes files (the step cache, ADR 0013).
 * Without it every instruction runs on `DockerfileExecOptions.instance`.
 */
export interface DockerfileUnits {
  /**
   * Runs one instruction that changes files (RUN, COPY, ADD, WORKDIR) as a unit: `lines` are the Dockerfile's
   * lines since the previous unit, this one last; `run` executes it on the instance it is given and resolves to
   * the history it recorded. Resolves to the history to keep (a cache hit's, without running `run`).
   */
  run(lines: string[], label: string, run: (instance: Instance) => Promise<HistoryEntry[]>): Promise<HistoryEntry[]>;
}

export interface DockerfileExecOptions {
  /** The build instance, launched from the parent image; with `units`, each unit gets its own instead. */
  instance?: Instance;
  units?: DockerfileUnits;
  /** A rendered Dockerfile (see renderDockerfileTemplate). */
  dockerfile: string;
  /** The parent image's config; its Env, Cmd, Entrypoint, … are the starting point. Default: only Docker's PATH. */
  parentConfig?: ImageConfig;
  /** When given, FROM must name exactly this reference: the instance was launched from it. */
  parentImage?: string;
  /** `--build-arg` values. */
  buildArgs?: Readonly<Record<string, string>>;
  /** Files COPY and ADD may read: path relative to the context root → contents. */
  context?: ReadonlyMap<string, ContextEntry> | Readonly<Record<string, ContextEntry>>;
  /**
   * Runs the recipe's components where the components marker stands; throws when they fail. With `units` it runs
   * them as units itself and resolves to their history entries, which replace the marker's one.
   */
  runComponents?: (env: Record<string, string>, workdir: string, info: ComponentsRunInfo) => Promise<void | HistoryEntry[]>;
  /** Live output of RUN instructions. */
  onOutput?: OutputSink;
  signal?: AbortSignal;
  /** Where scratch files (here-document scripts, archives) go inside the instance; default /tmp. */
  scratchDir?: string;
}

/** BuildKit passes these build args to RUN without an ARG line and leaves them out of history. */
const PROXY_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);
/** BuildKit's automatic platform args; Kiln builds linux/amd64 only. */
export const PLATFORM_ARGS: Readonly<Record<string, string>> = {
  TARGETPLATFORM: 'linux/amd64', TARGETOS: 'linux', TARGETARCH: 'amd64', TARGETVARIANT: '',
  BUILDPLATFORM: 'linux/amd64', BUILDOS: 'linux', BUILDARCH: 'amd64', BUILDVARIANT: '',
};
const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** An ARG of the stage: declared, with a value once it has one. */
export interface Arg {
  key: string;
  value: string | undefined;
}

/** One instruction split into its keyword, its `--flags` (for the instructions that take them) and the rest. */
export interface Parsed {
  keyword: string;
  flags: Map<string, string>;
  rest: string;
}

/** Runs one instruction (`p` is its parsed form) against the state; throws to fail it. */
export type InstructionHandler = (s: DockerfileState, p: Parsed, instruction: DockerfileInstruction) => void | Promise<void>;

/** The error for an instruction Kiln cannot run as written; the executor adds the line. */
export function invalid(message: string): KilnError {
  return new KilnError('InvalidArgument', message);
}

/** Splits an instruction; flags are read only for the instructions Docker gives flags. */
export function parseInstruction(instruction: DockerfileInstruction): Parsed {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(instruction.text)!;
  const keyword = m[1]!.toUpperCase();
  let rest = m[2]!;
  const flags = new Map<string, string>();
  if (['RUN', 'COPY', 'ADD', 'FROM', 'HEALTHCHECK'].includes(keyword)) {
    for (;;) {
      const f = /^--([A-Za-z-]+)(?:=(\S*))?\s*/.exec(rest);
      if (!f) break;
      flags.set(f[1]!, f[2] ?? 'true');
      rest = rest.slice(f[0].length);
    }
  }
  return { keyword, flags, rest: rest.trim() };
}

/** Throws InvalidArgument naming the first flag not in `allowed`. */
export function refuseFlags(p: Parsed, allowed: string[]): void {
  for (const name of p.flags.keys()) {
    if (!allowed.includes(name)) throw invalid(`the --${name} flag is not supported by Kiln's Dockerfile executor`);
  }
}

/** A JSON array of strings (exec form), or undefined for shell form, as Docker decides. */
export function jsonForm(rest: string): string[] | undefined {
  if (!rest.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(rest);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

/** The state of one Dockerfile execution. */
export class DockerfileState {
  readonly config: ImageConfig;
  readonly history: HistoryEntry[] = [];
  /** ARGs before FROM: they may be used in FROM, and give defaults to ARGs of the stage. */
  readonly globalArgs = new Map<string, string>(Object.entries(PLATFORM_ARGS));
  /** ARGs of the stage, in the order they were declared (BuildKit's RUN history lists them so). */
  readonly args: Arg[] = [];
  readonly context: BuildContext;
  escape = '\\';
  /** The parent FROM named; undefined until FROM. */
  from: string | undefined;
  /** Whether the Dockerfile set CMD itself, which decides whether ENTRYPOINT drops an inherited one. */
  cmdSet = false;

  constructor(readonly options: DockerfileExecOptions) {
    const parent = options.parentConfig ?? { Env: [`PATH=${DEFAULT_PATH}`] };
    this.config = structuredClone(parent);
    this.config.Env ??= [];
    this.context = normaliseContext(options.context);
  }

  /** The unit's instance while a unit runs (see DockerfileUnits). */
  current: Instance | undefined;

  get instance(): Instance {
    const instance = this.current ?? this.options.instance;
    if (!instance) throw new KilnError('Internal', 'the Dockerfile instruction has no instance to run on');
    return instance;
  }

  /** Adds a history entry; `layer` says whether Docker would have made a layer for the instruction. */
  record(createdBy: string, layer: boolean): void {
    this.history.push({ created_by: createdBy, comment: HISTORY_COMMENT, ...(layer ? {} : { empty_layer: true }) });
  }

  envMap(): Map<string, string> {
    const map = new Map<string, string>();
    for (const e of this.config.Env ?? []) {
      const at = e.indexOf('=');
      if (at < 0) map.set(e, '');
      else map.set(e.slice(0, at), e.slice(at + 1));
    }
    return map;
  }

  argValues(): Map<string, string> {
    const map = new Map<string, string>();
    for (const a of this.args) if (a.value !== undefined) map.set(a.key, a.value);
    return map;
  }

  /** ENV wins over ARG of the same name, as Docker documents. */
  lookup(): Lookup {
    const env = this.envMap();
    const args = this.argValues();
    return (name) => env.get(name) ?? args.get(name);
  }

  /** A lexer expanding variables from `lookup`: by default the ENV and ARGs in effect now. */
  lexer(lookup: Lookup = this.lookup()): WordLexer {
    return new WordLexer(this.escape, lookup);
  }

  /** A lexer for FROM and the ARGs before it, which see only the global ARGs. */
  globalLexer(): WordLexer {
    return this.lexer((n) => this.globalArgs.get(n));
  }

  /** The environment of a RUN: the image's Env, the stage's ARGs under it, and proxy build args. */
  runEnv(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.options.buildArgs ?? {})) if (PROXY_ARGS.has(k)) out[k] = v;
    for (const [k, v] of this.argValues()) out[k] = v;
    for (const [k, v] of this.envMap()) out[k] = v;
    return out;
  }

  setEnv(key: string, value: string): void {
    const env = this.config.Env!;
    const i = env.findIndex((e) => e === key || e.startsWith(`${key}=`));
    if (i >= 0) env[i] = `${key}=${value}`;
    else env.push(`${key}=${value}`);
  }

  workdir(): string {
    return this.config.WorkingDir || '/';
  }

  /** The USER in effect; '' for root. */
  user(): string {
    return this.config.User ?? '';
  }

  /** A shell-form command as the SHELL in effect runs it. */
  withShell(command: string): string[] {
    return [...(this.config.Shell && this.config.Shell.length > 0 ? this.config.Shell : DEFAULT_SHELL), command];
  }

  /** Where a scratch file named `name` goes inside the instance. */
  scratchPath(name: string): string {
    return posix.join(this.options.scratchDir ?? '/tmp', name);
  }

  /**
   * Removes a scratch file; a failure does not fail the instruction (the instance is thrown away after the
   * build) but is reported in the build's output, naming the file left behind.
   */
  async removeScratch(path: string): Promise<void> {
    try {
      await this.instance.fs.rm(path, { force: true });
    } catch (err) {
      this.options.onOutput?.(`could not remove the scratch file ${path} from the build instance: ${errorMessage(err)}\n`, 'info');
    }
  }
}
