/**
 * What `kiln build` is given, read and checked before any engine starts: the recipe file (the JSON or YAML of a
 * CreateImageRecipe or CreateContainerRecipe request), AWSTOE component files and `--parameters`. Every problem
 * names the option or the field's path (`recipe.components[1].componentArn`), never a path on this host: the
 * files are named by the option that gave them and their base name.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/** A problem with what `kiln build` was given; its message is the whole explanation. */
export class BuildInputError extends Error {}

/** Which request the recipe file is. */
export type RecipeKind = 'container' | 'image';

/** A component document given as a file, to be stored in the local data directory. */
export interface LocalComponentFile {
  /** Where it came from, for messages: `--component #2 (install.yaml)`. */
  label: string;
  /** The document's `name`, else the file's base name made a valid component name. */
  name: string;
  data: string;
}

/** The recipe request as read, with its kind. */
export interface RecipeFile {
  kind: RecipeKind;
  /** The request's members; `name` and `semanticVersion` defaulted (file name, 1.0.0) when absent. */
  request: Record<string, unknown>;
}

const NAME_RE = /^[-_A-Za-z0-9][-_A-Za-z0-9 ]{1,126}[-_A-Za-z0-9]$/;
/** Members only CreateContainerRecipe has. */
const CONTAINER_MEMBERS = ['containerType', 'dockerfileTemplateData', 'dockerfileTemplateUri', 'targetRepository', 'imageOsVersionOverride', 'instanceConfiguration'];

function readText(file: string, label: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (code ?? 'unreadable');
    throw new BuildInputError(`${label}: cannot read ${path.basename(file)} (${why})`);
  }
}

/** YAML (JSON is YAML) with duplicate keys refused; the parser's message carries the line and column. */
function parseDocument(text: string, label: string): unknown {
  try {
    return parse(text, { uniqueKeys: true, maxAliasCount: 100 }) as unknown;
  } catch (err) {
    const message = (err as Error).message.split('\n')[0];
    throw new BuildInputError(`${label}: not valid YAML or JSON: ${message}`);
  }
}

/** A component or recipe name made from a file's base name: invalid characters become `-`, padded to 3. */
export function nameFromFile(file: string): string {
  const stem = path.basename(file).replace(/\.(ya?ml|json)$/i, '');
  let name = stem.replace(/[^-_A-Za-z0-9]/g, '-').slice(0, 128);
  while (name.length < 3) name += '-';
  return name;
}

/** Which request a recipe is, by its members: any container-only member makes it a container recipe. */
export function recipeKind(request: Record<string, unknown>): RecipeKind {
  return CONTAINER_MEMBERS.some((m) => request[m] !== undefined) ? 'container' : 'image';
}

/** Reads `--recipe FILE`: a mapping with a parentImage and a components list (which `--component` files may fill). */
export function readRecipeFile(file: string): RecipeFile {
  const label = '--recipe';
  const doc = parseDocument(readText(file, label), `${label} ${path.basename(file)}`);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new BuildInputError(`recipe: must be a mapping of CreateImageRecipe or CreateContainerRecipe members`);
  const request = { ...(doc as Record<string, unknown>) };
  request.name ??= nameFromFile(file);
  request.semanticVersion ??= '1.0.0';
  if (typeof request.name !== 'string' || !NAME_RE.test(request.name)) throw new BuildInputError('recipe.name: must be 3-128 characters: letters, digits, spaces, - and _');
  if (typeof request.parentImage !== 'string' || request.parentImage === '') throw new BuildInputError('recipe.parentImage: required (an image ARN, an OCI reference, or ami-…)');
  const components = request.components ?? [];
  if (!Array.isArray(components)) throw new BuildInputError('recipe.components: must be a list of {componentArn, parameters?}');
  components.forEach((c: unknown, i) => {
    if (typeof c !== 'object' || c === null || typeof (c as { componentArn?: unknown }).componentArn !== 'string') throw new BuildInputError(`recipe.components[${i}].componentArn: required (a component ARN)`);
  });
  request.components = components;
  return { kind: recipeKind(request), request };
}

/** Reads the `--component` files, in order; `index` counts from 1 in messages. */
export function readComponentFiles(files: readonly string[]): LocalComponentFile[] {
  return files.map((file, i) => {
    const label = `--component #${i + 1} (${path.basename(file)})`;
    const data = readText(file, label);
    const doc = parseDocument(data, label);
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new BuildInputError(`${label}: must be an AWSTOE document (a mapping with phases)`);
    const declared = (doc as { name?: unknown }).name;
    const name = typeof declared === 'string' && NAME_RE.test(declared) ? declared : nameFromFile(file);
    return { label, name, data };
  });
}

/** Parses `--parameters K=V,K2=V2` into name → value; a value may hold `=` but not `,`. */
export function parseParameters(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (text === undefined || text.trim() === '') return out;
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? '' : pair.slice(0, eq).trim();
    if (!name) throw new BuildInputError(`--parameters: '${pair}' is not NAME=VALUE`);
    if (out.has(name)) throw new BuildInputError(`--parameters: ${name} is given twice`);
    out.set(name, pair.slice(eq + 1));
  }
  return out;
}

/** A recipe's component entry as the request takes it. */
export interface RecipeComponent {
  componentArn: string;
  parameters?: { name: string; value: string[] }[];
}

/**
 * Sets each `--parameters` value on every component that declares a parameter of that name (`declared[i]` are
 * the names component i declares), over the values the recipe gave. A name no component declares is an error.
 */
export function applyParameters(components: readonly RecipeComponent[], declared: readonly (readonly string[])[], parameters: ReadonlyMap<string, string>): RecipeComponent[] {
  const used = new Set<string>();
  const out = components.map((c, i) => {
    const names = declared[i] ?? [];
    const set = [...parameters].filter(([name]) => names.includes(name));
    if (set.length === 0) return c;
    for (const [name] of set) used.add(name);
    const kept = (c.parameters ?? []).filter((p) => !parameters.has(p.name));
    return { ...c, parameters: [...kept, ...set.map(([name, value]) => ({ name, value: [value] }))] };
  });
  const unknown = [...parameters.keys()].filter((name) => !used.has(name));
  if (unknown.length > 0) throw new BuildInputError(`--parameters: no component of the recipe declares the parameter ${unknown.join(', ')}`);
  return out;
}
