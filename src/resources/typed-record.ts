import type { ResourceRecord } from '../store/store.js';

/** A stored record whose `data` is one family's fields rather than untyped JSON. */
export type TypedRecord<TData> = Omit<ResourceRecord, 'data'> & { data: TData };

/**
 * Reads a record as its family's. The store keeps data as untyped JSON and only the family's own create writes
 * it, so the shape is known by construction; this is the one cast that knowledge needs.
 */
export function typed<TData>(record: ResourceRecord): TypedRecord<TData> {
  return record as unknown as TypedRecord<TData>;
}
