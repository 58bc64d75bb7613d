import type { Store } from '../store/store.js';
import { componentImportHandlers } from './component-import.js';
import { componentHandlers } from './components.js';
import { configurationHandlers } from './configurations.js';
import { imageHandlers } from './images.js';
import { lifecycleHandlers } from './lifecycle.js';
import { pipelineHandlers } from './pipelines.js';
import { policyHandlers } from './policies.js';
import { recipeHandlers } from './recipes.js';
import { tagHandlers } from './tags.js';
import type { OperationHandler } from './types.js';
import { workflowHandlers } from './workflows.js';
import { workflowExecutionHandlers } from './workflow-executions.js';

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
    ...workflowExecutionHandlers(store),
    ...componentImportHandlers(store),
    ...imageHandlers(store),
    ...lifecycleHandlers(store),
    ...tagHandlers(store),
    ...policyHandlers(store),
  };
}
