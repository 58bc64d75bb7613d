/**
 * The values of a running workflow document: its parameters bound from the image's `workflows[].parameters`
 * and the document's defaults, JSONPath references (`$.parameters.p`, `$.stepOutputs.Step.key`,
 * `$.imagebuilder.imageType`, `$.workflowOutputs.Name`) in `key.$` inputs and `{{ $.… }}` interpolations, and
 * `if` conditions. Pure functions: every problem is a KilnError naming the document path at fault.
 */
import { KilnError } from '../../domain/errors.js';
import { isJsonObject } from '../../domain/json.js';

type Obj = Record<string, unknown>;

/** What `$.…` can read while a workflow runs. */
export interface WorkflowScope {
  parameters: Obj;
  /** Each completed step's outputs by step name. */
  stepOutputs: Record<string, Obj>;
  /** System variables (AWS's `$.imagebuilder.*`). */
  imagebuilder: Obj;
  /** Outputs of workflows that ran before this one in the image's build. */
  workflowOutputs: Obj;
}

/** A declared parameter of a workflow document. */
export interface DeclaredParameter {
  name: string;
  type: string;
  default?: unknown;
}

const PATH_RE = /^\$((?:\.[A-Za-z0-9_-]+|\[\d+\])+)$/;
const SEGMENT_RE = /\.([A-Za-z0-9_-]+)|\[(\d+)\]/g;
const INTERPOLATION_RE = /\{\{\s*(\$[^}\s]*)\s*\}\}/g;

function invalid(at: string, message: string): KilnError {
  return new KilnError('InvalidArgument', `${at}: ${message}`, [{ path: at, message }]);
}

/** True when the text is a JSONPath reference as a whole (`$.x.y`). */
export function isReference(text: unknown): text is string {
  return typeof text === 'string' && PATH_RE.test(text.trim());
}

/** Reads `$.node.key…` from the scope; an unknown path fails naming `at` and the part that was missing. */
export function readPath(scope: WorkflowScope, text: string, at: string): unknown {
  const m = PATH_RE.exec(text.trim());
  if (!m) throw invalid(at, `${text} is not a JSONPath ($.parameters.<name>, $.stepOutputs.<step>.<output>, $.imagebuilder.<variable>)`);
  let value: unknown = scope as unknown;
  let walked = '$';
  for (const seg of m[1]!.matchAll(SEGMENT_RE)) {
    const key = seg[1] ?? Number(seg[2]);
    const next = typeof key === 'number' ? (Array.isArray(value) ? value[key] : undefined) : isJsonObject(value) && Object.hasOwn(value, key) ? value[key] : undefined;
    walked += typeof key === 'number' ? `[${key}]` : `.${key}`;
    if (next === undefined) {
      const where = walked === `$.${String(key)}` ? 'is not a node (parameters, stepOutputs, imagebuilder, workflowOutputs)' : 'has no value';
      throw invalid(at, `${text}: ${walked} ${where}`);
    }
    value = next;
  }
  return value;
}

function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Replaces each `{{ $.… }}` in a string with the value it names (JSON for non-strings). */
export function interpolate(text: string, scope: WorkflowScope, at: string): string {
  return text.replace(INTERPOLATION_RE, (_, ref: string) => asText(readPath(scope, ref, at)));
}

/**
 * A step's inputs with their references resolved: a key ending in `.$` takes the value its JSONPath names
 * (under the key without the suffix), strings are interpolated, lists and mappings resolved throughout.
 */
export function resolveInputs(value: unknown, scope: WorkflowScope, at: string): unknown {
  if (typeof value === 'string') return interpolate(value, scope, at);
  if (Array.isArray(value)) return value.map((v, i) => resolveInputs(v, scope, `${at}[${i}]`));
  if (!isJsonObject(value)) return value;
  const out: Obj = {};
  for (const [key, v] of Object.entries(value)) {
    if (key.endsWith('.$')) {
      if (typeof v !== 'string') throw invalid(`${at}.${key}`, 'a key ending in .$ takes a JSONPath string');
      out[key.slice(0, -2)] = readPath(scope, v, `${at}.${key}`);
    } else {
      out[key] = resolveInputs(v, scope, `${at}.${key}`);
    }
  }
  return out;
}

