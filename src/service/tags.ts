import type { Store } from '../store/store.js';
import type { OperationHandler } from './types.js';

/** Operations on tags on any resource. */
export function tagHandlers(_store: Store): Record<string, OperationHandler> {
  return {};
}
