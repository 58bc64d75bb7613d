import { evaluate } from '../document/conditions.js';
import { ActionFailure, type ActionModule } from './types.js';

/** Assert: fails the step unless the comparison or logical expression holds. No outputs. */
export const assert: ActionModule = {
  name: 'Assert',
  platforms: ['linux', 'windows', 'macos'],
  inputShape: 'expression',
  async run(inputs, context) {
    const r = await evaluate(inputs as Record<string, unknown>, context.instance);
    if (!r.result) throw new ActionFailure(`Assert failed: ${r.description} is false`);
    context.log.info(`Assert passed: ${r.description}`);
    return { outputs: {} };
  },
};
