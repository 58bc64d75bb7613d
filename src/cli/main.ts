import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerEventsCommand } from './events-command.js';
import { registerLogsCommand } from './logs-command.js';
import { registerImageCommands } from './image-commands.js';
import { registerInstanceCommands } from './instance-commands.js';
import { registerPipelineCommands } from './pipeline-commands.js';
import { registerServerCommands } from './server-commands.js';
import { registerToeCommands } from './toe-commands.js';

/** Kiln's version from its package.json, found upward from this file whether run from src/ or dist/. */
function version(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

const program = new Command('kiln')
  .description('Kiln: a self-hosted image factory that speaks the AWS EC2 Image Builder API')
  .version(version())
  .showHelpAfterError();
registerServerCommands(program);
registerToeCommands(program);
registerLogsCommand(program);
registerEventsCommand(program);
registerInstanceCommands(program);
registerImageCommands(program);
registerPipelineCommands(program);
await program.parseAsync(process.argv);
