/**
 * Preparing the managed bases of a data directory without a server (`kiln bases prefetch --offline`, run by the
 * install script when asked): the same store records, blobs and work folder a `kiln serve` on that directory
 * uses, so its first build finds them stored. Not while a server uses the directory: both would bootstrap into
 * the same work folder.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { FsBlobStore } from '../artifacts/blob-store.js';
import type { BaseStatus } from '../builder/bases/base-progress.js';
import { ManagedBases, registerManagedBases } from '../builder/bases/managed-bases.js';
import { loadServerConfig } from './server-config.js';
import { hideHostPaths, openStore } from './server-start.js';

/**
 * Prepares every managed base of `dataDir` not stored yet; `onStatus` gets the list every `intervalMs` and once
 * at the end, which it returns. An aborted `signal` stops the bootstrap and waits until it left nothing behind.
 */
export async function prefetchBasesOffline(options: { dataDir: string; configPath?: string; signal?: AbortSignal; onStatus?: (bases: BaseStatus[]) => void; log?: (text: string) => void; intervalMs?: number }): Promise<BaseStatus[]> {
  const config = loadServerConfig(options.configPath);
  const store = openStore(options.dataDir);
  hideHostPaths(options.dataDir);
  const dir = (name: string) => {
    const p = path.join(options.dataDir, name);
    mkdirSync(p, { recursive: true, mode: 0o700 });
    return p;
  };
  const managed = new ManagedBases({ store, blobs: new FsBlobStore(dir('blobs')), mirror: config.debianMirror, workRoot: dir('work'), regions: config.regions, ...(options.log ? { log: options.log } : {}) });
  const stop = () => void managed.stop();
  options.signal?.addEventListener('abort', stop, { once: true });
  const timer = setInterval(() => void managed.status().then((s) => options.onStatus?.(s), () => undefined), options.intervalMs ?? 2000);
  try {
    await registerManagedBases(store, config.regions);
    await managed.prepareAll(options.signal);
    const final = await managed.status();
    options.onStatus?.(final);
    return final;
  } finally {
    clearInterval(timer);
    options.signal?.removeEventListener('abort', stop);
    await managed.stop();
    await store.close();
  }
}
