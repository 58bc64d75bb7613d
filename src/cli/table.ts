/**
 * How `kiln` prints a listing as text, the way podman does: a header row of upper-case column names, then one
 * row per item, columns padded to line up. An empty listing prints only the header on stdout, so a script
 * reading it sees the same shape, and a one-line note (e.g. "no machine images") on stderr, as kubectl does.
 */

/** One column: its header and how to show an item in it. */
export interface Column<T> {
  header: string;
  value: (item: T) => string;
}

/** The listing as text: header and rows, columns separated by at least two spaces; the last is not padded. */
export function formatTable<T>(columns: Column<T>[], items: T[]): string {
  const rows = [columns.map((c) => c.header), ...items.map((item) => columns.map((c) => c.value(item)))];
  const widths = columns.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd() + '\n').join('');
}

/** Prints a listing to stdout; when it is empty, `empty` goes to stderr as well. */
export function printTable<T>(columns: Column<T>[], items: T[], empty: string): void {
  process.stdout.write(formatTable(columns, items));
  if (items.length === 0) process.stderr.write(`${empty}\n`);
}

/** Prints a value as one line of JSON on stdout: what every `--json` prints. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
