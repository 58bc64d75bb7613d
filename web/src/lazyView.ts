/**
 * A view loaded when it is first shown: Vite makes each `import()` its own chunk, so the first load carries
 * the shell and sign-in only, and each page brings its code (and the SDK) when it opens.
 */
import { lazy, type ComponentType, type LazyExoticComponent } from 'react';

/** The named export `name` of the module `load` imports, as a React.lazy component (render it under Suspense). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- React.lazy's own bound: any props.
export function lazyView<M extends Record<K, ComponentType<any>>, K extends keyof M & string>(load: () => Promise<M>, name: K): LazyExoticComponent<M[K]> {
  return lazy(async () => ({ default: (await load())[name] }));
}
