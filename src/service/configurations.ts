import type { Store } from '../store/store.js';
import { distributionConfigurationHandlers } from './distribution-configurations.js';
import { infrastructureConfigurationHandlers } from './infrastructure-configurations.js';
import type { OperationHandler } from './types.js';

/** What the configuration handlers may know about the server beyond the store. */
export interface ConfigurationOptions {
  /** Kiln's configured regions, which distributions must target; without them only the shape is checked. */
  regions?: ReadonlySet<string>;
}

/** Operations on infrastructure and distribution configurations. */
export function configurationHandlers(store: Store, options: ConfigurationOptions = {}): Record<string, OperationHandler> {
  return {
    ...infrastructureConfigurationHandlers(store),
    ...distributionConfigurationHandlers(store, options.regions === undefined ? {} : { regions: options.regions }),
  };
}
