import type { Store } from '../store/store.js';
import type { OperationHandler } from './types.js';

/** Operations on image recipes and container recipes. */
export function recipeHandlers(_store: Store): Record<string, OperationHandler> {
  return {};
}
