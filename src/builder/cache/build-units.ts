/**
 * The units of the two kinds of build, for a LayerChain: a Dockerfile's instructions that change files (through
 * the executor's DockerfileUnits) and the recipe's components, one unit each.
 */
import type { HistoryEntry } from '../dockerfile/dockerfile-exec.js';
import type { DriverInstance } from '../../drivers/driver.js';
import type { DockerfileUnits } from '../dockerfile/dockerfile-exec.js';
import type { PlannedComponent } from '../stages/build-plan.js';
import type { LayerChain } from './layer-chain.js';
import { componentInputs } from './step-cache-keys.js';

/** The phases a component unit runs: AWS's build stage runs both, in this order, per component. */
export const BUILD_PHASES = ['build', 'validate'];

/** The executor's units, run through `chain`. */
export function dockerfileUnits(chain: LayerChain): DockerfileUnits {
  return {
    run: async (lines, label, run) => (await chain.unit({ label, inputs: { unit: 'dockerfile', lines }, run })).history,
  };
}

/**
 * Runs each component as a unit with the environment, working directory and user in effect (the Dockerfile's,
 * or none for a machine build); resolves to their history entries, one per component.
 */
export async function componentUnits(
  chain: LayerChain,
  components: readonly PlannedComponent[],
  at: { env: Record<string, string>; workdir: string; user: string },
  run: (instance: DriverInstance, component: PlannedComponent) => Promise<unknown>,
): Promise<HistoryEntry[]> {
  const history: HistoryEntry[] = [];
  for (const component of components) {
    const done = await chain.unit({
      label: component.entry.arn,
      inputs: componentInputs(component.entry, BUILD_PHASES, at),
      run: async (instance) => {
        await run(instance, component);
        return [{ created_by: `RUN {{{ imagebuilder:components }}} # kiln: ${component.entry.arn} build and validate phases`, comment: 'kiln' }];
      },
    });
    history.push(...done.history);
  }
  return history;
}
