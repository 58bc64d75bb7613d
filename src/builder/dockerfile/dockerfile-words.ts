/**
 * The small pieces of Docker's Dockerfile language the executor needs, kept apart from the executor so they can be
 * tested as tables: word splitting and variable expansion as Docker's shell lexer does them (not as a shell
 * does: no command substitution, no globbing), Go's quoting and duration formats (Docker writes history with
 * them), and Go duration parsing for HEALTHCHECK options.
 */

/** Finds a variable's value; undefined when it is unset. */
export type Lookup = (name: string) => string | undefined;

/** A malformed word; the executor adds the instruction and line. */
export class WordError extends Error {
  override readonly name = 'WordError';
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/**
 * Docker's variable expansion: `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`,
 * `${VAR:?message}`, `${VAR?message}`; single quotes are literal, double quotes expand, the escape character
 * makes the next character literal. Quotes are removed from the result.
 */
export class WordLexer {
  constructor(
    private readonly escape: string,
    private readonly lookup: Lookup,
  ) {}

  /** The whole text as one word: whitespace is kept (WORKDIR, USER, ENV values). */
  word(text: string): string {
    return this.scan(text, false)[0] ?? '';
  }

  /** The text split on unquoted whitespace, each part expanded (EXPOSE, VOLUME, COPY sources). */
  words(text: string): string[] {
    return this.scan(text, true);
  }

  private scan(text: string, split: boolean): string[] {
    const out: string[] = [];
    const state = { i: 0 };
    let current = '';
    let started = false;
    while (state.i < text.length) {
      const ch = text[state.i]!;
      if (split && /\s/.test(ch)) {
        if (started) out.push(current);
        current = '';
        started = false;
        state.i++;
        continue;
      }
      started = true;
      if (ch === "'") {
        const end = text.indexOf("'", state.i + 1);
        if (end < 0) throw new WordError('unexpected end of statement while looking for matching single-quote');
        current += text.slice(state.i + 1, end);
        state.i = end + 1;
      } else if (ch === '"') {
        current += this.doubleQuoted(text, state);
      } else if (ch === '$') {
        current += this.dollar(text, state);
      } else if (ch === this.escape) {
        state.i++;
        if (state.i < text.length) current += text[state.i++];
      } else {
        current += ch;
        state.i++;
      }
    }
    if (started) out.push(current);
    return split ? out : [out.join('')];
  }

  private doubleQuoted(text: string, state: { i: number }): string {
    let out = '';
    state.i++;
    for (;;) {
      if (state.i >= text.length) throw new WordError('unexpected end of statement while looking for matching double-quote');
      const ch = text[state.i]!;
      if (ch === '"') {
        state.i++;
        return out;
      }
      if (ch === '$') {
        out += this.dollar(text, state);
        continue;
      }
      state.i++;
      if (ch === this.escape && state.i < text.length && ['"', '$', this.escape].includes(text[state.i]!)) {
        out += text[state.i++];
        continue;
      }
      out += ch;
    }
  }

  private dollar(text: string, state: { i: number }): string {
    state.i++;
    const next = text[state.i];
    if (next === '{') return this.braced(text, state);
    if (next === undefined || !NAME_CHAR.test(next)) return '$';
    // As in Docker: a digit names a single positional parameter, which is never set.
    if (/[0-9]/.test(next)) {
      state.i++;
      return this.lookup(next) ?? '';
    }
    let name = '';
    while (state.i < text.length && NAME_CHAR.test(text[state.i]!)) name += text[state.i++];
    return this.lookup(name) ?? '';
  }

  private braced(text: string, state: { i: number }): string {
    state.i++;
    let name = '';
    while (state.i < text.length && NAME_CHAR.test(text[state.i]!)) name += text[state.i++];
    if (name === '' || (!NAME_START.test(name[0]!) && !/^[0-9]$/.test(name))) throw new WordError(`bad substitution: missing or invalid variable name in \${${name}`);
    const ch = text[state.i];
    if (ch === '}') {
      state.i++;
      return this.lookup(name) ?? '';
    }
    if (ch === undefined) throw new WordError("syntax error: missing '}'");
    let op = '';
    if (ch === ':' && ['-', '+', '?'].includes(text[state.i + 1] ?? '')) op = text.slice(state.i, state.i + 2);
    else if (ch === '-' || ch === '+' || ch === '?') op = ch;
    else throw new WordError(`unsupported modifier (${ch}) in substitution \${${name}…`);
    state.i += op.length;
    const word = this.untilBrace(text, state);
    const value = this.lookup(name);
    const unsetOrEmpty = value === undefined || (op.startsWith(':') && value === '');
    switch (op.replace(':', '')) {
      case '-':
        return unsetOrEmpty ? word : value!;
      case '+':
        return unsetOrEmpty ? '' : word;
      default:
        if (unsetOrEmpty) throw new WordError(`${name}: ${word || 'is not allowed to be unset'}`);
        return value!;
    }
  }

