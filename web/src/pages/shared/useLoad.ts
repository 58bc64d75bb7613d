import { useCallback, useEffect, useRef, useState } from 'react';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again (keeping the current data shown meanwhile). */
  reload: () => void;
}

/**
 * Runs `load` when `key` changes (and on reload); an answer that arrives after a newer request, or after the
 * component is gone, is dropped.
 */
export function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [round, setRound] = useState(0);
  const latest = useRef(load);
  latest.current = load;
  const shownKey = useRef(key);
  useEffect(() => {
    let current = true;
    // Another key shows nothing of the previous one's data; a reload keeps it until the answer comes.
    const sameKey = shownKey.current === key;
    shownKey.current = key;
    setState((s) => (sameKey ? { ...s, loading: true } : { loading: true }));
    latest
      .current()
      .then((data) => current && setState({ data, loading: false }))
      .catch((error: unknown) => current && setState((s) => ({ data: s.data, error, loading: false })));
    return () => {
      current = false;
    };
  }, [key, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}
