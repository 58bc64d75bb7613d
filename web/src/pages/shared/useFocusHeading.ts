import { useEffect, useRef } from 'react';

/**
 * A ref for a view's `<h1 tabIndex={-1}>`: the heading takes focus when the view opens and focus was lost (the
 * link that led here is gone), so keyboard and screen-reader users start at the new page's top.
 */
export function useFocusHeading<T extends HTMLElement>(ready: boolean) {
  const ref = useRef<T>(null);
  useEffect(() => {
    if (!ready) return;
    const active = document.activeElement;
    if (!active || active === document.body || !document.body.contains(active)) ref.current?.focus();
  }, [ready]);
  return ref;
}
