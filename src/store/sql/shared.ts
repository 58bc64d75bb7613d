/**
 * What both SQL backends (SQLite and PostgreSQL) share about how they store records: the numeric parts a
 * version is ordered by, and the bounds of a registry listing page. One definition, so both order and page alike.
 */

/** Page size when a registry listing names no limit, and the most a listing returns. */
export const REGISTRY_PAGE_MAX = 10_000;

/** The page size a registry listing uses for a requested `limit` (clamped to 0…REGISTRY_PAGE_MAX). */
export function pageLimit(limit: number | undefined): number {
  return limit === undefined ? REGISTRY_PAGE_MAX : Math.max(0, Math.min(Math.floor(limit), REGISTRY_PAGE_MAX));
}

/** `major.minor.patch` as three numbers for numeric ordering; `''` (unversioned families) is 0.0.0. */
export function versionParts(version: string): [number, number, number] {
  if (version === '') return [0, 0, 0];
  const parts = version.split('.').map(Number);
  return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];
}
