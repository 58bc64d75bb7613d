import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'node:test';
import { FsBlobStore } from './blob-store.js';
import { runBlobStoreSuite } from './testsuite/blob-store-suite.js';

async function tempStore(): Promise<{ store: FsBlobStore; close: () => Promise<void> }> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'kiln-blobs-'));
  return { store: new FsBlobStore(root), close: () => fsp.rm(root, { recursive: true, force: true }) };
}

runBlobStoreSuite('filesystem', tempStore, {
  leftovers: async (store) => {
    const dir = path.join((store as FsBlobStore).root, 'sha256');
    return (await fsp.readdir(dir).catch(() => [])).filter((n) => n.startsWith('.'));
  },
});

test('filesystem layout is <root>/sha256/<hex>, and stale temp files from a crash are swept', async (t) => {
  const { store, close } = await tempStore();
  t.after(close);
  const info = await store.put(Buffer.from('x'));
  assert.equal(store.pathOf(info.digest), path.join(store.root, 'sha256', info.digest.slice('sha256:'.length)));
  const stale = path.join(store.root, 'sha256', '.tmp-crashed');
  await fsp.writeFile(stale, 'partial');
  const old = new Date(Date.now() - 2 * 3600_000);
  await fsp.utimes(stale, old, old);
  await fsp.writeFile(path.join(store.root, 'sha256', '.tmp-inflight'), 'partial');
  assert.equal(await store.removeStaleTemp(3600_000), 1);
  assert.deepEqual((await fsp.readdir(path.join(store.root, 'sha256'))).sort(), ['.tmp-inflight', info.digest.slice(7)]);
  // Temp files are never listed as blobs.
  assert.deepEqual(await store.list(), [info]);
});

test('filesystem ping fails once the root is gone or is not a directory (a lost mount), and works again after', async (t) => {
  const { store, close } = await tempStore();
  t.after(close);
  await store.ping();
  await fsp.rm(store.root, { recursive: true });
  await assert.rejects(store.ping(), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
  await fsp.writeFile(store.root, 'not a directory');
  await assert.rejects(store.ping());
  await fsp.rm(store.root);
  await fsp.mkdir(store.root);
  await store.ping();
});
