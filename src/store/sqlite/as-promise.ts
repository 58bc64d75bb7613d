/**
 * better-sqlite3 is synchronous; the Store's methods answer promises. Runs `fn` now and answers its result, or a
 * rejection with what it threw (as an Error), so a caller's `await` sees the same thing PostgreSQL's would.
 */
export function asPromise<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
