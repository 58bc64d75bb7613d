import type { Store } from '../store/store.js';
import { componentHandlers } from './components.js';
import { configurationHandlers } from './configurations.js';
import { pipelineHandlers } from './pipelines.js';
import { recipeHandlers } from './recipes.js';
import type { OperationHandler } from './types.js';
import { workflowHandlers } from './workflows.js';

/** Every implemented operation by wire name; operations absent here answer "not implemented". */
export function buildHandlers(store: Store): Record<string, OperationHandler> {
  return {
    ...componentHandlers(store),
    ...recipeHandlers(store),
    ...configurationHandlers(store),
    ...pipelineHandlers(store),
    ...workflowHandlers(store),
  };
}
