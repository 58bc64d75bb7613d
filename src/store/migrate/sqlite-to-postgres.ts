/**
 * Copies every row of the embedded SQLite store into a PostgreSQL store's schema, table by table. Both stores
 * keep the same tables and columns (the PostgreSQL schema is the SQLite one in PostgreSQL's dialect), so the copy
 * is driven by the two catalogs rather than by a list of tables: a table a later migration adds to both is copied
 * without a change here. Values are converted by the PostgreSQL column's type (SQLite keeps times as ISO text
 * and booleans as 0/1), identity sequences are moved past the copied ids, and rows can be rewritten on the way
 * (sealed secrets are re-sealed with the target's key).
 */
import type Database from 'better-sqlite3';
import type pg from 'pg';

/** Rewrites one row of a table on its way to PostgreSQL (keys are column names). */
export type RowTransform = (row: Record<string, unknown>) => Record<string, unknown>;

/** Tables each store keeps for itself: never copied, never counted. */
const OWN_TABLES = new Set(['schema_migrations', 'sqlite_sequence']);

/** Rows per INSERT, within PostgreSQL's 65535 parameters per statement. */
const BATCH_ROWS = 500;
const MAX_PARAMS = 60_000;

interface PgColumn {
  name: string;
  type: string;
  /** An identity column (GENERATED ALWAYS/BY DEFAULT) or a serial: its sequence follows the copied ids. */
  sequence: boolean;
  always: boolean;
}

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** Tables of the target's schema (its `search_path`'s first), with their columns. */
async function targetTables(target: pg.ClientBase): Promise<Map<string, PgColumn[]>> {
  const { rows } = await target.query<{ table_name: string; column_name: string; data_type: string; is_identity: string; identity_generation: string | null; column_default: string | null }>(
    `SELECT c.table_name, c.column_name, c.data_type, c.is_identity, c.identity_generation, c.column_default
       FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
      ORDER BY c.table_name, c.ordinal_position`,
  );
  const tables = new Map<string, PgColumn[]>();
  for (const r of rows) {
    if (OWN_TABLES.has(r.table_name)) continue;
    const columns = tables.get(r.table_name) ?? [];
    columns.push({
      name: r.column_name,
      type: r.data_type,
      sequence: r.is_identity === 'YES' || (r.column_default ?? '').startsWith('nextval('),
      always: r.identity_generation === 'ALWAYS',
    });
    tables.set(r.table_name, columns);
  }
  return tables;
}

