import type { Store } from '../store/store.js';
import type { OperationHandler } from './types.js';

/** Operations on lifecycle policies. */
export function lifecycleHandlers(_store: Store): Record<string, OperationHandler> {
  return {};
}
