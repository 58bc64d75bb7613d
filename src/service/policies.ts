import type { Store } from '../store/store.js';
import type { OperationHandler } from './types.js';

/** Operations on resource policies (sharing). */
export function policyHandlers(_store: Store): Record<string, OperationHandler> {
  return {};
}