/** An operand of a comparison: a JSONPath is read, anything else taken as written. */
function operand(value: unknown, scope: WorkflowScope, at: string): unknown {
  return isReference(value) ? readPath(scope, value, at) : value;
}

function asNumber(value: unknown, at: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw invalid(at, `${asText(value)} is not a number`);
  return n;
}

function asBoolean(value: unknown, at: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw invalid(at, `${asText(value)} is not a boolean`);
}

const NUMBER_TESTS: Record<string, (a: number, b: number) => boolean> = {
  numberEquals: (a, b) => a === b,
  numberGreaterThan: (a, b) => a > b,
  numberGreaterThanEquals: (a, b) => a >= b,
  numberLessThan: (a, b) => a < b,
  numberLessThanEquals: (a, b) => a <= b,
};

/**
 * Evaluates an `if`: `and`/`or` (lists), `not`, or one comparison whose operand (a value or a JSONPath) is
 * compared with `value` (also a value or a JSONPath).
 */
export function evaluateCondition(condition: unknown, scope: WorkflowScope, at: string): boolean {
  if (!isJsonObject(condition)) throw invalid(at, 'must be a mapping with one operator');
  const op = Object.keys(condition).find((k) => k !== 'value');
  if (op === undefined) throw invalid(at, 'has no operator');
  const arg = condition[op];
  const path = `${at}.${op}`;
  if (op === 'and' || op === 'or') {
    if (!Array.isArray(arg)) throw invalid(path, 'must be a list of conditions');
    const results = (i: number) => evaluateCondition(arg[i], scope, `${path}[${i}]`);
    return op === 'and' ? arg.every((_, i) => results(i)) : arg.some((_, i) => results(i));
  }
  if (op === 'not') return !evaluateCondition(arg, scope, path);
  const left = operand(arg, scope, path);
  const right = operand(condition.value, scope, `${at}.value`);
  if (op === 'booleanEquals') return asBoolean(left, path) === asBoolean(right, `${at}.value`);
  if (op === 'stringEquals') return asText(left) === asText(right);
  const test = NUMBER_TESTS[op];
  if (!test) throw invalid(path, 'is not a condition operator');
  return test(asNumber(left, path), asNumber(right, `${at}.value`));
}

/** Converts a parameter value given as AWS's list of strings to the declared type. */
function typed(param: DeclaredParameter, values: string[], at: string): unknown {
  if (param.type === 'stringList') return values;
  if (values.length !== 1) throw invalid(at, `parameter "${param.name}" of type ${param.type} takes exactly one value, not ${values.length}`);
  const [v] = values as [string];
  if (param.type === 'integer') {
    if (!/^-?\d+$/.test(v.trim())) throw invalid(at, `parameter "${param.name}" must be an integer, not ${JSON.stringify(v)}`);
    return Number(v);
  }
  if (param.type === 'boolean') {
    if (v !== 'true' && v !== 'false') throw invalid(at, `parameter "${param.name}" must be true or false, not ${JSON.stringify(v)}`);
    return v === 'true';
  }
  return v;
}

/**
 * The parameters a workflow runs with: each given value converted to its declared type, defaults for the rest.
 * An undeclared parameter, a value of the wrong type, or a declared one with neither value nor default fails
 * naming `at` (the image's `workflows[i].parameters`).
 */
export function bindParameters(declared: readonly DeclaredParameter[], given: readonly { name?: unknown; value?: unknown }[], at: string): Obj {
  const out: Obj = {};
  given.forEach((g, i) => {
    const param = declared.find((p) => p.name === g.name);
    if (!param) throw invalid(`${at}[${i}].name`, `the workflow declares no parameter ${JSON.stringify(g.name)}`);
    const values = Array.isArray(g.value) ? g.value.map(String) : [String(g.value ?? '')];
    out[param.name] = typed(param, values, `${at}[${i}].value`);
  });
  for (const p of declared) {
    if (p.name in out) continue;
    if (p.default === undefined) throw invalid(at, `the workflow's parameter "${p.name}" has no default and no value was given`);
    out[p.name] = p.default;
  }
  return out;
}
