import type { Issue } from '../../domain/errors.js';
import { STRUCTURES } from './generated/operations.js';
import type { StructureDef, TypeRef } from './operation-types.js';

/** Looks up a structure of the generated model; a missing one is a generator bug, not a client error. */
export function structure(name: string): StructureDef {
  const def = STRUCTURES[name];
  if (!def) throw new Error(`structure ${name} is not in the generated model`);
  return def;
}

function describe(type: TypeRef): string {
  if (typeof type === 'string') return type;
  if ('list' in type) return 'list';
  if ('map' in type) return 'map';
  return 'structure';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks a decoded JSON value against a model type and returns every problem with its path
 * (`distributions[0].region`). Unknown members are problems too: silently dropping them would hide typos.
 */
export function checkValue(type: TypeRef, value: unknown, path: string, issues: Issue[]): void {
  if (value === null || value === undefined) return;
  const wrong = (): void => {
    issues.push({ path, message: `expected ${describe(type)}, got ${Array.isArray(value) ? 'array' : typeof value}` });
  };
  if (typeof type === 'string') {
    switch (type) {
      case 'string':
      case 'blob':
        if (typeof value !== 'string') wrong();
        return;
      case 'number':
      case 'bigInteger':
      case 'bigDecimal':
        if (typeof value !== 'number' || !Number.isFinite(value)) wrong();
        return;
      case 'boolean':
        if (typeof value !== 'boolean') wrong();
        return;
      case 'timestamp':
        if (typeof value !== 'number' && typeof value !== 'string') wrong();
        return;
      case 'document':
        return;
    }
  }
  if ('list' in type) {
    if (!Array.isArray(value)) return wrong();
    value.forEach((item, i) => checkValue(type.list, item, `${path}[${i}]`, issues));
    return;
  }
  if ('map' in type) {
    if (!isPlainObject(value)) return wrong();
    for (const [k, v] of Object.entries(value)) checkValue(type.map, v, `${path}.${k}`, issues);
    return;
  }
  if (!isPlainObject(value)) return wrong();
  checkStructure(type.structure, value, path, issues);
}

/** Checks an object against a named structure: member types, unknown members and required members. */
export function checkStructure(name: string, value: Record<string, unknown>, path: string, issues: Issue[]): void {
  const def = structure(name);
  const prefix = path ? `${path}.` : '';
  for (const [key, v] of Object.entries(value)) {
    const member = def.members.find((m) => m.name === key);
    if (!member) {
      issues.push({ path: `${prefix}${key}`, message: `unknown field for ${name}` });
      continue;
    }
    checkValue(member.type, v, `${prefix}${key}`, issues);
  }
  for (const req of def.required) {
    if (value[req] === undefined || value[req] === null) issues.push({ path: `${prefix}${req}`, message: 'is required' });
  }
}

/**
 * Shapes a handler's result for the wire: keeps only modeled members (internal fields never leak), drops
 * empty values, and writes Date values of timestamp members as epoch seconds (restJson1's default).
 */
export function serializeValue(type: TypeRef, value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (typeof type === 'string') {
    if (type === 'timestamp' && value instanceof Date) return value.getTime() / 1000;
    return value;
  }
  if ('list' in type) {
    return Array.isArray(value) ? value.map((v) => serializeValue(type.list, v)) : undefined;
  }
  if ('map' in type) {
    if (!isPlainObject(value)) return undefined;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, serializeValue(type.map, v)]));
  }
  if (!isPlainObject(value)) return undefined;
  const out: Record<string, unknown> = {};
  for (const member of structure(type.structure).members) {
    const v = serializeValue(member.type, value[member.name]);
    if (v !== undefined) out[member.name] = v;
  }
  return out;
}
