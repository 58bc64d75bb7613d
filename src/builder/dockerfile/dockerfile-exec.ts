/**
 * Executes a rendered Dockerfile against a build Instance without a Docker engine, and accumulates the image
 * config and history as BuildKit would write them, so `docker inspect` of Kiln's image reads like Docker's.
 *
 * The caller launched the instance from the parent image already; FROM only names that parent. Filesystem
 * changes happen in the instance, and the caller snapshots them afterwards, so layers are the caller's business:
 * `history` says which instructions Docker would have given a layer (empty_layer false), and a writer that makes
 * fewer layers must merge those entries to keep the OCI rule (one non-empty history entry per layer).
 */
import { posix } from 'node:path';
import { KilnError } from '../../domain/errors.js';
import { logLeak } from '../../domain/cleanup-stack.js';
import { parseDockerfile, type DockerfileInstruction } from './dockerfile-parse.js';
import type { ExecResult, Instance } from '../../toe/instance/instance.js';
import { COMPONENTS_MARKER } from './dockerfile-render.js';
import { WordError, WordLexer, formatGoDuration, goQuoteList, parseGoDuration, splitRaw, type Lookup } from './dockerfile-words.js';
import type { OutputSink } from '../../logs/line-assembler.js';

/** Docker's HEALTHCHECK config; durations in nanoseconds, omitted when zero as Docker omits them. */
export interface HealthcheckConfig {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The runtime config of an OCI image (`config` in the image config JSON), with Docker's extensions. */
export interface ImageConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  /** null when ENTRYPOINT reset an inherited CMD, as Docker records it. */
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: HealthcheckConfig;
  Shell?: string[];
}

/** One OCI history entry. */
export interface HistoryEntry {
  created_by: string;
  comment: string;
  empty_layer?: boolean;
}

/** A build-context file: bytes, or bytes with a mode (default 0644). */
export type ContextEntry = Buffer | string | { data: Buffer | string; mode?: number };

/** What a components callback learns besides the environment and working directory. */
export interface ComponentsRunInfo {
  /** The USER in effect ('' for root): AWS runs components inside a RUN, as that user. */
  user: string;
  line: number;
  signal?: AbortSignal;
}

export interface DockerfileExecOptions {
  /** The build instance, launched from the parent image. */
  instance: Instance;
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
  /** Runs the recipe's components where the components marker stands; throws when they fail. */
  runComponents?: (env: Record<string, string>, workdir: string, info: ComponentsRunInfo) => Promise<void>;
  /** Live output of RUN instructions. */
  onOutput?: OutputSink;
  signal?: AbortSignal;
  /** Where scratch files (here-document scripts, archives) go inside the instance; default /tmp. */
  scratchDir?: string;
}

export interface DockerfileExecResult {
  config: ImageConfig;
  history: HistoryEntry[];
  /** The parent reference FROM named, after ARG expansion. */
  from: string;
}

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

/** BuildKit's history comment. */
export const HISTORY_COMMENT = 'buildkit.dockerfile.v0';
/** The PATH Docker gives an image that has none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_SHELL = ['/bin/sh', '-c'];
const TAIL_LINES = 30;
const TAIL_CHARS = 4000;
/** BuildKit passes these build args to RUN without an ARG line and leaves them out of history. */
const PROXY_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);
/** BuildKit's automatic platform args; Kiln builds linux/amd64 only. */
const PLATFORM_ARGS: Record<string, string> = {
  TARGETPLATFORM: 'linux/amd64', TARGETOS: 'linux', TARGETARCH: 'amd64', TARGETVARIANT: '',
  BUILDPLATFORM: 'linux/amd64', BUILDOS: 'linux', BUILDARCH: 'amd64', BUILDVARIANT: '',
};
const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR', 'QUIT',
  'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ',
]);

interface Arg {
  key: string;
  value: string | undefined;
}

interface Parsed {
  keyword: string;
  flags: Map<string, string>;
  rest: string;
}

/** Executes the Dockerfile; throws KilnError (InvalidArgument, Cancelled) or DockerfileStepError, naming the line. */
export async function executeDockerfile(options: DockerfileExecOptions): Promise<DockerfileExecResult> {
  return new Executor(options).run();
}

class Executor {
  private readonly config: ImageConfig;
  private readonly history: HistoryEntry[] = [];
  private readonly globalArgs = new Map<string, string>(Object.entries(PLATFORM_ARGS));
  private readonly args: Arg[] = [];
  private escape = '\\';
  private from: string | undefined;
  private cmdSet = false;
  private readonly context: Map<string, { data: Buffer; mode: number }>;