/** The target's tables that hold rows, with how many, in name order (empty: the target is empty). */
export async function targetRowCounts(target: pg.ClientBase): Promise<{ table: string; rows: number }[]> {
  const out: { table: string; rows: number }[] = [];
  for (const table of [...(await targetTables(target)).keys()].sort()) {
    const { rows } = await target.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${ident(table)}`);
    const n = Number(rows[0]!.n);
    if (n > 0) out.push({ table, rows: n });
  }
  return out;
}

/** SQLite's tables, parents before the tables whose foreign keys point at them. */
function sourceTables(source: Database.Database): string[] {
  const names = (source.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[])
    .map((r) => r.name)
    .filter((n) => !OWN_TABLES.has(n));
  const parents = new Map(names.map((n) => [n, (source.prepare(`SELECT "table" AS parent FROM pragma_foreign_key_list(?)`).all(n) as { parent: string }[]).map((r) => r.parent)]));
  const ordered: string[] = [];
  const visiting = new Set<string>();
  const visit = (n: string): void => {
    if (ordered.includes(n) || visiting.has(n)) return;
    visiting.add(n);
    for (const p of parents.get(n) ?? []) if (p !== n && names.includes(p)) visit(p);
    ordered.push(n);
  };
  names.forEach(visit);
  return ordered;
}

const TIME_ZONE_RE = /(Z|[+-]\d\d(:?\d\d)?)$/i;

/** One SQLite value as the PostgreSQL column of `type` takes it; names `at` (table.column) when it cannot. */
function convert(value: unknown, type: string, at: string): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'timestamp with time zone':
    case 'timestamp without time zone':
    case 'date':
      if (typeof value !== 'string') throw new Error(`${at}: expected a time as text, found ${typeof value}`);
      // SQLite's own datetime('now') has no zone and means UTC; PostgreSQL would read it in the session's zone.
      return TIME_ZONE_RE.test(value) ? value : `${value.replace(' ', 'T')}Z`;
    case 'boolean':
      if (value === 0 || value === 1 || typeof value === 'boolean') return value === true || value === 1;
      throw new Error(`${at}: expected 0 or 1, found ${JSON.stringify(value)}`);
    case 'integer':
    case 'bigint':
    case 'smallint':
    case 'numeric':
    case 'real':
    case 'double precision':
      if (typeof value === 'number' || typeof value === 'bigint') return value;
      throw new Error(`${at}: expected a number, found ${typeof value}`);
    case 'bytea':
      return Buffer.isBuffer(value) ? value : Buffer.from(String(value));
    default:
      // text, json and jsonb: PostgreSQL parses the JSON text itself.
      return Buffer.isBuffer(value) ? value.toString('utf8') : typeof value === 'string' ? value : String(value);
  }
}

/** Progress of a copy: rows copied so far of the total. */
export interface RowCopyProgress {
  table: string;
  rows: number;
  totalRows: number;
}

export interface RowCopyOptions {
  /** The embedded store's database, inside a read transaction the caller opened (one snapshot for all tables). */
  source: Database.Database;
  /** A PostgreSQL connection inside a transaction the caller opened and commits; its schema is migrated. */
  target: pg.ClientBase;
  /** Per-table rewrites of rows (e.g. `access_keys`: re-seal the secret). */
  transforms?: Record<string, RowTransform>;
  /** Empties every target table first (TRUNCATE … RESTART IDENTITY), for `--force`. */
  replace?: boolean;
  onProgress?: (progress: RowCopyProgress) => void;
  signal?: AbortSignal;
}

/**
 * Copies every row of every SQLite table into the same-named PostgreSQL table. Rejects, naming the table or
 * column, when the target's schema lacks one the source has (a Kiln older than the data directory), or when
 * a value does not fit its column. Answers the rows copied per table.
 */
export async function copyRows(options: RowCopyOptions): Promise<Record<string, number>> {
  const { source, target, signal } = options;
  const pgTables = await targetTables(target);
  const tables = sourceTables(source);
  const plan = tables.map((table) => {
    const pgColumns = pgTables.get(table);
    if (!pgColumns) throw new Error(`table ${table}: the PostgreSQL schema has no such table (is this Kiln older than the data directory?)`);
    const sqliteColumns = (source.prepare('SELECT name FROM pragma_table_info(?)').all(table) as { name: string }[]).map((c) => c.name);
    const columns = sqliteColumns.map((name) => {
      const column = pgColumns.find((c) => c.name === name);
      if (!column) throw new Error(`${table}.${name}: the PostgreSQL schema has no such column (is this Kiln older than the data directory?)`);
      return column;
    });
    const count = (source.prepare(`SELECT COUNT(*) AS n FROM ${ident(table)}`).get() as { n: number }).n;
    return { table, columns, count, pgColumns };
  });
  const totalRows = plan.reduce((n, p) => n + p.count, 0);

  if (options.replace && pgTables.size > 0) {
    await target.query(`TRUNCATE ${[...pgTables.keys()].map(ident).join(', ')} RESTART IDENTITY CASCADE`);
  }

  const copied: Record<string, number> = {};
  let done = 0;
  for (const { table, columns, count } of plan) {
    signal?.throwIfAborted();
    const transform = options.transforms?.[table];
    const overriding = columns.some((c) => c.always) ? ' OVERRIDING SYSTEM VALUE' : '';
    const columnList = columns.map((c) => ident(c.name)).join(', ');
    const perBatch = Math.max(1, Math.min(BATCH_ROWS, Math.floor(MAX_PARAMS / Math.max(1, columns.length))));
    let batch: unknown[][] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const params: unknown[] = [];
      const tuples = batch.map((values) => `(${values.map((v) => `$${params.push(v)}`).join(', ')})`);
      await target.query(`INSERT INTO ${ident(table)} (${columnList})${overriding} VALUES ${tuples.join(', ')}`, params);
      done += batch.length;
      batch = [];
      options.onProgress?.({ table, rows: done, totalRows });
    };
    // Streamed, not loaded: a resources table of big image records need not fit in memory. Nothing else runs
    // on the source connection meanwhile (better-sqlite3 refuses that while an iterator is open).
    for (const raw of source.prepare(`SELECT * FROM ${ident(table)}`).iterate() as IterableIterator<Record<string, unknown>>) {
      const row = transform ? transform(raw) : raw;
      batch.push(columns.map((c) => convert(row[c.name], c.type, `${table}.${c.name}`)));
      if (batch.length >= perBatch) {
        signal?.throwIfAborted();
        await flush();
      }
    }
    await flush();
    copied[table] = count;
  }
  await followSequences(source, target, plan);
  return copied;
}

/**
 * Moves each identity or serial sequence past the highest id copied, and past SQLite's AUTOINCREMENT high-water
 * mark, so ids of deleted rows (a job id a log or an event names) are never given again.
 */
async function followSequences(source: Database.Database, target: pg.ClientBase, plan: { table: string; pgColumns: PgColumn[] }[]): Promise<void> {
  const hasSequenceTable = source.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'").get() !== undefined;
  for (const { table, pgColumns } of plan) {
    for (const column of pgColumns.filter((c) => c.sequence)) {
      const mark = hasSequenceTable ? ((source.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').get(table) as { seq: number } | undefined)?.seq ?? 0) : 0;
      // setval(seq, n, true): the next value is n + 1; with nothing copied and no mark, the sequence starts at 1.
      await target.query(
        `SELECT setval(pg_get_serial_sequence($1, $2), GREATEST(COALESCE(MAX(${ident(column.name)}), 0), $3::bigint, 1), COALESCE(MAX(${ident(column.name)}), 0) > 0 OR $3::bigint > 0) FROM ${ident(table)}`,
        [ident(table), column.name, mark],
      );
    }
  }
}
