/** Loading what the wizard's pickers list: every page of a List call, and a hook that holds the result. */
import { useEffect, useState } from 'react';
import { errorText } from '../api';

/** Every page of a paginated List call (at most `maxPages`), as one list. */
export async function allPages<T>(page: (nextToken: string | undefined) => Promise<{ items?: T[]; nextToken?: string }>, maxPages = 20): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const { items, nextToken } = await page(token);
    out.push(...(items ?? []));
    if (!nextToken) break;
    token = nextToken;
  }
  return out;
}

export interface Loaded<T> {
  data?: T;
  error?: string;
  loading: boolean;
}

/** Runs `load` when `key` changes; an answer that arrives after a newer request is dropped. */
export function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ loading: true });
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => current && setState({ data, loading: false }),
      (err: unknown) => current && setState({ error: errorText(err), loading: false }),
    );
    return () => {
      current = false;
    };
    // `load` is recreated every render; `key` names what it loads.
  }, [key]);
  return state;
}
