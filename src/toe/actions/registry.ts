import { coreModules } from './core-modules.js';
import { fileModules } from './file-modules.js';
import { networkOsModules } from './network-os-modules.js';
import type { ActionModule } from './types.js';

/** Every AWSTOE action module by its exact name. */
export function actionModules(extra: readonly ActionModule[] = []): ReadonlyMap<string, ActionModule> {
  const map = new Map<string, ActionModule>();
  for (const m of [...coreModules, ...fileModules, ...networkOsModules, ...extra]) map.set(m.name, m);
  return map;
}
