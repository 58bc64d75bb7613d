import type { Issue } from '../../domain/errors.js';
import { ActionFailure, type ActionModule, type FieldSpec } from './types.js';

const TEMPLATE = /\{\{.*?\}\}/s;

/** True when a value still holds a `{{ }}` reference, so its type can only be checked after substitution. */
export function hasTemplate(value: unknown): boolean {
  if (typeof value === 'string') return TEMPLATE.test(value);
  if (Array.isArray(value)) return value.some(hasTemplate);
  return false;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a map' : `${typeof value} ${JSON.stringify(value)}`;
}

/** Coerces one value to its spec; returns the value or an error message. Templates pass through when `lenient`. */
function coerceValue(spec: FieldSpec, value: unknown, lenient: boolean): { value?: unknown; error?: string } {
  if (lenient && hasTemplate(value)) return { value };
  switch (spec.type) {
    case 'string': {
      if (typeof value === 'string') break;
      if (typeof value === 'number' || typeof value === 'boolean') return finish(spec, String(value));
      return { error: `must be a string, got ${describe(value)}` };
    }
    case 'boolean': {
      if (typeof value === 'boolean') break;
      if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) {
        return finish(spec, value.trim().toLowerCase() === 'true');
      }
      return { error: `must be true or false, got ${describe(value)}` };
    }
    case 'integer': {
      if (typeof value === 'number' && Number.isInteger(value)) break;
      if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return finish(spec, Number(value));
      return { error: `must be an integer, got ${describe(value)}` };
    }
    case 'stringList': {
      if (!Array.isArray(value)) return { error: `must be a list of strings, got ${describe(value)}` };
      const list: unknown[] = value;
      const bad = list.findIndex((v) => !(typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'));
      if (bad >= 0) return { error: `[${bad}] must be a string, got ${describe(list[bad])}` };
      return finish(spec, list.map((v) => String(v)));
    }
    case 'map': {
      if (!isRecord(value)) return { error: `must be a map, got ${describe(value)}` };
      break;
    }
    case 'any':
      break;
  }
  return finish(spec, value);
}

function finish(spec: FieldSpec, value: unknown): { value?: unknown; error?: string } {
  if (spec.enum && typeof value === 'string') {
    const wanted = value.toLowerCase();
    const match = spec.enum.find((e) => e.toLowerCase() === wanted);
    if (match === undefined) return { error: `must be one of ${spec.enum.join(', ')}, got ${JSON.stringify(value)}` };
    value = match;
  }
  const message = spec.check?.(value);
  return message === undefined ? { value } : { error: message };
}

/**
 * Checks (lenient = true, at validation time) or coerces (lenient = false, at run time) one map of fields:
 * unknown keys, missing required fields, types and enums. Returns the coerced map with defaults filled in.
 */
export function applyFields(
  fields: Readonly<Record<string, FieldSpec>>,
  input: unknown,
  path: string,
  lenient: boolean,
  issues: Issue[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isRecord(input)) {
    issues.push({ path, message: `must be a map of inputs, got ${describe(input)}` });
    return out;
  }
  for (const key of Object.keys(input)) {
    if (!(key in fields)) {
      issues.push({
        path: `${path}.${key}`,
        message: `unknown input "${key}"; expected one of: ${Object.keys(fields).join(', ')}`,
      });
    }
  }
  for (const [name, spec] of Object.entries(fields)) {
    const raw = input[name];
    if (raw === undefined || raw === null) {
      if (spec.required) issues.push({ path: `${path}.${name}`, message: 'is required' });
      else if (spec.default !== undefined) out[name] = spec.default;
      continue;
    }
    const { value, error } = coerceValue(spec, raw, lenient);
    if (error !== undefined) issues.push({ path: `${path}.${name}`, message: error });
    else out[name] = value;
  }
  return out;
}

/** Applies a module's input shape and field specs; returns the coerced inputs (record or list of records). */
export function applyShape(module: ActionModule, inputs: unknown, path: string, lenient: boolean, issues: Issue[]): unknown {
  const fields = module.fields ?? {};
  switch (module.inputShape) {
    case 'object':
      if (inputs === undefined || inputs === null) {
        issues.push({ path, message: `action ${module.name} has no inputs; it requires an 'inputs' map` });
        return {};
      }
      return applyFields(fields, inputs, path, lenient, issues);
    case 'list':
    case 'objectOrList': {
      if (inputs === undefined || inputs === null || (Array.isArray(inputs) && inputs.length === 0)) {
        issues.push({ path, message: `action ${module.name} has no inputs; it requires an 'inputs' list` });
        return [];
      }
      if (!Array.isArray(inputs)) {
        if (module.inputShape === 'objectOrList') return [applyFields(fields, inputs, path, lenient, issues)];
        issues.push({ path, message: `action ${module.name} takes a list of input maps, got ${describe(inputs)}` });
        return [];
      }
      return inputs.map((item, i) => applyFields(fields, item, `${path}[${i}]`, lenient, issues));
    }
    case 'none':
    case 'expression':
      return inputs;
  }
}

/** Run-time coercion: throws an ActionFailure naming every bad field. */
export function coerceInputs(module: ActionModule, inputs: unknown, path: string): unknown {
  const issues: Issue[] = [];
  const value = applyShape(module, inputs, path, false, issues);
  if (issues.length > 0) {
    throw new ActionFailure(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  }
  return value;
}

/** Parses octal permissions such as "0755" or "755"; symbolic modes are not accepted. */
export function parseMode(value: unknown): number | undefined {
  const s = String(value).trim();
  if (!/^0?[0-7]{3,4}$/.test(s)) return undefined;
  return parseInt(s, 8);
}

export const checkMode = (value: unknown): string | undefined =>
  parseMode(value) === undefined ? `must be octal permissions such as "0755", got ${JSON.stringify(value)}` : undefined;
