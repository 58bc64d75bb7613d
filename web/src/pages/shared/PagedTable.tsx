import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { ErrorNote } from './ErrorNote';

export interface Column<T> {
  header: string;
  cell: (item: T) => ReactNode;
}

/** One page of a List operation: its items and the token of the next page, if any. */
export interface PageOf<T> {
  items: T[];
  nextToken?: string | undefined;
}

/** How many items one List call asks for. */
export const PAGE_SIZE = 25;

interface Props<T> {
  caption: string;
  /** Reads one page (the first when nextToken is undefined). */
  load: (nextToken: string | undefined) => Promise<PageOf<T>>;
  columns: Column<T>[];
  rowKey: (item: T) => string;
  /** Shown instead of the table when the list is empty. */
  empty: ReactNode;
  /** The list starts over when this changes (a filter, say). */
  resetKey?: string;
}

/**
 * A List operation's results as a table with a caption, read page by page: "Load more" asks for the next page
 * with the nextToken the API returned.
 */
export function PagedTable<T>({ caption, load, columns, rowKey, empty, resetKey = '' }: Props<T>) {
  const [items, setItems] = useState<T[]>([]);
  const [nextToken, setNextToken] = useState<string>();
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>();
  const [loaded, setLoaded] = useState(false);
  const generation = useRef(0);
  const captionId = useId();
  const latest = useRef(load);
  latest.current = load;

  const fetchPage = async (token: string | undefined, gen: number) => {
    setLoading(true);
    setError(undefined);
    try {
      const page = await latest.current(token);
      if (gen !== generation.current) return;
      setItems((prev) => (token === undefined ? page.items : [...prev, ...page.items]));
      setNextToken(page.nextToken || undefined);
      setLoaded(true);
    } catch (err) {
      if (gen === generation.current) setError(err);
    } finally {
      if (gen === generation.current) setLoading(false);
    }
  };

  useEffect(() => {
    const gen = ++generation.current;
    setItems([]);
    setNextToken(undefined);
    setLoaded(false);
    void fetchPage(undefined, gen);
    return () => {
      generation.current++;
    };
  }, [resetKey]);

  return (
    <div className="res-list">
      {loaded && items.length === 0 ? (
        <p className="muted">{empty}</p>
      ) : (
        <div className="res-table-wrap">
          <table aria-busy={loading}>
            <caption id={captionId}>{caption}</caption>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th key={c.header} scope="col">
                    {c.header}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <tr key={rowKey(item)}>
                  {columns.map((c) => (
                    <td key={c.header} data-label={c.header}>
                      {c.cell(item)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {loading && <p className="muted">Loading…</p>}
      {error !== undefined && <ErrorNote error={error} action="Listing" />}
      {nextToken && !loading && (
        <div className="actions">
          <button type="button" aria-describedby={captionId} onClick={() => void fetchPage(nextToken, generation.current)}>
            Load more
          </button>
        </div>
      )}
    </div>
  );
}
