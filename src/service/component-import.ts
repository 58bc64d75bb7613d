import type { Store } from '../store/store.js';
import type { OperationHandler } from './types.js';

/** Operations on ImportComponent. */
export function componentImportHandlers(_store: Store): Record<string, OperationHandler> {
  return {};
}
