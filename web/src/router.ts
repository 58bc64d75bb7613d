/**
 * Hash routes (`#/pipelines/ARN`): the console is one static page under /console/, so routing needs no server
 * support, and every view has a URL that can be bookmarked or opened in a new tab.
 */
import { useEffect, useState } from 'react';

export interface Route {
  /** First path segment: `pipelines`, `images`, ... ('' for the home view). */
  section: string;
  /** The rest, decoded (an ARN may contain slashes, so it is everything after the section). */
  rest: string;
}

export function parseHash(hash: string): Route {
  const path = hash.replace(/^#\/?/, '');
  const slash = path.indexOf('/');
  if (slash < 0) return { section: decodeURIComponent(path), rest: '' };
  return { section: decodeURIComponent(path.slice(0, slash)), rest: decodeURIComponent(path.slice(slash + 1)) };
}

/** The link to a view; `rest` (an ARN) is encoded as one segment. */
export function href(section: string, rest?: string): string {
  return `#/${section}${rest === undefined ? '' : `/${encodeURIComponent(rest)}`}`;
}

export function navigate(section: string, rest?: string): void {
  window.location.hash = href(section, rest);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
