import type { Command } from 'commander';
import { cliAction } from './kiln-client.js';
import { printJson } from './table.js';

/** Adds `kiln store migrate` to the CLI. */
export function registerStoreCommands(program: Command): void {
  const store = program.command('store').description("move Kiln's state between stores");
  store
    .command('migrate')
    .description('copy an embedded Kiln (SQLite and blobs in --data-dir) into the PostgreSQL store and object store --config names')
    .requiredOption('--data-dir <dir>', 'the embedded installation to copy (stop its kiln serve first)')
    .requiredOption('--config <file>', 'the target configuration: store, objectStore and secretKeyFile (as kiln serve --config)')
    .option('--force', 'migrate into a target that is not empty: its rows are replaced; objects already there are kept')
    .option('--json', 'print the summary as JSON')
    .action(cliAction('kiln store migrate', async (opts: { dataDir: string; config: string; force?: boolean; json?: boolean }) => {
      // Loaded here: the server's modules (SQLite, pg, the S3 SDK) are not needed by other commands.
      const [{ resolveDataDir }, { loadServerConfig }, { migrateStore }, lines] = await Promise.all([
        import('../app/server-start.js'),
        import('../app/server-config.js'),
        import('../app/store-migrate/migrate-store.js'),
        import('../app/store-migrate/progress-lines.js'),
      ]);
      const abort = new AbortController();
      const stop = () => abort.abort(new Error('interrupted'));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const summary = await migrateStore({
          dataDir: resolveDataDir(opts.dataDir),
          config: loadServerConfig(opts.config),
          force: opts.force === true,
          signal: abort.signal,
          onProgress: lines.throttledProgress((line) => process.stderr.write(`${line}\n`)),
        });
        if (opts.json) printJson(summary);
        else process.stdout.write(`${lines.summaryLines(summary).join('\n')}\n`);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    }));
}
