import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { registerCompletionCommand } from './completion.js';
import { EXIT } from './kiln-client.js';
import { registerEventsCommand } from './events-command.js';
import { registerLogsCommand } from './logs-command.js';
import { registerImageCommands } from './image-commands.js';
import { registerBasesCommands } from './bases-commands.js';
import { registerCacheCommands } from './cache-commands.js';
import { registerVulnerabilityCommands } from './vulnerability-commands.js';
import { registerBuildCommand } from './build-command.js';
import { registerInstanceCommands } from './instance-commands.js';
import { registerPipelineCommands } from './pipeline-commands.js';
import { registerServerCommands } from './server-commands.js';
import { registerStoreCommands } from './store-commands.js';
import { registerToeCommands } from './toe-commands.js';
import { registerWorkerCommands } from './worker-commands.js';

/** Kiln's version from its package.json, found upward from this file whether run from src/ or dist/. */
function version(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

const EXIT_HELP = `
Server: commands that talk to a Kiln server take --endpoint-url; without it they use $KILN_ENDPOINT_URL, then
$AWS_ENDPOINT_URL, then http://127.0.0.1:8420. Keys come from the AWS environment and profiles, else from the
data directory's credentials file.

Output: --json prints one JSON document per line on stdout. Listings print a header row; an empty listing
prints only the header, with a note such as "no machine images" on stderr.

Exit status:
  ${EXIT.SUCCESS}    success
  ${EXIT.FAILURE}    failure (a refused request, a failed build or document run, a key that cannot be found)
  ${EXIT.USAGE}    bad usage (unknown command or option, missing or invalid argument)
  ${EXIT.UNREACHABLE}    the Kiln server could not be reached (refused, unknown host, timeout, TLS)
  ${EXIT.INTERRUPTED}  interrupted (kiln toe run, kiln build on SIGINT/SIGTERM)
  kiln instances shell exits with the status of the command it ran.`;

const program = new Command('kiln')
  .description('Kiln: a self-hosted image factory that speaks the AWS EC2 Image Builder API')
  .version(version())
  .showHelpAfterError()
  .addHelpText('after', EXIT_HELP)
  // Commander exits 1 for its own usage errors; kiln's bad usage is 2, as in awstoe and most Unix tools.
  // Set before the commands are added, so each inherits it.
  .exitOverride();
registerServerCommands(program);
registerStoreCommands(program);
registerToeCommands(program);
registerLogsCommand(program);
registerEventsCommand(program);
registerInstanceCommands(program);
registerWorkerCommands(program);
registerImageCommands(program);
registerBasesCommands(program);
registerCacheCommands(program);
registerVulnerabilityCommands(program);
registerBuildCommand(program);
registerPipelineCommands(program);
registerCompletionCommand(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  // Commander has printed the message (and help, where asked); --help and --version end with 0.
  process.exitCode = err.exitCode === 0 ? EXIT.SUCCESS : EXIT.USAGE;
}
