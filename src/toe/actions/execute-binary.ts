import { runProcessStep } from './process-step.js';
import type { ActionModule } from './types.js';

/** ExecuteBinary: runs one executable with its arguments (no shell); output `stdout`. */
export const executeBinary: ActionModule = {
  name: 'ExecuteBinary',
  platforms: ['linux', 'windows', 'macos'],
  inputShape: 'object',
  fields: { path: { type: 'string', required: true }, arguments: { type: 'stringList', default: [] } },
  run(inputs, context) {
    const { path, arguments: args } = inputs as { path: string; arguments: string[] };
    return runProcessStep([path, ...args], context, `ExecuteBinary ${path}`);
  },
};
