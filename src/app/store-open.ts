/**
 * Opens Kiln's Store as the configuration says: the embedded SQLite file in the data directory by default, or
 * PostgreSQL when `store:` names one. Both seal access-key secrets with the key in `secretKeyFile` (default: the
 * data directory's `secret.key`, made on first use); every node of a cluster must be given the same key file.
 */
import path from 'node:path';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import { SecretBox } from '../store/secret-box.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';
import { ensurePrivateFile, secureDataDir } from './data-dir.js';
import type { ServerConfig } from './server-config.js';

/** Where a store lives; the embedded one when `store` is absent. */
export type StoreSettings = Partial<Pick<ServerConfig, 'store' | 'secretKeyFile'>>;

/** A PostgreSQL URL with its password (if any) replaced, for messages and logs. */
export function redactStoreUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    u.search = '';
    return u.toString();
  } catch {
    return 'the configured PostgreSQL URL';
  }
}

/** The key file that seals secrets (and that the cluster's other shared keys derive from): `secretKeyFile`, else the data directory's. */
export function secretKeyPath(dataDir: string, secretKeyFile?: string): string {
  return secretKeyFile ?? path.join(dataDir, 'secret.key');
}

/** Opens (creating on first use) the embedded store of a data directory: SQLite in its `kiln.db`. */
export function openStore(dataDir: string, secretKeyFile?: string): SqliteStore {
  secureDataDir(dataDir);
  const db = path.join(dataDir, 'kiln.db');
  ensurePrivateFile(db);
  return new SqliteStore({ path: db, secrets: SecretBox.openKeyFile(secretKeyPath(dataDir, secretKeyFile)) });
}

/** Opens the store the settings name (the embedded one without `store`); rejects naming the database when it cannot be reached. */
export async function openConfiguredStore(dataDir: string, settings: StoreSettings = {}): Promise<Store> {
  if (settings.store === undefined) return openStore(dataDir, settings.secretKeyFile);
  secureDataDir(dataDir);
  const secrets = SecretBox.openKeyFile(secretKeyPath(dataDir, settings.secretKeyFile));
  try {
    return await PostgresStore.open({ connectionString: settings.store, secrets });
  } catch (err) {
    throw new Error(`store: cannot open PostgreSQL at ${redactStoreUrl(settings.store)}: ${(err as Error).message}`);
  }
}