  constructor(private readonly options: DockerfileExecOptions) {
    const parent = options.parentConfig ?? { Env: [`PATH=${DEFAULT_PATH}`] };
    this.config = structuredClone(parent);
    this.config.Env ??= [];
    this.context = normaliseContext(options.context);
  }

  async run(): Promise<DockerfileExecResult> {
    const parsed = parseDockerfile(this.options.dockerfile);
    if (parsed.issues.length > 0) {
      throw new KilnError('InvalidArgument', parsed.issues.map((i) => `line ${i.line}: ${i.message}`).join('\n'));
    }
    this.escape = parsed.escape;
    for (const instruction of parsed.instructions) {
      if (this.options.signal?.aborted) throw new KilnError('Cancelled', `the build was cancelled before line ${instruction.line}`);
      try {
        await this.dispatch(instruction);
      } catch (err) {
        if (isDockerfileStepError(err) || (err as { kind?: string }).kind === 'Cancelled') throw err;
        if (this.options.signal?.aborted) throw new KilnError('Cancelled', `the build was cancelled at line ${instruction.line}`);
        const keyword = instruction.text.split(/\s+/, 1)[0]!.toUpperCase();
        const message = `line ${instruction.line}: ${keyword}: ${(err as Error).message}`;
        if (err instanceof WordError || (err as { kind?: string }).kind === 'InvalidArgument') throw new KilnError('InvalidArgument', message);
        throw new DockerfileStepError(message, instruction.line, instruction.text);
      }
    }
    if (this.from === undefined) throw new KilnError('InvalidArgument', 'the Dockerfile has no FROM instruction');
    return { config: sortedConfig(this.config), history: this.history, from: this.from };
  }

  private invalid(message: string): KilnError {
    return new KilnError('InvalidArgument', message);
  }

  private record(createdBy: string, layer: boolean): void {
    this.history.push({ created_by: createdBy, comment: HISTORY_COMMENT, ...(layer ? {} : { empty_layer: true }) });
  }

  // ---- variables ----

  private envMap(): Map<string, string> {
    const map = new Map<string, string>();
    for (const e of this.config.Env ?? []) {
      const at = e.indexOf('=');
      if (at < 0) map.set(e, '');
      else map.set(e.slice(0, at), e.slice(at + 1));
    }
    return map;
  }

  private argValues(): Map<string, string> {
    const map = new Map<string, string>();
    for (const a of this.args) if (a.value !== undefined) map.set(a.key, a.value);
    return map;
  }

  /** ENV wins over ARG of the same name, as Docker documents. */
  private lookup(): Lookup {
    const env = this.envMap();
    const args = this.argValues();
    return (name) => env.get(name) ?? args.get(name);
  }

  private lexer(lookup: Lookup = this.lookup()): WordLexer {
    return new WordLexer(this.escape, lookup);
  }