  /** The word of `${name:-word}`, itself expanded, up to the closing brace. */
  private untilBrace(text: string, state: { i: number }): string {
    let out = '';
    for (;;) {
      if (state.i >= text.length) throw new WordError("syntax error: missing '}'");
      const ch = text[state.i]!;
      if (ch === '}') {
        state.i++;
        return out;
      }
      if (ch === '$') out += this.dollar(text, state);
      else if (ch === '"') out += this.doubleQuoted(text, state);
      else if (ch === "'") {
        const end = text.indexOf("'", state.i + 1);
        if (end < 0) throw new WordError('unexpected end of statement while looking for matching single-quote');
        out += text.slice(state.i + 1, end);
        state.i = end + 1;
      } else if (ch === this.escape && state.i + 1 < text.length) {
        out += text[state.i + 1];
        state.i += 2;
      } else {
        out += ch;
        state.i++;
      }
    }
  }
}

/**
 * Splits on unquoted whitespace keeping quotes and escapes in each part, as Docker's parser does before it expands
 * `key=value` pairs (ENV, LABEL, ARG).
 */
export function splitRaw(text: string, escape: string): string[] {
  const out: string[] = [];
  let current = '';
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === escape && i + 1 < text.length && quote !== "'") {
      current += ch + text[++i];
      continue;
    }
    if (quote) {
      if (ch === quote) quote = undefined;
      current += ch;
    } else if (/\s/.test(ch)) {
      if (current !== '') out.push(current);
      current = '';
    } else {
      if (ch === '"' || ch === "'") quote = ch;
      current += ch;
    }
  }
  if (current !== '') out.push(current);
  return out;
}

/** Go's strconv.Quote, enough for history lines (`CMD ["/bin/sh" "-c" "…"]`). */
export function goQuote(s: string): string {
  const named: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '"': '\\"', '\\': '\\\\' };
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (named[ch]) out += named[ch];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Go's `%q` of a []string: `["a" "b"]`. */
export function goQuoteList(list: readonly string[]): string {
  return `[${list.map(goQuote).join(' ')}]`;
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 6e10, h: 3.6e12 };

/** Parses a Go duration (`30s`, `1m30s`, `1.5h`, `0`) into nanoseconds; undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const re = /([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  for (const m of text.matchAll(re)) {
    if (m.index !== at || m[1] === '' || m[1] === '.') return undefined;
    total += Number(m[1]) * UNITS[m[2]!]!;
    at += m[0].length;
  }
  return at === text.length && at > 0 ? Math.round(total) : undefined;
}

function withFraction(value: number, unit: number): string {
  const whole = Math.floor(value / unit);
  const digits = Math.round(Math.log10(unit));
  const fraction = String(value % unit).padStart(digits, '0').replace(/0+$/, '');
  return fraction === '' || digits === 0 ? String(whole) : `${whole}.${fraction}`;
}

/** Go's time.Duration.String (`0s`, `1.5ms`, `1m30s`, `1h0m0s`). */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  let rest = Math.abs(ns);
  if (rest < 1e3) return `${sign}${rest}ns`;
  if (rest < 1e6) return `${sign}${withFraction(rest, 1e3)}µs`;
  if (rest < 1e9) return `${sign}${withFraction(rest, 1e6)}ms`;
  const hours = Math.floor(rest / 3.6e12);
  rest -= hours * 3.6e12;
  const minutes = Math.floor(rest / 6e10);
  rest -= minutes * 6e10;
  return `${sign}${hours > 0 ? `${hours}h` : ''}${hours > 0 || minutes > 0 ? `${minutes}m` : ''}${withFraction(rest, 1e9)}s`;
}
