/**
 * Sizes given on the command line (`--keep-storage 10g`), read as docker reads them: units are powers of 1024,
 * with or without a B (`10GB` = `10GiB` = `10g`). They are shown back with formatBytes (app/store-migrate).
 */

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Bytes of `text` (`0`, `512`, `100m`, `1.5GiB`, `20 GB`); undefined when it is not a size. */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const bytes = Math.floor(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]!);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
