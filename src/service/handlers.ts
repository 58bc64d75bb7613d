import type { Store } from '../store/store.js';
import { componentHandlers } from './components.js';
import { configurationHandlers } from './configurations.js';
import { pipelineHandlers } from './pipelines.js';
import { recipeHandlers } from './recipes.js';
import type { OperationHandler } from './types.js';
import { workflowHandlers } from './workflows.js';

/** What handlers need to know of Kiln's configuration. */
export interface HandlerOptions {
  /** The configured regions: distributions may target only these. */
  regions: readonly string[];
}

/** Every implemented operation by wire name; operations absent here answer "not implemented". */
export function buildHandlers(store: Store, options: HandlerOptions): Record<string, OperationHandler> {
  return {
    ...componentHandlers(store),
    ...recipeHandlers(store),
    ...configurationHandlers(store, { regions: new Set(options.regions) }),
    ...pipelineHandlers(store),
    ...workflowHandlers(store),
  };
}
