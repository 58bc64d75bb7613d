import type { Issue } from '../../domain/errors.js';
import { awsError } from './errors.js';
import { OPERATIONS } from './generated/operations.js';
import type { MemberDef, OperationDef, TypeRef } from './operation-types.js';
import { checkStructure, structure } from './shapes.js';

interface Route {
  op: OperationDef;
  /** Literal path segments, or null where a `{label}` sits. */
  segments: (string | null)[];
  labels: string[];
}

const ROUTES: Route[] = OPERATIONS.map((op) => {
  const parts = op.path.split('/').slice(1);
  return {
    op,
    segments: parts.map((p) => (p.startsWith('{') ? null : p)),
    labels: parts.filter((p) => p.startsWith('{')).map((p) => p.slice(1, -1).replace(/\+$/, '')),
  };
});

/** The operation a request addresses, with its decoded path labels; undefined when nothing matches. */
export function matchOperation(method: string, rawPath: string): { op: OperationDef; labels: Record<string, string> } | undefined {
  const parts = rawPath.split('/').slice(1);
  for (const route of ROUTES) {
    if (route.op.method !== method || route.segments.length !== parts.length) continue;
    const labels: Record<string, string> = {};
    let ok = true;
    let li = 0;
    for (let i = 0; i < parts.length && ok; i++) {
      const seg = route.segments[i];
      const part = parts[i] ?? '';
      if (seg === null) {
        try {
          labels[route.labels[li++] ?? ''] = decodeURIComponent(part);
        } catch {
          ok = false;
        }
        ok = ok && part.length > 0;
      } else {
        ok = seg === part;
      }
    }
    if (ok) return { op: route.op, labels };
  }
  return undefined;
}

/** True when some operation lives at this path under another method (answered as a bad request, not 404). */
export function pathExists(rawPath: string): boolean {
  return ['GET', 'PUT', 'POST', 'DELETE'].some((m) => matchOperation(m, rawPath) !== undefined);
}

function fromQuery(member: MemberDef, values: string[], issues: Issue[]): unknown {
  const scalar = (type: TypeRef, v: string): unknown => {
    switch (type) {
      case 'number': {
        const n = Number(v);
        if (v.trim() === '' || !Number.isFinite(n)) issues.push({ path: member.name, message: 'expected a number' });
        return n;
      }
      case 'boolean':
        if (v !== 'true' && v !== 'false') issues.push({ path: member.name, message: 'expected true or false' });
        return v === 'true';
      default:
        return v;
    }
  };
  if (typeof member.type === 'object' && 'list' in member.type) {
    const item = member.type.list;
    return values.map((v) => scalar(item, v));
  }
  return scalar(member.type, values[values.length - 1] ?? '');
}

/** The parts of an HTTP request the restJson1 binding reads. */
export interface WireRequest {
  labels: Record<string, string>;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * Decodes an operation's input from labels, query string, headers and JSON body as the table binds them,
 * and checks it against the model: malformed JSON, wrong types, unknown and missing fields are all reported.
 */
export function decodeInput(op: OperationDef, req: WireRequest): Record<string, unknown> {
  const def = structure(op.input);
  const hasBodyMembers = def.members.some((m) => m.location === 'body');
  let input: Record<string, unknown> = {};
  const text = req.body.toString('utf8').trim();
  if (text.length > 0) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw awsError('SerializationException', `The request body is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw awsError('SerializationException', 'The request body must be a JSON object.');
    }
    if (!hasBodyMembers && Object.keys(parsed).length > 0) {
      throw awsError('InvalidRequestException', `${op.name} takes no body members; send its parameters in the query string.`);
    }
    input = parsed as Record<string, unknown>;
  }
  const issues: Issue[] = [];
  for (const member of def.members) {
    if (member.location === 'body') continue;
    if (member.name in input) issues.push({ path: member.name, message: `must be sent in the ${member.location}, not the body` });
    if (member.location === 'label') {
      const v = req.labels[member.name];
      if (v !== undefined) input[member.name] = v;
    } else if (member.location === 'query') {
      const values = req.query.getAll(member.locationName ?? member.name);
      if (values.length > 0) input[member.name] = fromQuery(member, values, issues);
    } else {
      const v = req.headers[member.locationName ?? member.name.toLowerCase()];
      if (v !== undefined) input[member.name] = Array.isArray(v) ? v.join(',') : v;
    }
  }
  checkStructure(op.input, input, '', issues);
  if (issues.length > 0) {
    const detail = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    throw awsError('InvalidRequestException', `Invalid ${op.input}: ${detail}`);
  }
  return input;
}
