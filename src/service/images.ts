import type { Store } from '../store/store.js';
import type { OperationHandler } from './types.js';

/** Operations on images and their builds (CreateImage, pipeline executions). */
export function imageHandlers(_store: Store): Record<string, OperationHandler> {
  return {};
}
