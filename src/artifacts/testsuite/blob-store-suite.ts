import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { isKilnError } from '../../domain/errors.js';
import { digestOf, type BlobStore } from '../blob-store.js';

/** Opens a fresh, empty blob store for one test; `close` releases it and anything it left behind. */
export type BlobStoreFactory = () => Promise<{ store: BlobStore; close: () => Promise<void> }>;

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

/**
 * The BlobStore conformance suite: every implementation must pass it unchanged. `hooks.leftovers` lets an
 * implementation check that a failed put left nothing behind (temp files included).
 */
export function runBlobStoreSuite(backend: string, open: BlobStoreFactory, hooks: { leftovers?: (store: BlobStore) => Promise<string[]> } = {}): void {
  const withStore = (name: string, fn: (store: BlobStore) => Promise<void>): void =>
    void test(name, async () => {
      const { store, close } = await open();
      try {
        await fn(store);
      } finally {
        await close();
      }
    });
  const noLeftovers = async (store: BlobStore): Promise<void> => {
    if (hooks.leftovers) assert.deepEqual(await hooks.leftovers(store), []);
  };

  void describe(`BlobStore conformance: ${backend}`, () => {
    withStore('puts a buffer and reads it back by digest', async (store) => {
      const data = Buffer.from('hello blob\n');
      const info = await store.put(data);
      assert.equal(info.digest, digestOf(data));
      assert.equal(info.size, data.length);
      assert.equal(await store.has(info.digest), true);
      assert.deepEqual(await store.stat(info.digest), info);
      assert.deepEqual(await store.get(info.digest), data);
      assert.deepEqual(await readAll(await store.open(info.digest)), data);
      assert.deepEqual(await readAll(await store.open(info.digest, { start: 6, end: 9 })), Buffer.from('blob'));
    });

    withStore('puts a stream of many chunks, with and without an expected digest', async (store) => {
      const chunks = Array.from({ length: 200 }, (_, i) => Buffer.alloc(4096, i));
      const whole = Buffer.concat(chunks);
      const info = await store.put(Readable.from(chunks), { expectedDigest: digestOf(whole), expectedSize: whole.length });
      assert.deepEqual(info, { digest: digestOf(whole), size: whole.length });
      async function* gen() {
        yield* chunks;
      }
      assert.deepEqual(await store.put(gen()), info);
      assert.deepEqual(await store.get(info.digest), whole);
    });

    withStore('stores the empty blob', async (store) => {
      const info = await store.put(Buffer.alloc(0));
      assert.deepEqual(info, { digest: digestOf(''), size: 0 });
      assert.equal((await store.get(info.digest)).length, 0);
    });

    withStore('rejects content that does not match the expected digest or size, storing nothing', async (store) => {
      const data = Buffer.from('payload');
      const wrong = digestOf('other');
      await assert.rejects(store.put(data, { expectedDigest: wrong }), (e) => isKilnError(e, 'InvalidArgument'));
      await assert.rejects(store.put(Readable.from([data]), { expectedDigest: wrong }), (e) => isKilnError(e, 'InvalidArgument'));
      await assert.rejects(store.put(data, { expectedSize: 3 }), (e) => isKilnError(e, 'InvalidArgument'));
      assert.equal(await store.has(wrong), false);
      assert.equal(await store.has(digestOf(data)), false);
      assert.deepEqual(await store.list(), []);
      await noLeftovers(store);
    });

    withStore('a source that fails midway or an abort stores nothing', async (store) => {
      async function* failing() {
        yield Buffer.from('part');
        throw new Error('source broke');
      }
      await assert.rejects(store.put(failing()), /source broke/);
      const ac = new AbortController();
      async function* slow() {
        yield Buffer.from('a');
        ac.abort();
        yield Buffer.from('b');
      }
      await assert.rejects(store.put(slow(), { signal: ac.signal }), (e) => (e as Error).name === 'AbortError');
      assert.deepEqual(await store.list(), []);
      await noLeftovers(store);
    });

    withStore('concurrent puts of the same content keep one intact blob', async (store) => {
      const data = Buffer.alloc(256 * 1024, 7);
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.put(i % 2 ? data : Readable.from([data.subarray(0, 1000), data.subarray(1000)]))));
      for (const r of results) assert.deepEqual(r, { digest: digestOf(data), size: data.length });
      assert.deepEqual(await store.list(), [results[0]]);
      assert.deepEqual(await store.get(digestOf(data)), data);
      await noLeftovers(store);
    });

    withStore('missing blobs: has/stat say so, get/open are NotFound, delete is false', async (store) => {
      const d = digestOf('absent');
      assert.equal(await store.has(d), false);
      assert.equal(await store.stat(d), undefined);
      await assert.rejects(store.get(d), (e) => isKilnError(e, 'NotFound'));
      await assert.rejects(store.open(d), (e) => isKilnError(e, 'NotFound'));
      assert.equal(await store.delete(d), false);
    });

    withStore('knows when a blob was stored, for garbage collection to spare young blobs', async (store) => {
      const before = Date.now();
      const info = await store.put(Buffer.from('dated'));
      const at = await store.storedAt(info.digest);
      // Object stores keep whole seconds; clocks of a remote store may differ a little from ours.
      assert.ok(at !== undefined && at >= before - 60_000 && at <= Date.now() + 60_000, `stored at ${at}, put at ${before}`);
      assert.equal(await store.storedAt(digestOf('never stored')), undefined);
    });

    withStore('deletes and lists in digest order', async (store) => {
      const infos = await Promise.all(['a', 'b', 'c'].map((s) => store.put(Buffer.from(s))));
      assert.deepEqual((await store.list()).map((i) => i.digest), infos.map((i) => i.digest).sort());
      assert.equal(await store.delete(infos[1]!.digest), true);
      assert.equal(await store.has(infos[1]!.digest), false);
      assert.equal((await store.list()).length, 2);
    });

    withStore('refuses malformed digests, which could otherwise name paths', async (store) => {
      for (const bad of ['sha256:../../etc/passwd', 'md5:abc', 'sha256:' + 'A'.repeat(64), '']) {
        await assert.rejects(store.get(bad), (e) => isKilnError(e, 'InvalidArgument'), bad);
        await assert.rejects(store.has(bad), (e) => isKilnError(e, 'InvalidArgument'), bad);
      }
      await assert.rejects(store.put(Buffer.from('x'), { expectedDigest: 'sha256:nope' }), (e) => isKilnError(e, 'InvalidArgument'));
    });

    withStore('ping: a reachable store answers it, empty or not', async (store) => {
      await store.ping();
      await store.put(Buffer.from('ping'));
      await store.ping();
    });
  });
}
