import type { Issue } from '../../domain/errors.js';
import type { Instance } from '../instance/instance.js';

/**
 * AWSTOE comparison and logical operators, shared by the Assert module and the `if` construct. Expressions are
 * checked when the document is validated and evaluated after variable substitution.
 */

const STRING_UNARY = ['stringIsEmpty', 'stringIsWhitespace'] as const;
const STRING_BINARY = [
  'stringEquals',
  'stringLessThan',
  'stringLessThanEquals',
  'stringGreaterThan',
  'stringGreaterThanEquals',
  'patternMatches',
] as const;
const NUMBER_BINARY = [
  'numberEquals',
  'numberLessThan',
  'numberLessThanEquals',
  'numberGreaterThan',
  'numberGreaterThanEquals',
] as const;
const BOOLEAN_BINARY = ['booleanEquals'] as const;
const FILE_UNARY = ['binaryExists', 'fileExists', 'folderExists'] as const;
const FILE_HASH = ['fileMD5Equals', 'fileSHA1Equals', 'fileSHA256Equals', 'fileSHA512Equals'] as const;
const LOGICAL = ['and', 'or', 'not'] as const;

const BINARY = new Set<string>([...STRING_BINARY, ...NUMBER_BINARY, ...BOOLEAN_BINARY, ...FILE_HASH]);
const UNARY = new Set<string>([...STRING_UNARY, ...FILE_UNARY]);
const COMPARISON = new Set<string>([...BINARY, ...UNARY]);
export const OPERATORS: readonly string[] = [...COMPARISON, ...LOGICAL];

/** Logical operators may nest this deep; deeper fails validation, as in AWSTOE. */
export const MAX_NESTING = 4;

export type StepAction = 'Abort' | 'Execute' | 'Skip';
const STEP_ACTIONS: readonly StepAction[] = ['Abort', 'Execute', 'Skip'];

