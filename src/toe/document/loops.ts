import type { Issue } from '../../domain/errors.js';

/** A step's loop as written; its values may still hold `{{ }}` references, resolved before iteration. */
export interface LoopSpec {
  name: string | undefined;
  raw: Record<string, unknown>;
}

export interface Iteration {
  index: number;
  value: string;
}

const DELIMITERS = ['.', ',', ';', ':', '\n', '\t', ' ', '-', '_'];
/** More iterations than this is a mistake, not a build. */
export const MAX_ITERATIONS = 100_000;
const LOOP_NAME = /^[A-Za-z0-9_-]{1,128}$/;

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hasRef(v: unknown): boolean {
  return typeof v === 'string' && v.includes('{{');
}

function intOf(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return Number(v);
  return undefined;
}

/** Checks a loop's structure (lenient about values that hold references) and returns it. */
export function parseLoop(raw: unknown, path: string, issues: Issue[]): LoopSpec | undefined {
  if (!isMap(raw)) {
    issues.push({ path, message: 'must be a map with "for" or "forEach"' });
    return undefined;
  }
  for (const key of Object.keys(raw)) {
    if (!['name', 'for', 'forEach'].includes(key)) {
      issues.push({ path: `${path}.${key}`, message: `unknown loop key "${key}"; expected name, for or forEach` });
    }
  }
  let name: string | undefined;
  if (raw.name !== undefined) {
    if (typeof raw.name !== 'string' || !LOOP_NAME.test(raw.name)) {
      issues.push({ path: `${path}.name`, message: 'must be 1-128 characters of letters, digits, "_" or "-"' });
    } else if (raw.name === 'loop') {
      issues.push({ path: `${path}.name`, message: '"loop" is reserved for the current loop' });
    } else {
      name = raw.name;
    }
  }
  const hasFor = raw.for !== undefined;
  const hasForEach = raw.forEach !== undefined;
  if (hasFor === hasForEach) {
    issues.push({ path, message: 'must hold exactly one of "for" and "forEach"' });
    return undefined;
  }
  const before = issues.length;
  if (hasFor) checkFor(raw.for, `${path}.for`, issues);
  else checkForEach(raw.forEach, `${path}.forEach`, issues);
  return issues.length === before ? { name, raw } : undefined;
}

function checkFor(spec: unknown, path: string, issues: Issue[]): void {
  if (!isMap(spec)) {
    issues.push({ path, message: 'must be a map with start, end and updateBy' });
    return;
  }
  for (const key of Object.keys(spec)) {
    if (!['start', 'end', 'updateBy'].includes(key)) {
      issues.push({ path: `${path}.${key}`, message: `unknown key "${key}"; expected start, end, updateBy` });
    }
  }
  const nums: Record<string, number | undefined> = {};
  for (const key of ['start', 'end', 'updateBy']) {
    const v = spec[key];
    if (v === undefined) issues.push({ path: `${path}.${key}`, message: 'is required' });
    else if (hasRef(v)) nums[key] = undefined;
    else if (intOf(v) === undefined) issues.push({ path: `${path}.${key}`, message: `must be an integer, got ${JSON.stringify(v)}` });
    else nums[key] = intOf(v);
  }
  if (nums.updateBy === 0) issues.push({ path: `${path}.updateBy`, message: 'must not be 0' });
  const { start, end, updateBy } = nums;
  if (start !== undefined && end !== undefined && updateBy !== undefined && updateBy !== 0) {
    const message = forRangeProblem(start, end, updateBy);
    if (message) issues.push({ path, message });
  }
}

function forRangeProblem(start: number, end: number, updateBy: number): string | undefined {
  if ((end - start) * updateBy < 0) return `never reaches end ${end} from start ${start} by ${updateBy}: infinite loop`;
  if (Math.floor((end - start) / updateBy) + 1 > MAX_ITERATIONS) return `more than ${MAX_ITERATIONS} iterations`;
  return undefined;
}

function checkForEach(spec: unknown, path: string, issues: Issue[]): void {
  if (Array.isArray(spec)) {
    spec.forEach((v, i) => {
      if (!(typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) {
        issues.push({ path: `${path}[${i}]`, message: 'must be a string' });
      }
    });
    if (spec.length > MAX_ITERATIONS) issues.push({ path, message: `more than ${MAX_ITERATIONS} iterations` });
    return;
  }
  if (!isMap(spec)) {
    issues.push({ path, message: 'must be a list of strings, or a map with list and delimiter' });
    return;
  }
  for (const key of Object.keys(spec)) {
    if (!['list', 'delimiter'].includes(key)) {
      issues.push({ path: `${path}.${key}`, message: `unknown key "${key}"; expected list, delimiter` });
    }
  }
  if (typeof spec.list !== 'string') issues.push({ path: `${path}.list`, message: 'must be a string' });
  const d = spec.delimiter;
  if (d !== undefined && (typeof d !== 'string' || !DELIMITERS.includes(d))) {
    issues.push({
      path: `${path}.delimiter`,
      message: `must be one character of ${DELIMITERS.map((c) => JSON.stringify(c)).join(' ')}`,
    });
  }
}

/** The iterations of a loop whose references have been substituted; throws on values that are still wrong. */
export function iterations(raw: Record<string, unknown>): Iteration[] {
  const issues: Issue[] = [];
  if (raw.for !== undefined) {
    const spec = raw.for as Record<string, unknown>;
    const start = intOf(spec.start);
    const end = intOf(spec.end);
    const updateBy = intOf(spec.updateBy);
    if (start === undefined || end === undefined || updateBy === undefined || updateBy === 0) {
      throw new Error(`loop.for needs integer start, end and a non-zero updateBy, got ${JSON.stringify(spec)}`);
    }
    const problem = forRangeProblem(start, end, updateBy);
    if (problem) throw new Error(`loop.for ${problem}`);
    const out: Iteration[] = [];
    for (let v = start, i = 0; updateBy > 0 ? v <= end : v >= end; v += updateBy, i++) out.push({ index: i, value: String(v) });
    return out;
  }
  const spec = raw.forEach;
  let values: string[];
  if (Array.isArray(spec)) values = spec.map((v) => String(v));
  else {
    const map = spec as Record<string, unknown>;
    const delimiter = typeof map.delimiter === 'string' ? map.delimiter : ',';
    values = String(map.list).split(delimiter);
  }
  if (values.length > MAX_ITERATIONS) issues.push({ path: 'loop', message: 'too many iterations' });
  if (issues.length > 0) throw new Error(`loop has more than ${MAX_ITERATIONS} iterations`);
  return values.map((value, index) => ({ index, value }));
}
