import type { Store } from '../store/store.js';
import type { OperationHandler } from './types.js';

/** Operations on image pipelines, workflows and lifecycle policies. */
export function pipelineHandlers(_store: Store): Record<string, OperationHandler> {
  return {};
}
