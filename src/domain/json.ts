/** A JSON object as it comes off the wire or out of a record, before anything is known about its members. */
export type JsonObject = Record<string, unknown>;

/** The value when it is a string: inputs are model-checked for shape, not for every optional member's presence. */
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** True for a JSON object (not an array, not null). */
export const isJsonObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