/** A step's `if`: the expression and what to do when it is true or false. */
export interface Conditional {
  expression: Record<string, unknown>;
  then: StepAction;
  else: StepAction;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isScalar(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** Checks an expression's structure; returns every issue with its path. */
export function checkExpression(expr: unknown, path: string, depth = 1): Issue[] {
  if (!isMap(expr)) return [{ path, message: 'must be a map with one comparison or logical operator' }];
  const keys = Object.keys(expr);
  const ops = keys.filter((k) => OPERATORS.includes(k));
  const unknown = keys.filter((k) => k !== 'value' && !OPERATORS.includes(k));
  const issues: Issue[] = unknown.map((k) => ({
    path: `${path}.${k}`,
    message: `unknown operator "${k}"; expected one of: ${OPERATORS.join(', ')}`,
  }));
  if (ops.length !== 1) {
    if (unknown.length === 0) {
      issues.push({ path, message: `must hold exactly one operator, found ${ops.length === 0 ? 'none' : ops.join(', ')}` });
    }
    return issues;
  }
  const op = ops[0]!;
  const operand = expr[op];
  if (op === 'and' || op === 'or' || op === 'not') {
    if (depth > MAX_NESTING) {
      issues.push({ path, message: `logical operators nest deeper than ${MAX_NESTING} levels` });
      return issues;
    }
    if ('value' in expr) issues.push({ path: `${path}.value`, message: `"value" does not apply to "${op}"` });
    if (op === 'not') {
      issues.push(...checkExpression(operand, `${path}.not`, depth + 1));
    } else if (!Array.isArray(operand) || operand.length === 0) {
      issues.push({ path: `${path}.${op}`, message: `"${op}" takes a non-empty list of expressions` });
    } else {
      operand.forEach((e, i) => issues.push(...checkExpression(e, `${path}.${op}[${i}]`, depth + 1)));
    }
    return issues;
  }
  if (!isScalar(operand)) issues.push({ path: `${path}.${op}`, message: 'must be a string, number or boolean' });
  if (BINARY.has(op)) {
    if (!('value' in expr)) issues.push({ path: `${path}.value`, message: `"${op}" needs a "value" to compare with` });
    else if (!isScalar(expr.value)) issues.push({ path: `${path}.value`, message: 'must be a string, number or boolean' });
  } else if ('value' in expr) {
    issues.push({ path: `${path}.value`, message: `"value" does not apply to "${op}"` });
  }
  if (op === 'patternMatches' && typeof operand === 'string' && !operand.includes('{{')) {
    try {
      new RegExp(operand);
    } catch (err) {
      issues.push({ path: `${path}.patternMatches`, message: `invalid regular expression: ${(err as Error).message}` });
    }
  }
  return issues;
}

function parseAction(v: unknown, path: string, issues: Issue[], fallback: StepAction): StepAction {
  if (v === undefined || v === null) return fallback;
  const match = STEP_ACTIONS.find((a) => typeof v === 'string' && a.toLowerCase() === v.toLowerCase());
  if (match === undefined) issues.push({ path, message: `must be one of ${STEP_ACTIONS.join(', ')}` });
  return match ?? fallback;
}

/**
 * Reads a step's `if` in either real-world shape: a map (operator, `value`, and `then`/`else` as siblings) or a
 * one-item list of such a map, where `then`/`else` may also sit inside the operator's own map.
 */
export function parseConditional(raw: unknown, path: string, issues: Issue[]): Conditional | undefined {
  let node = raw;
  let nodePath = path;
  if (Array.isArray(raw)) {
    if (raw.length !== 1) {
      issues.push({ path, message: `must hold exactly one conditional expression, found ${raw.length}` });
      return undefined;
    }
    node = raw[0];
    nodePath = `${path}[0]`;
  }
  if (!isMap(node)) {
    issues.push({ path: nodePath, message: 'must be a conditional expression (a map)' });
    return undefined;
  }
  const expression: Record<string, unknown> = { ...node };
  let thenRaw = expression.then;
  let elseRaw = expression.else;
  delete expression.then;
  delete expression.else;
  const keys = Object.keys(expression);
  // `- stringEquals: {…}` style: the operator's value is a map that carries value/then/else itself.
  if (keys.length === 1 && COMPARISON.has(keys[0]!) && isMap(expression[keys[0]!])) {
    const inner = { ...(expression[keys[0]!] as Record<string, unknown>) };
    if ('then' in inner || 'else' in inner || 'value' in inner) {
      thenRaw ??= inner.then;
      elseRaw ??= inner.else;
      const op = keys[0]!;
      const operand = inner[op] ?? inner.input;
      delete expression[op];
      expression[op] = operand;
      if ('value' in inner) expression.value = inner.value;
    }
  }
  const then = parseAction(thenRaw, `${nodePath}.then`, issues, 'Execute');
  const otherwise = parseAction(elseRaw, `${nodePath}.else`, issues, 'Skip');
  issues.push(...checkExpression(expression, nodePath));
  return { expression, then, else: otherwise };
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return undefined;
  const s = String(v).trim();
  if (s === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

function toBoolean(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  return s === 'true' ? true : s === 'false' ? false : undefined;
}

function compareStrings(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

const HASHES: Record<string, string> = {
  fileMD5Equals: 'md5sum',
  fileSHA1Equals: 'sha1sum',
  fileSHA256Equals: 'sha256sum',
  fileSHA512Equals: 'sha512sum',
};

/** What an evaluation produced, with a readable account for failure messages. */
export interface Evaluation {
  result: boolean;
  description: string;
}

/**
 * Evaluates a checked, substituted expression. File operators look inside the instance. Logical operators
 * short-circuit in order, as AWSTOE's do.
 */
export async function evaluate(expr: Record<string, unknown>, instance: Instance): Promise<Evaluation> {
  const op = Object.keys(expr).find((k) => OPERATORS.includes(k))!;
  const operand = expr[op];
  const value = expr.value;
  const show = (r: boolean, d: string): Evaluation => ({ result: r, description: d });
  switch (op) {
    case 'and':
    case 'or': {
      const parts: string[] = [];
      for (const e of operand as Record<string, unknown>[]) {
        const r = await evaluate(e, instance);
        parts.push(r.description);
        if (op === 'and' && !r.result) return show(false, `and(${parts.join(', ')})`);
        if (op === 'or' && r.result) return show(true, `or(${parts.join(', ')})`);
      }
      return show(op === 'and', `${op}(${parts.join(', ')})`);
    }
    case 'not': {
      const r = await evaluate(operand as Record<string, unknown>, instance);
      return show(!r.result, `not(${r.description})`);
    }
    case 'stringIsEmpty':
      return show(String(operand) === '', `stringIsEmpty(${JSON.stringify(String(operand))})`);
    case 'stringIsWhitespace': {
      const s = String(operand);
      return show(s.length > 0 && s.trim() === '', `stringIsWhitespace(${JSON.stringify(s)})`);
    }
    case 'patternMatches': {
      const s = String(value);
      let re: RegExp;
      try {
        re = new RegExp(String(operand));
      } catch {
        return show(false, `patternMatches(invalid pattern ${JSON.stringify(String(operand))})`);
      }
      return show(re.test(s), `${JSON.stringify(s)} patternMatches ${JSON.stringify(String(operand))}`);
    }
    case 'binaryExists': {
      const r = await instance.exec(['sh', '-c', 'command -v -- "$1" >/dev/null 2>&1', 'sh', String(operand)]);
      return show(r.exitCode === 0, `binaryExists(${String(operand)})`);
    }
    case 'fileExists':
    case 'folderExists': {
      const st = await instance.fs.stat(String(operand));
      const ok = st !== null && (op === 'fileExists' ? st.type === 'file' : st.type === 'directory');
      return show(ok, `${op}(${String(operand)})`);
    }
  }
  if (op in HASHES) {
    const r = await instance.exec([HASHES[op]!, '--', String(value)]);
    const actual = r.exitCode === 0 ? (r.stdout.split(/\s/)[0] ?? '') : '';
    return show(actual !== '' && actual.toLowerCase() === String(operand).trim().toLowerCase(), `${op}(${String(value)})`);
  }
  if (op.startsWith('string')) {
    const c = compareStrings(String(value), String(operand));
    const result =
      op === 'stringEquals' ? c === 0
      : op === 'stringLessThan' ? c < 0
      : op === 'stringLessThanEquals' ? c <= 0
      : op === 'stringGreaterThan' ? c > 0
      : c >= 0;
    return show(result, `${JSON.stringify(String(value))} ${op} ${JSON.stringify(String(operand))}`);
  }
  if (op.startsWith('number')) {
    const a = toNumber(value);
    const b = toNumber(operand);
    const text = `${String(value)} ${op} ${String(operand)}`;
    if (a === undefined || b === undefined) return show(false, `${text} (not a number)`);
    const result =
      op === 'numberEquals' ? a === b
      : op === 'numberLessThan' ? a < b
      : op === 'numberLessThanEquals' ? a <= b
      : op === 'numberGreaterThan' ? a > b
      : a >= b;
    return show(result, text);
  }
  // booleanEquals
  const a = toBoolean(value);
  const b = toBoolean(operand);
  return show(a !== undefined && a === b, `${String(value)} booleanEquals ${String(operand)}`);
}
