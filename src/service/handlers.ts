import type { Store } from '../store/store.js';
import type { Clock } from '../domain/clock.js';
import { componentImportHandlers } from './component-import.js';
import { componentHandlers } from './components.js';
import { configurationHandlers } from './configurations.js';
import { referenceFetcher } from './image-builds.js';
import { imageHandlers } from './images.js';
import { imageScanFindingHandlers } from './image-scan-findings.js';
import { imageDistributionHandlers } from './image-distribution.js';
import { lifecycleHandlers } from './lifecycle.js';
import { pipelineHandlers } from './pipelines.js';
import { policyHandlers } from './policies.js';
import { recipeHandlers } from './recipes.js';
import { tagHandlers } from './tags.js';
import { vmImportHandlers } from './vm-import.js';
import type { OperationHandler } from './types.js';
import { workflowHandlers } from './workflows.js';
import { workflowExecutionHandlers } from './workflow-executions.js';
import { workflowStepActionHandlers } from './workflow-step-actions.js';

/** What handlers need to know of Kiln's configuration. */
export interface HandlerOptions {
  /** The configured regions: distributions may target only these. */
  regions: readonly string[];
  /** The time of pipelines and lifecycle executions (the scheduler's clock); the system clock by default. */
  clock?: Clock;
}

/**
 * Every implemented operation by wire name; operations absent here answer "not implemented". Built once per
 * server: images resolve their recipe and configurations through this table's own Get handlers.
 */
export function buildHandlers(store: Store, options: HandlerOptions): Record<string, OperationHandler> {
  const recipes = recipeHandlers(store);
  const configurations = configurationHandlers(store, { regions: new Set(options.regions) });
  const fetch = referenceFetcher({ ...recipes, ...configurations });
  return {
    ...componentHandlers(store),
    ...recipes,
    ...configurations,
    ...pipelineHandlers(store, options.clock),
    ...workflowHandlers(store),
    ...workflowExecutionHandlers(store),
    ...workflowStepActionHandlers(store),
    ...componentImportHandlers(store),
    ...imageHandlers(store, fetch),
    ...imageDistributionHandlers(store, fetch),
    ...lifecycleHandlers(store, options.clock),
    ...tagHandlers(store),
    ...policyHandlers(store),
    ...vmImportHandlers(store),
    ...imageScanFindingHandlers(store),
  };
}
