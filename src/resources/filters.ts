import { KilnError } from '../domain/errors.js';

/** A List request's filter as the model has it. */
interface Filter {
  name?: string;
  values?: string[];
}

/**
 * Keeps the records that every filter matches (any of its values), in order. A filter name not among `names`
 * is InvalidArgument, quoting `operation`.
 */
export function applyFilters<R>(records: R[], filters: unknown, names: readonly string[], operation: string, match: (record: R, name: string, values: ReadonlySet<string>) => boolean): R[] {
  if (!Array.isArray(filters)) return records;
  let out = records;
  (filters as Filter[]).forEach((f, i) => {
    const key = f.name ?? '';
    if (!names.includes(key)) {
      throw new KilnError('InvalidArgument', `filters[${i}].name '${key}' is not a filter of ${operation}; use one of ${names.join(', ')}.`, [{ path: `filters[${i}].name`, message: `must be one of ${names.join(', ')}` }]);
    }
    const values = new Set(f.values ?? []);
    out = out.filter((r) => match(r, key, values));
  });
  return out;
}
