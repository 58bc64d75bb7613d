import type { Store } from '../store/store.js';
import type { OperationHandler } from './types.js';

/** Operations on infrastructure and distribution configurations. */
export function configurationHandlers(_store: Store): Record<string, OperationHandler> {
  return {};
}
