/**
 * Kiln's engine in this process for `kiln build`: the server of `kiln serve` on a data directory, with the api and
 * worker roles only (no scheduler: no pipelines or lifecycle runs), an ephemeral loopback listener that only this
 * process talks to, and no base preparation ahead. The same code path as a served build, so what `kiln build` makes
 * is what a server would make.
 */
import { homedir } from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { startServer, type RunningServer } from '../server-start.js';
import { loadServerConfig } from '../server-config.js';
import { dataDirInUse, dataDirLockHolder } from '../data-dir-lock.js';
import { secureDataDir } from '../data-dir.js';
import { BuildInputError } from './inputs.js';

/** The data directory of `kiln build`: the flag, else $KILN_DATA_DIR, else `~/.cache/kiln` (under $XDG_CACHE_HOME when set). */
export function localBuildDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined) return path.resolve(flag);
  if (env.KILN_DATA_DIR) return path.resolve(env.KILN_DATA_DIR);
  const cache = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(env.HOME ?? homedir(), '.cache');
  return path.join(cache, 'kiln');
}

/** A running local engine: its API on loopback, the admin keys it signs with, and how to stop it. */
export interface LocalEngine {
  server: RunningServer;
  credentials: { accessKeyId: string; secretAccessKey: string };
  region: string;
  /** Stops the worker (a build still running ends FAILED "interrupted" and is cleaned up) and the server. */
  close(): Promise<void>;
}

/** The keys of the credentials file the server wrote (INI, `[default]`). */
function readAdminKeys(file: string): { accessKeyId: string; secretAccessKey: string } {
  const text = readFileSync(file, 'utf8');
  const get = (key: string) => new RegExp(`^${key}\\s*=\\s*(\\S+)`, 'm').exec(text)?.[1];
  const accessKeyId = get('aws_access_key_id');
  const secretAccessKey = get('aws_secret_access_key');
  if (!accessKeyId || !secretAccessKey) throw new Error("the data directory's credentials file has no keys");
  return { accessKeyId, secretAccessKey };
}

/**
 * Starts the engine on `dataDir` (created 0700 when absent). Refuses at once, before the store opens, when another
 * process runs builds on it; the worker's start takes the lock for good (data-dir-lock.ts).
 */
export async function startLocalEngine(options: { dataDir: string; configPath?: string }): Promise<LocalEngine> {
  secureDataDir(options.dataDir);
  const holder = dataDirLockHolder(options.dataDir);
  if (holder !== undefined) throw dataDirInUse(holder);
  let config;
  try {
    config = loadServerConfig(options.configPath);
  } catch (err) {
    throw new BuildInputError(`--config: ${(err as Error).message.replace(options.configPath ?? '', path.basename(options.configPath ?? ''))}`);
  }
  // A configured PostgreSQL store or bucket would make a laptop build touch shared state: kiln build keeps to its directory.
  if (config.store !== undefined || config.objectStore !== undefined) throw new BuildInputError('--config: store and objectStore are for servers; kiln build keeps everything in its data directory');
  const server = await startServer({
    dataDir: options.dataDir,
    listen: '127.0.0.1:0',
    roles: ['api', 'worker'],
    config: { ...config, prefetchBases: false },
    prefetchBasesByDefault: false,
  });
  try {
    return { server, credentials: readAdminKeys(server.credentialsPath), region: server.regions[0]!, close: () => server.close() };
  } catch (err) {
    await server.close();
    throw err;
  }
}