  /** The environment of a RUN: the image's Env, the stage's ARGs under it, and proxy build args. */
  private runEnv(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.options.buildArgs ?? {})) if (PROXY_ARGS.has(k)) out[k] = v;
    for (const [k, v] of this.argValues()) out[k] = v;
    for (const [k, v] of this.envMap()) out[k] = v;
    return out;
  }

  private setEnv(key: string, value: string): void {
    const env = this.config.Env!;
    const i = env.findIndex((e) => e === key || e.startsWith(`${key}=`));
    if (i >= 0) env[i] = `${key}=${value}`;
    else env.push(`${key}=${value}`);
  }

  private workdir(): string {
    return this.config.WorkingDir || '/';
  }

  // ---- parsing ----

  private parse(instruction: DockerfileInstruction): Parsed {
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

  private refuseFlags(p: Parsed, allowed: string[]): void {
    for (const name of p.flags.keys()) {
      if (!allowed.includes(name)) throw this.invalid(`the --${name} flag is not supported by Kiln's Dockerfile executor`);
    }
  }

  private needsFrom(keyword: string): void {
    if (this.from === undefined) throw this.invalid(`${keyword} must come after FROM`);
  }

  // ---- instructions ----

  private async dispatch(instruction: DockerfileInstruction): Promise<void> {
    const p = this.parse(instruction);
    if (p.keyword !== 'ARG' && p.keyword !== 'FROM') this.needsFrom(p.keyword);
    switch (p.keyword) {
      case 'FROM': return this.doFrom(p);
      case 'ARG': return this.doArg(p);
      case 'ENV': return this.doEnv(p);
      case 'LABEL': return this.doLabel(p);
      case 'RUN': return this.doRun(p, instruction);
      case COMPONENTS_MARKER: return this.doComponents(instruction);
      case 'WORKDIR': return this.doWorkdir(p);
      case 'USER': return this.doUser(p);
      case 'EXPOSE': return this.doExpose(p);
      case 'VOLUME': return this.doVolume(p);
      case 'STOPSIGNAL': return this.doStopSignal(p);
      case 'CMD': return this.doCmd(p);
      case 'ENTRYPOINT': return this.doEntrypoint(p);
      case 'SHELL': return this.doShell(p);
      case 'HEALTHCHECK': return this.doHealthcheck(p);
      case 'COPY':
      case 'ADD': return this.doCopy(p, instruction);
      default: throw this.invalid('unsupported instruction');
    }
  }

  private doFrom(p: Parsed): void {
    if (this.from !== undefined) throw this.invalid('multi-stage builds are not supported: the Dockerfile may have one FROM');
    this.refuseFlags(p, ['platform']);
    const platform = p.flags.get('platform');
    if (platform !== undefined && this.lexer((n) => this.globalArgs.get(n)).word(platform) !== 'linux/amd64') {
      throw this.invalid(`--platform=${platform}: Kiln builds linux/amd64 images only`);
    }
    const words = splitRaw(p.rest, this.escape);
    if (words.length !== 1 && !(words.length === 3 && words[1]!.toUpperCase() === 'AS')) throw this.invalid('expected FROM <image> [AS <name>]');
    const image = this.lexer((n) => this.globalArgs.get(n)).word(words[0]!);
    if (this.options.parentImage !== undefined && image !== this.options.parentImage) {
      throw this.invalid(`FROM names ${image}, but the build instance was launched from ${this.options.parentImage}`);
    }
    this.from = image;
  }

  private doArg(p: Parsed): void {
    const committed: string[] = [];
    for (const token of splitRaw(p.rest, this.escape)) {
      const at = token.indexOf('=');
      const key = at < 0 ? token : token.slice(0, at);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw this.invalid(`invalid ARG name ${JSON.stringify(key)}`);
      const given = this.options.buildArgs?.[key];
      if (this.from === undefined) {
        const value = given ?? (at < 0 ? undefined : this.lexer((n) => this.globalArgs.get(n)).word(token.slice(at + 1)));
        if (value !== undefined) this.globalArgs.set(key, value);
        else if (!(key in PLATFORM_ARGS)) this.globalArgs.delete(key);
        continue;
      }
      const value = given ?? (at < 0 ? this.globalArgs.get(key) : this.lexer().word(token.slice(at + 1)));
      const existing = this.args.find((a) => a.key === key);
      if (existing) existing.value = value;
      else this.args.push({ key, value });
      committed.push(value === undefined ? key : `${key}=${value}`);
    }
    if (this.from !== undefined) this.record(`ARG ${committed.join(' ')}`, false);
  }

  /** ENV and LABEL pairs: `k=v k2="v 2"`, or the legacy `k v with spaces`; expanded with the values from before. */
  private pairs(p: Parsed, what: string): [string, string][] {
    const lexer = this.lexer();
    const tokens = splitRaw(p.rest, this.escape);
    if (tokens.length === 0) throw this.invalid(`${what} needs arguments`);
    if (!tokens[0]!.includes('=')) {
      const m = /^(\S+)\s+([\s\S]*)$/.exec(p.rest);
      if (!m) throw this.invalid(`${what} ${tokens[0]} needs a value`);
      return [[lexer.word(m[1]!), lexer.word(m[2]!)]];
    }
    return tokens.map((t) => {
      const at = t.indexOf('=');
      if (at < 0) throw this.invalid(`syntax error - can't find = in ${JSON.stringify(t)}. Must be of the form: name=value`);
      if (at === 0) throw this.invalid(`${what} names can not be blank`);
      return [lexer.word(t.slice(0, at)), lexer.word(t.slice(at + 1))];
    });
  }

  private doEnv(p: Parsed): void {
    const pairs = this.pairs(p, 'ENV');
    for (const [k, v] of pairs) this.setEnv(k, v);
    this.record(`ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`, false);
  }

  private doLabel(p: Parsed): void {
    const pairs = this.pairs(p, 'LABEL');
    this.config.Labels ??= {};
    for (const [k, v] of pairs) this.config.Labels[k] = v;
    this.record(`LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`, false);
  }

  /** A JSON array of strings (exec form), or undefined for shell form, as Docker decides. */
  private jsonForm(rest: string): string[] | undefined {
    if (!rest.startsWith('[')) return undefined;
    try {
      const v: unknown = JSON.parse(rest);
      return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
    } catch {
      return undefined;
    }
  }

  private withShell(command: string): string[] {
    return [...(this.config.Shell && this.config.Shell.length > 0 ? this.config.Shell : DEFAULT_SHELL), command];
  }

  /** BuildKit's RUN history: `RUN |2 A=1 B=2 /bin/sh -c … # buildkit`. */
  private runCreatedBy(argv: string[]): string {
    const env = this.envMap();
    const parts = this.args.map((a) => `${a.key}=${env.get(a.key) ?? a.value ?? ''}`);
    const prefix = parts.length > 0 ? [`|${parts.length}`, ...parts] : [];
    return `RUN ${[...prefix, ...argv].join(' ')} # buildkit`;
  }

  /** The catch handler of a temporary file's removal: the leak goes in the step's log, the build goes on. */
  private leaked(what: string): (err: unknown) => void {
    return logLeak('Dockerfile', what, (text) => this.options.onOutput?.(text, 'stderr'));
  }

  private async doRun(p: Parsed, instruction: DockerfileInstruction): Promise<void> {
    this.refuseFlags(p, []);
    if (p.rest === '') throw this.invalid('RUN needs a command');
    const exec = this.jsonForm(p.rest);
    let argv: string[];
    let historyArgv: string[];
    const heredocs = instruction.heredocs ?? [];
    if (exec) {
      argv = historyArgv = exec;
    } else if (heredocs.length === 1 && /^<<-?(["']?)[A-Za-z_][A-Za-z0-9_]*\1$/.test(p.rest)) {
      // BuildKit runs a lone here-document as the script itself; a shebang makes it a file to execute.
      const body = heredocs[0]!.body;
      if (body.startsWith('#!')) {
        const script = posix.join(this.options.scratchDir ?? '/tmp', `kiln-heredoc-${process.pid}-${instruction.line}`);
        await this.options.instance.putFile(script, body, 0o755);
        try {
          await this.execute(instruction, [script], this.withShell(p.rest));
        } finally {
          await this.options.instance.fs.rm(script, { force: true }).catch(this.leaked(`the here-document script ${script} (it may end up in the image's layer)`));
        }
        return;
      }
      argv = this.withShell(body);
      historyArgv = argv;
    } else {
      const text = heredocs.length === 0 ? p.rest : `${p.rest}\n${heredocs.map((h) => `${h.body}${h.name}`).join('\n')}`;
      argv = historyArgv = this.withShell(text);
    }
    await this.execute(instruction, argv, historyArgv);
  }

  private async execute(instruction: DockerfileInstruction, argv: string[], historyArgv: string[]): Promise<void> {
    const createdBy = this.runCreatedBy(historyArgv);
    const cwd = this.workdir();
    await this.options.instance.fs.mkdir(cwd, { recursive: true });
    const user = this.config.User ?? '';
    const wrapped = isRoot(user) ? argv : [...(await setprivArgs(this.options.instance, user)), ...argv];
    let output = '';
    const collect = (stream: 'stdout' | 'stderr') => (c: Buffer) => {
      const s = c.toString('utf8');
      output = (output + s).slice(-TAIL_CHARS * 4);
      this.options.onOutput?.(s, stream);
    };
    const result: ExecResult = await this.options.instance.exec(wrapped, {
      env: this.runEnv(),
      cwd,
      onStdout: collect('stdout'),
      onStderr: collect('stderr'),
      ...(this.options.signal ? { signal: this.options.signal } : {}),
    });
    if (result.aborted || this.options.signal?.aborted) throw new KilnError('Cancelled', `the build was cancelled during line ${instruction.line}`);
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
    this.record(createdBy, true);
  }

  private async doComponents(instruction: DockerfileInstruction): Promise<void> {
    if (!this.options.runComponents) throw this.invalid('the Dockerfile runs the recipe\'s components, but the build supplied no way to run them');
    const workdir = this.workdir();
    await this.options.instance.fs.mkdir(workdir, { recursive: true });
    try {
      await this.options.runComponents(this.runEnv(), workdir, {
        user: this.config.User ?? '',
        line: instruction.line,
        ...(this.options.signal ? { signal: this.options.signal } : {}),
      });
    } catch (err) {
      if (this.options.signal?.aborted) throw new KilnError('Cancelled', `the build was cancelled while the components ran (line ${instruction.line})`);
      throw new DockerfileStepError(`line ${instruction.line}: {{{ imagebuilder:components }}}: ${(err as Error).message}`, instruction.line, '{{{ imagebuilder:components }}}');
    }
    this.record('RUN {{{ imagebuilder:components }}} # kiln: build and validate phases', true);
  }

  private async doWorkdir(p: Parsed): Promise<void> {
    const path = this.lexer().word(p.rest);
    if (path === '') throw this.invalid('WORKDIR needs a path');
    const wd = posix.resolve(this.workdir(), path);
    this.config.WorkingDir = wd;
    if (wd === '/') {
      this.record('WORKDIR /', false);
      return;
    }
    const created = await mkdirs(this.options.instance, wd, 0o755);
    const user = this.config.User ?? '';
    if (created.length > 0 && !isRoot(user)) {
      const ids = await resolveUser(this.options.instance, user);
      await chown(this.options.instance, `${ids.uid}:${ids.gid}`, created);
    }
    this.record(`WORKDIR ${wd}`, true);
  }

  private doUser(p: Parsed): void {
    const user = this.lexer().word(p.rest);
    if (user === '') throw this.invalid('USER needs a user');
    this.config.User = user;
    this.record(`USER ${user}`, false);
  }

  private doExpose(p: Parsed): void {
    const ports: string[] = [];
    for (const spec of this.lexer().words(p.rest)) {
      const m = /^(?:(?:[^:]*:)?[0-9-]*:)?([0-9]+)(?:-([0-9]+))?(?:\/([A-Za-z]+))?$/.exec(spec);
      const proto = (m?.[3] ?? 'tcp').toLowerCase();
      const first = Number(m?.[1]);
      const last = m?.[2] === undefined ? first : Number(m[2]);
      if (!m || !['tcp', 'udp', 'sctp'].includes(proto) || first < 1 || last > 65535 || last < first) throw this.invalid(`invalid port ${JSON.stringify(spec)}`);
      for (let port = first; port <= last; port++) ports.push(`${port}/${proto}`);
    }
    if (ports.length === 0) throw this.invalid('EXPOSE needs at least one port');
    this.config.ExposedPorts ??= {};
    for (const port of ports) this.config.ExposedPorts[port] = {};
    this.record(`EXPOSE [${ports.join(' ')}]`, false);
  }

  private doVolume(p: Parsed): void {
    const lexer = this.lexer();
    const json = this.jsonForm(p.rest);
    const volumes = json ? json.map((v) => lexer.word(v)) : lexer.words(p.rest);
    if (volumes.length === 0 || volumes.some((v) => v.trim() === '')) throw this.invalid('VOLUME specified can not be an empty string');
    this.config.Volumes ??= {};
    for (const v of volumes) this.config.Volumes[v] = {};
    this.record(`VOLUME [${volumes.join(' ')}]`, false);
  }

  private doStopSignal(p: Parsed): void {
    const signal = this.lexer().word(p.rest);
    const name = signal.toUpperCase().replace(/^SIG/, '');
    const rt = /^RTM(?:IN|AX)([+-][0-9]+)?$/.test(name);
    if (!(/^[0-9]+$/.test(signal) && Number(signal) > 0 && Number(signal) < 65) && !SIGNALS.has(name) && !rt) throw this.invalid(`invalid signal: ${signal}`);
    this.config.StopSignal = signal;
    this.record(`STOPSIGNAL ${signal}`, false);
  }

  private commandOf(p: Parsed): string[] {
    return this.jsonForm(p.rest) ?? this.withShell(p.rest);
  }

  private doCmd(p: Parsed): void {
    const cmd = this.commandOf(p);
    this.config.Cmd = cmd;
    this.cmdSet = true;
    this.record(`CMD ${goQuoteList(cmd)}`, false);
  }

  private doEntrypoint(p: Parsed): void {
    const entrypoint = this.commandOf(p);
    this.config.Entrypoint = entrypoint;
    // Docker drops an inherited CMD when the Dockerfile sets ENTRYPOINT without a CMD of its own before it.
    if (!this.cmdSet) this.config.Cmd = null;
    this.record(`ENTRYPOINT ${goQuoteList(entrypoint)}`, false);
  }

  private doShell(p: Parsed): void {
    const shell = this.jsonForm(p.rest);
    if (!shell) throw this.invalid('SHELL requires the arguments to be in JSON form');
    if (shell.length === 0) throw this.invalid('SHELL needs at least one argument');
    this.config.Shell = shell;
    this.record(`SHELL [${shell.join(' ')}]`, false);
  }

  private doHealthcheck(p: Parsed): void {
    this.refuseFlags(p, ['interval', 'timeout', 'start-period', 'start-interval', 'retries']);
    const m = /^(\S+)\s*([\s\S]*)$/.exec(p.rest);
    const type = m?.[1]!.toUpperCase();
    let health: HealthcheckConfig;
    if (type === 'NONE') {
      if (m![2] !== '' || p.flags.size > 0) throw this.invalid('HEALTHCHECK NONE takes no arguments');
      health = { Test: ['NONE'] };
    } else if (type === 'CMD') {
      if (m![2] === '') throw this.invalid('HEALTHCHECK CMD needs a command');
      const json = this.jsonForm(m![2]!);
      health = { Test: json ? ['CMD', ...json] : ['CMD-SHELL', m![2]!] };
      const duration = (flag: string, name: string): number => {
        const raw = p.flags.get(flag);
        if (raw === undefined) return 0;
        const ns = parseGoDuration(raw);
        if (ns === undefined || ns < 0) throw this.invalid(`--${flag}: invalid duration ${JSON.stringify(raw)}`);
        if (ns !== 0 && ns < 1e6) throw this.invalid(`${name} "${raw}" cannot be less than 1ms`);
        return ns;
      };
      const fields: [keyof HealthcheckConfig, number][] = [
        ['Interval', duration('interval', 'Interval')],
        ['Timeout', duration('timeout', 'Timeout')],
        ['StartPeriod', duration('start-period', 'StartPeriod')],
        ['StartInterval', duration('start-interval', 'StartInterval')],
      ];
      for (const [k, v] of fields) if (v !== 0) (health as unknown as Record<string, number>)[k] = v;
      const retries = p.flags.get('retries');
      if (retries !== undefined) {
        if (!/^[0-9]+$/.test(retries)) throw this.invalid(`--retries: ${JSON.stringify(retries)} is not a non-negative whole number`);
        if (Number(retries) !== 0) health.Retries = Number(retries);
      }
    } else {
      throw this.invalid('HEALTHCHECK takes NONE or CMD <command>');
    }
    this.config.Healthcheck = health;
    const d = (n: number | undefined) => formatGoDuration(n ?? 0);
    this.record(`HEALTHCHECK {Test:[${health.Test.join(' ')}] Interval:${d(health.Interval)} Timeout:${d(health.Timeout)} StartPeriod:${d(health.StartPeriod)} StartInterval:${d(health.StartInterval)} Retries:${health.Retries ?? 0}}`, false);
  }

  private async doCopy(p: Parsed, instruction: DockerfileInstruction): Promise<void> {
    const add = p.keyword === 'ADD';
    if (p.flags.has('from')) throw this.invalid('--from is not supported: multi-stage builds are not supported');
    this.refuseFlags(p, ['chown', 'chmod', 'link']);
    const lexer = this.lexer();
    const chownFlag = p.flags.has('chown') ? lexer.word(p.flags.get('chown')!) : undefined;
    const chmodFlag = p.flags.has('chmod') ? lexer.word(p.flags.get('chmod')!) : undefined;
    if (chmodFlag !== undefined && !/^[0-7]{1,4}$/.test(chmodFlag)) throw this.invalid(`--chmod=${chmodFlag}: only octal modes are supported`);
    const mode = chmodFlag === undefined ? undefined : parseInt(chmodFlag, 8);
    const json = this.jsonForm(p.rest);
    const words = json ? json.map((w) => lexer.word(w)) : splitRaw(p.rest, this.escape).map((w) => (/^<<-?["']?[A-Za-z_]/.test(w) ? w : lexer.word(w)));
    if (words.length < 2) throw this.invalid(`${p.keyword} needs a source and a destination`);
    const sources = words.slice(0, -1);
    const destWord = words[words.length - 1]!;
    const heredocs = new Map((instruction.heredocs ?? []).map((h) => [h.name, h]));
    const files: { path: string; data: Buffer; mode: number }[] = [];
    let many = false;
    for (const src of sources) {
      const doc = /^<<-?(["']?)([A-Za-z_][A-Za-z0-9_]*)\1$/.exec(src);
      if (doc) {
        const h = heredocs.get(doc[2]!);
        if (!h) throw this.invalid(`here-document ${src} has no body`);
        files.push({ path: h.name, data: Buffer.from(h.quoted ? h.body : lexer.word(h.body.replace(/"/g, `${this.escape}"`).replace(/'/g, `${this.escape}'`))), mode: 0o644 });
        continue;
      }
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(src) || /^git@/.test(src)) {
        throw this.invalid(`${src}: ${add ? 'ADD of a URL or git repository' : 'COPY from a URL'} is not supported; download it in a RUN step or a component`);
      }
      const matched = this.matchContext(src);
      if (matched.directory || matched.files.length > 1) many = true;
      if (matched.files.length === 0 && !matched.directory) throw new Error(`${src}: not found in the build context`);
      files.push(...matched.files);
    }
    const destIsDir = destWord.endsWith('/') || destWord === '.' || destWord.endsWith('/.');
    if (sources.length > 1 && !destIsDir) throw this.invalid(`When using ${p.keyword} with more than one source file, the destination must be a directory and end with a /`);
    const dest = posix.resolve(this.workdir(), destWord);
    const instance = this.options.instance;
    const destStat = await instance.fs.stat(dest);
    const intoDir = destIsDir || many || sources.length > 1 || destStat?.type === 'directory';
    const created: string[] = [];
    for (const f of files) {
      const target = intoDir ? posix.join(dest, f.path) : dest;
      created.push(...(await mkdirs(instance, posix.dirname(target), 0o755)));
      if (add && isArchive(f.data)) {
        created.push(...(await this.extract(instruction, f.data, intoDir ? posix.join(dest, posix.dirname(f.path)) : posix.dirname(target))));
        continue;
      }
      await instance.putFile(target, f.data, mode ?? f.mode);
      created.push(target);
    }
    if (chownFlag !== undefined) {
      const ids = await resolveUser(instance, chownFlag);
      await chown(instance, `${ids.uid}:${ids.gid}`, created);
    }
    const flags = `${chownFlag !== undefined ? ` --chown=${chownFlag}` : ''}${chmodFlag !== undefined ? ` --chmod=${chmodFlag}` : ''}`;
    this.record(`${p.keyword}${flags} ${sources.join(' ')} ${destWord} # buildkit`, true);
  }

  /** Sources of COPY: a file, a directory (its contents), or a pattern, relative to the context root. */
  private matchContext(src: string): { files: { path: string; data: Buffer; mode: number }[]; wildcard: boolean; directory: boolean } {
    const clean = posix.normalize(`/${src}`).replace(/^\/+/, '').replace(/\/+$/, '');
    const wildcard = /[*?[]/.test(clean);
    const out: { path: string; data: Buffer; mode: number }[] = [];
    if (!wildcard) {
      const file = this.context.get(clean);
      if (file) return { files: [{ path: posix.basename(clean), ...file }], wildcard, directory: false };
      const prefix = clean === '' ? '' : `${clean}/`;
      for (const [path, f] of this.context) if (path.startsWith(prefix)) out.push({ path: path.slice(prefix.length), ...f });
      return { files: out, wildcard, directory: out.length > 0 || clean === '' };
    }
    const pattern = globToRegExp(clean);
    const depth = clean.split('/').length;
    const seenDirs = new Set<string>();
    for (const [path, f] of this.context) {
      const parts = path.split('/');
      if (parts.length < depth) continue;
      const head = parts.slice(0, depth).join('/');
      if (!pattern.test(head)) continue;
      if (parts.length === depth) out.push({ path: parts[depth - 1]!, ...f });
      else {
        seenDirs.add(head);
        out.push({ path: parts.slice(depth).join('/'), ...f });
      }
    }
    return { files: out, wildcard, directory: seenDirs.size > 0 };
  }

  /** ADD unpacks a local tar archive (plain, gzip, bzip2 or xz) with the instance's own tar, as Docker unpacks it. */
  private async extract(instruction: DockerfileInstruction, data: Buffer, dir: string): Promise<string[]> {
    const instance = this.options.instance;
    const archive = posix.join(this.options.scratchDir ?? '/tmp', `kiln-add-${process.pid}-${instruction.line}`);
    await instance.putFile(archive, data, 0o600);
    try {
      const r = await instance.exec(['tar', '-x', '-f', archive, '-C', dir], this.options.signal ? { signal: this.options.signal } : {});
      if (r.exitCode !== 0) throw new DockerfileStepError(`line ${instruction.line}: ADD: unpacking the archive failed (tar exited with ${r.exitCode ?? r.signal ?? r.spawnError}):\n${tailOf(r.stderr)}`, instruction.line, instruction.text, r.exitCode, tailOf(r.stderr));
    } finally {
      await instance.fs.rm(archive, { force: true }).catch(this.leaked(`the ADD archive ${archive} (it may end up in the image's layer)`));
    }
    return [];
  }
}

// ---- helpers ----

function normaliseContext(context: DockerfileExecOptions['context']): Map<string, { data: Buffer; mode: number }> {
  const out = new Map<string, { data: Buffer; mode: number }>();
  const entries = context === undefined ? [] : context instanceof Map ? [...context.entries()] : Object.entries(context);
  for (const [raw, entry] of entries as [string, ContextEntry][]) {
    const path = posix.normalize(`/${raw}`).replace(/^\/+/, '');
    if (path === '' || path.endsWith('/')) continue;
    const isPlain = typeof entry === 'string' || Buffer.isBuffer(entry);
    const data = isPlain ? entry : entry.data;
    out.set(path, { data: Buffer.isBuffer(data) ? data : Buffer.from(data), mode: isPlain ? 0o644 : (entry.mode ?? 0o644) });
  }
  return out;
}

/** Go's filepath.Match for one path: `*` and `?` stay within a segment; `[…]` classes, `[^…]` negation. */
function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new KilnError('InvalidArgument', `syntax error in pattern ${pattern}`);
      re += `[${pattern.slice(i + 1, end).replace(/^\^/, '^').replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (ch === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else re += ch.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function isArchive(data: Buffer): boolean {
  if (data.length >= 262 && data.subarray(257, 262).toString('latin1') === 'ustar') return true;
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) return true;
  if (data.length >= 3 && data.subarray(0, 3).toString('latin1') === 'BZh') return true;
  return data.length >= 6 && data.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
}

function isRoot(user: string): boolean {
  return user === '' || user === 'root' || user === '0' || user === 'root:root' || user === '0:0';
}

function tailOf(output: string): string {
  const lines = output.replace(/\s+$/, '').split('\n');
  return lines.slice(-TAIL_LINES).join('\n').slice(-TAIL_CHARS);
}

function summarise(text: string): string {
  const rest = text.replace(/^\S+\s*/, '');
  return rest.length > 80 ? `${rest.slice(0, 77)}...` : rest;
}

/** Creates each missing directory of `dir` with `mode`; returns those it created, outermost first. */
async function mkdirs(instance: Instance, dir: string, mode: number): Promise<string[]> {
  const created: string[] = [];
  let path = '';
  for (const part of dir.split('/').filter(Boolean)) {
    path += `/${part}`;
    const stat = await instance.fs.stat(path);
    if (stat?.type === 'directory') continue;
    if (stat) throw new Error(`${path} exists and is not a directory`);
    await instance.fs.mkdir(path, { mode });
    created.push(path);
  }
  return created;
}

async function chown(instance: Instance, owner: string, paths: string[]): Promise<void> {
  if (paths.length === 0) return;
  const r = await instance.exec(['chown', '-h', owner, '--', ...paths]);
  if (r.exitCode !== 0) throw new Error(`chown ${owner} failed: ${(r.spawnError ?? r.stderr).trim()}`);
}

/** Numeric ids for a Docker `user[:group]`, looked up in the instance's own /etc/passwd and /etc/group. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups: the user's memberships in /etc/group when no group was named, as runc computes them. */
  groups: number[];
}

async function readOptional(instance: Instance, path: string): Promise<string> {
  try {
    return (await instance.fs.readFile(path)).toString('utf8');
  } catch {
    return '';
  }
}

/** Resolves USER or --chown the way Docker does, from the instance's files rather than the host's. */
export async function resolveUser(instance: Instance, spec: string): Promise<ResolvedUser> {
  const [userPart, groupPart] = spec.split(':', 2) as [string, string | undefined];
  const passwd = (await readOptional(instance, '/etc/passwd')).split('\n').map((l) => l.split(':')).filter((f) => f.length >= 7);
  const group = (await readOptional(instance, '/etc/group')).split('\n').map((l) => l.split(':')).filter((f) => f.length >= 4);
  const entry = passwd.find((f) => f[0] === userPart || (/^[0-9]+$/.test(userPart) && f[2] === userPart));
  if (!entry && !/^[0-9]+$/.test(userPart)) throw new Error(`unable to find user ${userPart}: no matching entries in passwd file`);
  const uid = entry ? Number(entry[2]) : Number(userPart);
  let gid = entry ? Number(entry[3]) : 0;
  let groups: number[] = [];
  if (groupPart !== undefined && groupPart !== '') {
    const g = group.find((f) => f[0] === groupPart || (/^[0-9]+$/.test(groupPart) && f[2] === groupPart));
    if (!g && !/^[0-9]+$/.test(groupPart)) throw new Error(`unable to find group ${groupPart}: no matching entries in group file`);
    gid = g ? Number(g[2]) : Number(groupPart);
  } else if (entry) {
    groups = group.filter((f) => f[3]!.split(',').includes(entry[0]!)).map((f) => Number(f[2]));
  }
  return { uid, gid, groups: [...new Set(groups)] };
}

/**
 * The argv prefix that runs a command as `user` inside the instance. setpriv (util-linux, Essential in Debian, so
 * in minbase) switches to numeric ids directly: unlike su and runuser it needs no passwd entry (Docker accepts
 * `USER 1234`), goes through no PAM stack and leaves the environment alone, which RUN must keep exactly.
 */
export async function setprivArgs(instance: Instance, user: string): Promise<string[]> {
  const ids = await resolveUser(instance, user);
  return ['setpriv', `--reuid=${ids.uid}`, `--regid=${ids.gid}`, ids.groups.length > 0 ? `--groups=${ids.groups.join(',')}` : '--clear-groups', '--'];
}

/** The config with map keys sorted, so its JSON is the same for the same Dockerfile, as Go's encoder makes it. */
function sortedConfig(config: ImageConfig): ImageConfig {
  const sort = <T>(m: Record<string, T> | undefined) => (m === undefined ? undefined : Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  const out: ImageConfig = { ...config };
  if (config.ExposedPorts) out.ExposedPorts = sort(config.ExposedPorts)!;
  if (config.Volumes) out.Volumes = sort(config.Volumes)!;
  if (config.Labels) out.Labels = sort(config.Labels)!;
  return out;
}
