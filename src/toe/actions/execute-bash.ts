import { posix } from 'node:path';
import { runProcessStep } from './process-step.js';
import type { ActionModule } from './types.js';

let scriptCounter = 0;

/** ExecuteBash: all commands of the step run as one bash script in a fresh shell; output `stdout`. */
export const executeBash: ActionModule = {
  name: 'ExecuteBash',
  platforms: ['linux', 'macos'],
  inputShape: 'object',
  fields: { commands: { type: 'stringList', required: true } },
  async run(inputs, context) {
    const { commands } = inputs as { commands: string[] };
    const script = posix.join(context.scratchDir, `script-${process.pid}-${++scriptCounter}.sh`);
    await context.instance.putFile(script, `${commands.join('\n')}\n`, 0o700);
    try {
      return await runProcessStep(['bash', script], context, `ExecuteBash step "${context.stepName}"`);
    } finally {
      await context.instance.fs.rm(script, { force: true });
    }
  },
};
