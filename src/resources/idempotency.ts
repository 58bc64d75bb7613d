import { createHash } from 'node:crypto';
import type { IdempotencyKey } from '../store/store.js';

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** Hash of a request's parameters without its clientToken: equal inputs hash equal whatever their key order. */
export function inputHash(input: Record<string, unknown>): string {
  const { clientToken: _token, ...rest } = input;
  return createHash('sha256').update(JSON.stringify(canonical(rest))).digest('hex');
}

/** The idempotency key of a mutating request, when it carries a clientToken. */
export function idempotencyKey(ctx: { operation: string }, input: Record<string, unknown>): IdempotencyKey | undefined {
  const token = typeof input.clientToken === 'string' ? input.clientToken : undefined;
  return token === undefined ? undefined : { operation: ctx.operation, token, inputHash: inputHash(input) };
}
