/**
 * The instructions that change only the image config, the history and the variables in scope: FROM, ARG, ENV,
 * LABEL, USER, EXPOSE, VOLUME, STOPSIGNAL, CMD, ENTRYPOINT, SHELL and HEALTHCHECK. None of them runs a command or
 * touches the instance.
 */
import { formatGoDuration, goQuoteList, parseGoDuration, splitRaw } from './dockerfile-words.js';
import type { HealthcheckConfig } from './dockerfile-image-config.js';
import { PLATFORM_ARGS, invalid, jsonForm, refuseFlags, type DockerfileState, type InstructionHandler, type Parsed } from './dockerfile-state.js';

const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR', 'QUIT',
  'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ',
]);

function doFrom(s: DockerfileState, p: Parsed): void {
  if (s.from !== undefined) throw invalid('multi-stage builds are not supported: the Dockerfile may have one FROM');
  refuseFlags(p, ['platform']);
  const platform = p.flags.get('platform');
  if (platform !== undefined && s.globalLexer().word(platform) !== 'linux/amd64') {
    throw invalid(`--platform=${platform}: Kiln builds linux/amd64 images only`);
  }
  const words = splitRaw(p.rest, s.escape);
  if (words.length !== 1 && !(words.length === 3 && words[1]!.toUpperCase() === 'AS')) throw invalid('expected FROM <image> [AS <name>]');
  const image = s.globalLexer().word(words[0]!);
  if (s.options.parentImage !== undefined && image !== s.options.parentImage) {
    throw invalid(`FROM names ${image}, but the build instance was launched from ${s.options.parentImage}`);
  }
  s.from = image;
}

function doArg(s: DockerfileState, p: Parsed): void {
  const committed: string[] = [];
  for (const token of splitRaw(p.rest, s.escape)) {
    const at = token.indexOf('=');
    const key = at < 0 ? token : token.slice(0, at);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw invalid(`invalid ARG name ${JSON.stringify(key)}`);
    const given = s.options.buildArgs?.[key];
    if (s.from === undefined) {
      const value = given ?? (at < 0 ? undefined : s.globalLexer().word(token.slice(at + 1)));
      if (value !== undefined) s.globalArgs.set(key, value);
      else if (!(key in PLATFORM_ARGS)) s.globalArgs.delete(key);
      continue;
    }
    const value = given ?? (at < 0 ? s.globalArgs.get(key) : s.lexer().word(token.slice(at + 1)));
    const existing = s.args.find((a) => a.key === key);
    if (existing) existing.value = value;
    else s.args.push({ key, value });
    committed.push(value === undefined ? key : `${key}=${value}`);
  }
  if (s.from !== undefined) s.record(`ARG ${committed.join(' ')}`, false);
}

/** ENV and LABEL pairs: `k=v k2="v 2"`, or the legacy `k v with spaces`; expanded with the values from before. */
function keyValuePairs(s: DockerfileState, p: Parsed, what: string): [string, string][] {
  const lexer = s.lexer();
  const tokens = splitRaw(p.rest, s.escape);
  if (tokens.length === 0) throw invalid(`${what} needs arguments`);
  if (!tokens[0]!.includes('=')) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(p.rest);
    if (!m) throw invalid(`${what} ${tokens[0]} needs a value`);
    return [[lexer.word(m[1]!), lexer.word(m[2]!)]];
  }
  return tokens.map((t) => {
    const at = t.indexOf('=');
    if (at < 0) throw invalid(`syntax error - can't find = in ${JSON.stringify(t)}. Must be of the form: name=value`);
    if (at === 0) throw invalid(`${what} names can not be blank`);
    return [lexer.word(t.slice(0, at)), lexer.word(t.slice(at + 1))];
  });
}

function doEnv(s: DockerfileState, p: Parsed): void {
  const pairs = keyValuePairs(s, p, 'ENV');
  for (const [k, v] of pairs) s.setEnv(k, v);
  s.record(`ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`, false);
}

function doLabel(s: DockerfileState, p: Parsed): void {
  const pairs = keyValuePairs(s, p, 'LABEL');
  s.config.Labels ??= {};
  for (const [k, v] of pairs) s.config.Labels[k] = v;
  s.record(`LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`, false);
}

function doUser(s: DockerfileState, p: Parsed): void {
  const user = s.lexer().word(p.rest);
  if (user === '') throw invalid('USER needs a user');
  s.config.User = user;
  s.record(`USER ${user}`, false);
}

function doExpose(s: DockerfileState, p: Parsed): void {
  const ports: string[] = [];
  for (const spec of s.lexer().words(p.rest)) {
    const m = /^(?:(?:[^:]*:)?[0-9-]*:)?([0-9]+)(?:-([0-9]+))?(?:\/([A-Za-z]+))?$/.exec(spec);
    const proto = (m?.[3] ?? 'tcp').toLowerCase();
    const first = Number(m?.[1]);
    const last = m?.[2] === undefined ? first : Number(m[2]);
    if (!m || !['tcp', 'udp', 'sctp'].includes(proto) || first < 1 || last > 65535 || last < first) throw invalid(`invalid port ${JSON.stringify(spec)}`);
    for (let port = first; port <= last; port++) ports.push(`${port}/${proto}`);
  }
  if (ports.length === 0) throw invalid('EXPOSE needs at least one port');
  s.config.ExposedPorts ??= {};
  for (const port of ports) s.config.ExposedPorts[port] = {};
  s.record(`EXPOSE [${ports.join(' ')}]`, false);
}

