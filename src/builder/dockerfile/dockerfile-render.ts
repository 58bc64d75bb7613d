/**
 * Renders a container recipe's `dockerfileTemplateData` into the Dockerfile Kiln executes.
 *
 * AWS documents the three placeholders this way: `parentImage` resolves to the recipe's base image;
 * `environments` to directives that stage the components and set the environment variables their scripts use
 * (it runs nothing); `components` to the command that runs the components' build and validate phases and then
 * removes their scripts. Kiln runs components with its own AWSTOE runner on the build instance, so nothing has
 * to be staged inside the image: `environments` becomes ENV lines and `components` becomes one marker
 * instruction that the executor (dockerfile-exec.ts) hands to the build engine.
 *
 * Each placeholder is replaced on its own line, so a line number in the rendered Dockerfile is the same line in
 * the template, and errors point at what the recipe's author wrote.
 */
import { KilnError } from '../../domain/errors.js';
import { checkDockerfileTemplate, parseDockerfile } from './dockerfile-parse.js';

/**
 * The instruction that stands for `{{{ imagebuilder:components }}}` in a rendered Dockerfile. It is not a Docker
 * instruction, and the create-time check rejects it in a template, so only the renderer can emit it.
 */
export const COMPONENTS_MARKER = 'KILN-RUN-COMPONENTS';

/** What the renderer needs besides the template. */
export interface RenderInput {
  /** dockerfileTemplateData as stored on the recipe. */
  template: string;
  /** The resolved parent reference the build instance was launched from (e.g. `registry/repo@sha256:…`). */
  parentImage: string;
  /** Variables `{{{ imagebuilder:environments }}}` sets, in order. */
  environments?: readonly (readonly [string, string])[] | Readonly<Record<string, string>>;
}

/** The rendered Dockerfile and whether it runs the recipe's components at all. */
export interface RenderResult {
  dockerfile: string;
  /** False when the template has no `{{{ imagebuilder:components }}}` line: the components are then not run. */
  runsComponents: boolean;
}

const PARENT_RE = /\{\{\{\s*imagebuilder:parentImage\s*\}\}\}/g;
const STANDALONE_RE = /^\s*\{\{\{\s*imagebuilder:(environments|components)\s*\}\}\}\s*$/;
const INLINE_RE = /\{\{\{\s*imagebuilder:(environments|components)\s*\}\}\}/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
// A reference is one word: anything else would let a parent name smuggle a second instruction into the file.
const REFERENCE_RE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@+]*$/;

/** Quotes a value for an ENV line so Docker takes it literally: no expansion, spaces kept. */
export function quoteEnvValue(value: string, escape = '\\'): string {
  if (/[\r\n]/.test(value)) throw new KilnError('InvalidArgument', 'an environment value cannot contain a line break: a Dockerfile ENV line cannot hold one');
  let out = '"';
  for (const ch of value) out += ch === '"' || ch === '$' || ch === escape ? `${escape}${ch}` : ch;
  return `${out}"`;
}

function environmentLine(environments: RenderInput['environments'], escape: string): string {
  const pairs = environments === undefined ? [] : Array.isArray(environments) ? environments : Object.entries(environments);
  const bad = pairs.filter(([k]) => !ENV_NAME_RE.test(k)).map(([k]) => JSON.stringify(k));
  if (bad.length > 0) throw new KilnError('InvalidArgument', `environment variable names must match ${ENV_NAME_RE.source}: ${bad.join(', ')}`);
  return pairs.length === 0 ? '' : `ENV ${pairs.map(([k, v]) => `${k}=${quoteEnvValue(v, escape)}`).join(' ')}`;
}

/**
 * Renders the template; throws InvalidArgument when the template fails the create-time check (so a template
 * stored before a rule tightened cannot slip through), when a placeholder is misplaced or repeated, or when the
 * parent reference or an environment variable cannot be written into a Dockerfile safely.
 */
export function renderDockerfileTemplate(input: RenderInput): RenderResult {
  const issues = checkDockerfileTemplate(input.template);
  if (issues.length > 0) {
    throw new KilnError('InvalidArgument', `the Dockerfile template is invalid:\n${issues.map((i) => `  line ${i.line}: ${i.message}`).join('\n')}`, issues.map((i) => ({ path: `dockerfileTemplateData:${i.line}`, message: i.message })));
  }
  if (!REFERENCE_RE.test(input.parentImage)) throw new KilnError('InvalidArgument', `the parent image reference ${JSON.stringify(input.parentImage)} is not a single image reference`);
  const { escape } = parseDockerfile(input.template);
  const seen = new Set<string>();
  const lines = input.template.split(/\r?\n/).map((line, i) => {
    const standalone = STANDALONE_RE.exec(line);
    if (standalone) {
      const name = standalone[1]!;
      if (seen.has(name)) throw new KilnError('InvalidArgument', `line ${i + 1}: {{{ imagebuilder:${name} }}} appears more than once`);
      seen.add(name);
      return name === 'components' ? COMPONENTS_MARKER : environmentLine(input.environments, escape);
    }
    const inline = INLINE_RE.exec(line);
    if (inline) throw new KilnError('InvalidArgument', `line ${i + 1}: {{{ imagebuilder:${inline[1]} }}} must stand alone on its line`);
    return line.replace(PARENT_RE, input.parentImage);
  });
  return { dockerfile: lines.join('\n'), runsComponents: seen.has('components') };
}
