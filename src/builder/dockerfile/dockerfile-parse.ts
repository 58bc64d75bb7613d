/**
 * Checks an Image Builder Dockerfile template before it is stored, so that a recipe never carries a template
 * the container build would refuse: only the instructions Kiln can build, in an order Docker accepts, with
 * Image Builder's `{{{ imagebuilder:... }}}` placeholders spelled correctly.
 */

/** Instructions Kiln's container build executes. */
export const SUPPORTED_INSTRUCTIONS: readonly string[] = [
  'FROM', 'RUN', 'ENV', 'ARG', 'WORKDIR', 'USER', 'LABEL', 'EXPOSE', 'CMD', 'ENTRYPOINT', 'SHELL', 'VOLUME', 'STOPSIGNAL', 'HEALTHCHECK', 'COPY', 'ADD',
];

/** Placeholders Image Builder substitutes; only the last two may stand alone on a line. */
export const PLACEHOLDERS: readonly string[] = ['parentImage', 'environments', 'components'];

/** One problem, at the 1-based line where the offending instruction starts. */
export interface DockerfileIssue {
  line: number;
  message: string;
}

const SUPPORTED = new Set(SUPPORTED_INSTRUCTIONS);
const PLACEHOLDER_RE = /\{\{\{\s*imagebuilder:([A-Za-z]*)\s*\}\}\}/g;
const STANDALONE_RE = /^\{\{\{\s*imagebuilder:(environments|components)\s*\}\}\}$/;
const DIRECTIVE_RE = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/;
const HEREDOC_RE = /<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g;
const HEREDOC_INSTRUCTIONS = new Set(['RUN', 'COPY', 'ADD']);

/** The body of a `<<WORD` here-document that follows an instruction. */
export interface Heredoc {
  name: string;
  /** The lines up to the closing word, each ending in a newline; leading tabs already removed for `<<-`. */
  body: string;
  /** `<<"WORD"` or `<<'WORD'`: the body is taken literally, without variable expansion. */
  quoted: boolean;
}

/** One instruction: continuation lines joined, with the 1-based line it starts on. */
export interface DockerfileInstruction {
  line: number;
  text: string;
  heredocs?: Heredoc[];
}

type Instruction = DockerfileInstruction;

/** Joins continued lines into instructions, dropping comments and blank lines as Docker's parser does. */
function instructions(lines: string[], issues: DockerfileIssue[], meta: { escape: string } = { escape: '\\' }): Instruction[] {
  let escape = '\\';
  let directives = true;
  const out: Instruction[] = [];
  let current: Instruction | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const trimmed = raw.trim();
    if (directives) {
      const d = DIRECTIVE_RE.exec(trimmed);
      if (d && d[1]!.toLowerCase() === 'escape') {
        if (d[2] !== '\\' && d[2] !== '`') issues.push({ line: i + 1, message: `the escape directive accepts \\ or \`, not ${d[2]}` });
        else escape = d[2];
        meta.escape = escape;
        continue;
      }
      if (d) continue;
      directives = false;
    }
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const continued = trimmed.endsWith(escape);
    const body = continued ? trimmed.slice(0, -escape.length) : trimmed;
    if (current) current.text += ` ${body}`;
    else current = { line: i + 1, text: body };
    if (continued) continue;
    out.push(current);
    current = undefined;
    i = skipHeredocs(out[out.length - 1]!, lines, i, issues);
  }
  if (current) out.push(current);
  return out;
}

/** Steps over the bodies of `<<EOF` here-documents, whose lines are data rather than instructions. */
function skipHeredocs(instruction: Instruction, lines: string[], index: number, issues: DockerfileIssue[]): number {
  const keyword = instruction.text.split(/\s+/, 1)[0]!.toUpperCase();
  if (!HEREDOC_INSTRUCTIONS.has(keyword)) return index;
  let i = index;
  for (const m of instruction.text.matchAll(HEREDOC_RE)) {
    const stripTabs = m[1] === '-';
    const word = m[3]!;
    const strip = (l: string) => (stripTabs ? l.replace(/^\t+/, '') : l);
    let end = i + 1;
    while (end < lines.length && strip(lines[end]!).trimEnd() !== word) end++;
    if (end >= lines.length) {
      issues.push({ line: instruction.line, message: `the here-document <<${word} is never closed by a line '${word}'` });
      return lines.length;
    }
    const body = lines.slice(i + 1, end).map((l) => `${strip(l)}\n`).join('');
    (instruction.heredocs ??= []).push({ name: word, body, quoted: m[2] !== '' });
    i = end;
  }
  return i;
}

function checkPlaceholders(instruction: Instruction, issues: DockerfileIssue[]): void {
  for (const m of instruction.text.matchAll(PLACEHOLDER_RE)) {
    if (!PLACEHOLDERS.includes(m[1]!)) {
      issues.push({ line: instruction.line, message: `unknown placeholder ${m[0]}; Image Builder substitutes ${PLACEHOLDERS.map((p) => `{{{ imagebuilder:${p} }}}`).join(', ')}` });
    }
  }
}

/** Every problem of a Dockerfile template, each with its line; an empty list means Kiln can build it. */
export function checkDockerfileTemplate(text: string): DockerfileIssue[] {
  const issues: DockerfileIssue[] = [];
  let seenFrom = false;
  for (const instruction of instructions(text.split(/\r?\n/), issues)) {
    checkPlaceholders(instruction, issues);
    const standalone = STANDALONE_RE.test(instruction.text);
    const keyword = standalone ? '' : instruction.text.split(/\s+/, 1)[0]!.toUpperCase();
    if (!standalone && !SUPPORTED.has(keyword)) {
      const shown = instruction.text.split(/\s+/, 1)[0]!;
      issues.push({ line: instruction.line, message: `unsupported instruction '${shown}'; Kiln supports ${SUPPORTED_INSTRUCTIONS.join(', ')}` });
      continue;
    }
    if (!standalone && instruction.text.trim().length === keyword.length) {
      issues.push({ line: instruction.line, message: `${keyword} needs arguments` });
    }
    // Docker lets only ARG come before the first FROM; placeholders expand to ENV and RUN, so they count too.
    if (keyword === 'FROM') seenFrom = true;
    else if (!seenFrom && keyword !== 'ARG') issues.push({ line: instruction.line, message: `${standalone ? instruction.text : keyword} must come after a FROM instruction` });
  }
  if (!seenFrom && issues.length === 0) issues.push({ line: 1, message: 'the template has no FROM instruction; start it with FROM {{{ imagebuilder:parentImage }}}' });
  return issues;
}

/** A Dockerfile split for execution: its instructions, the escape character in effect, and any parse problems. */
export interface ParsedDockerfile {
  escape: string;
  instructions: DockerfileInstruction[];
  issues: DockerfileIssue[];
}

/** Splits a Dockerfile with the same parser the create-time check uses, keeping here-document bodies. */
export function parseDockerfile(text: string): ParsedDockerfile {
  const issues: DockerfileIssue[] = [];
  const meta = { escape: '\\' };
  const list = instructions(text.split(/\r?\n/), issues, meta);
  return { escape: meta.escape, instructions: list, issues };
}