function doVolume(s: DockerfileState, p: Parsed): void {
  const lexer = s.lexer();
  const json = jsonForm(p.rest);
  const volumes = json ? json.map((v) => lexer.word(v)) : lexer.words(p.rest);
  if (volumes.length === 0 || volumes.some((v) => v.trim() === '')) throw invalid('VOLUME specified can not be an empty string');
  s.config.Volumes ??= {};
  for (const v of volumes) s.config.Volumes[v] = {};
  s.record(`VOLUME [${volumes.join(' ')}]`, false);
}

function doStopSignal(s: DockerfileState, p: Parsed): void {
  const signal = s.lexer().word(p.rest);
  const name = signal.toUpperCase().replace(/^SIG/, '');
  const rt = /^RTM(?:IN|AX)([+-][0-9]+)?$/.test(name);
  if (!(/^[0-9]+$/.test(signal) && Number(signal) > 0 && Number(signal) < 65) && !SIGNALS.has(name) && !rt) throw invalid(`invalid signal: ${signal}`);
  s.config.StopSignal = signal;
  s.record(`STOPSIGNAL ${signal}`, false);
}

function commandOf(s: DockerfileState, p: Parsed): string[] {
  return jsonForm(p.rest) ?? s.withShell(p.rest);
}

function doCmd(s: DockerfileState, p: Parsed): void {
  const cmd = commandOf(s, p);
  s.config.Cmd = cmd;
  s.cmdSet = true;
  s.record(`CMD ${goQuoteList(cmd)}`, false);
}

function doEntrypoint(s: DockerfileState, p: Parsed): void {
  const entrypoint = commandOf(s, p);
  s.config.Entrypoint = entrypoint;
  // Docker drops an inherited CMD when the Dockerfile sets ENTRYPOINT without a CMD of its own before it.
  if (!s.cmdSet) s.config.Cmd = null;
  s.record(`ENTRYPOINT ${goQuoteList(entrypoint)}`, false);
}

function doShell(s: DockerfileState, p: Parsed): void {
  const shell = jsonForm(p.rest);
  if (!shell) throw invalid('SHELL requires the arguments to be in JSON form');
  if (shell.length === 0) throw invalid('SHELL needs at least one argument');
  s.config.Shell = shell;
  s.record(`SHELL [${shell.join(' ')}]`, false);
}

function doHealthcheck(s: DockerfileState, p: Parsed): void {
  refuseFlags(p, ['interval', 'timeout', 'start-period', 'start-interval', 'retries']);
  const m = /^(\S+)\s*([\s\S]*)$/.exec(p.rest);
  const type = m?.[1]!.toUpperCase();
  let health: HealthcheckConfig;
  if (type === 'NONE') {
    if (m![2] !== '' || p.flags.size > 0) throw invalid('HEALTHCHECK NONE takes no arguments');
    health = { Test: ['NONE'] };
  } else if (type === 'CMD') {
    if (m![2] === '') throw invalid('HEALTHCHECK CMD needs a command');
    const json = jsonForm(m![2]!);
    health = { Test: json ? ['CMD', ...json] : ['CMD-SHELL', m![2]!] };
    const duration = (flag: string, name: string): number => {
      const raw = p.flags.get(flag);
      if (raw === undefined) return 0;
      const ns = parseGoDuration(raw);
      if (ns === undefined || ns < 0) throw invalid(`--${flag}: invalid duration ${JSON.stringify(raw)}`);
      if (ns !== 0 && ns < 1e6) throw invalid(`${name} "${raw}" cannot be less than 1ms`);
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
      if (!/^[0-9]+$/.test(retries)) throw invalid(`--retries: ${JSON.stringify(retries)} is not a non-negative whole number`);
      if (Number(retries) !== 0) health.Retries = Number(retries);
    }
  } else {
    throw invalid('HEALTHCHECK takes NONE or CMD <command>');
  }
  s.config.Healthcheck = health;
  const d = (n: number | undefined) => formatGoDuration(n ?? 0);
  s.record(`HEALTHCHECK {Test:[${health.Test.join(' ')}] Interval:${d(health.Interval)} Timeout:${d(health.Timeout)} StartPeriod:${d(health.StartPeriod)} StartInterval:${d(health.StartInterval)} Retries:${health.Retries ?? 0}}`, false);
}


/** The handlers of these instructions, by keyword. */
export const CONFIG_INSTRUCTIONS: Readonly<Record<string, InstructionHandler>> = {
  FROM: doFrom,
  ARG: doArg,
  ENV: doEnv,
  LABEL: doLabel,
  USER: doUser,
  EXPOSE: doExpose,
  VOLUME: doVolume,
  STOPSIGNAL: doStopSignal,
  CMD: doCmd,
  ENTRYPOINT: doEntrypoint,
  SHELL: doShell,
  HEALTHCHECK: doHealthcheck,
};
