/**
 * The store that admin commands (`kiln accounts …`) work on directly, without a server: the data directory's
 * embedded store, or the PostgreSQL store that `--config` names (the same file `kiln serve --config` reads).
 */
import type { Command } from 'commander';
import type { Store } from '../store/store.js';

/** The options every direct-store command takes. */
export interface LocalStoreOptions {
  dataDir?: string;
  config?: string;
}

/** Adds `--data-dir` and `--config` to a command that opens the store itself. */
export function withStoreOptions(command: Command): Command {
  return command
    .option('--data-dir <dir>', 'data directory (default: $KILN_DATA_DIR or ./.kiln)')
    .option('--config <file>', "server configuration file, for its store and secretKeyFile (as kiln serve --config)");
}

/** Opens the store the options name; the caller closes it. */
export async function openLocalStore(opts: LocalStoreOptions): Promise<{ store: Store; dataDir: string }> {
  const [{ openConfiguredStore, resolveDataDir }, { loadServerConfig }] = await Promise.all([import('../app/server-start.js'), import('../app/server-config.js')]);
  const dataDir = resolveDataDir(opts.dataDir);
  const config = loadServerConfig(opts.config);
  return { store: await openConfiguredStore(dataDir, config), dataDir };
}
