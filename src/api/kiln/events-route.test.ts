import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { kilnFetch } from '../../cli/kiln-client.js';
import { ImageEventBus, observeImageStates } from '../../events/image-events.js';
import { ACCOUNT, createImage, tempStore } from '../../events/events-fixture.js';
import { advance } from '../../builder/stages/image-record.js';
import { registerEventRoutes } from './events-route.js';
import { buildApi } from '../aws/server.js';

const KEYS = { accessKeyId: 'AKIAEVENTSTEST000001', secretAccessKey: 'events-secret', source: 'test' };

/** The route alone on a bare API app, with a short heartbeat. */
async function startRoute(t: TestContext, heartbeatMs: number) {
  const bus = new ImageEventBus();
  const store = observeImageStates(tempStore(t), bus);
  await store.createAccount({ name: 'a', accountId: ACCOUNT, accessKeyId: KEYS.accessKeyId, secretAccessKey: KEYS.secretAccessKey });
  const regions = new Set(['local']);
  const lookupKey = (id: string) => store.getAccessKeySecret(id);
  const app = buildApi({ handlers: {}, regions, lookupKey });
  registerEventRoutes(app, { store, bus, lookupKey, regions, heartbeatMs });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    // fetch may leave a spare connection that never carries a request; the server would wait for its timeout.
    app.server.closeAllConnections();
    await app.close();
  });
  const endpoint = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  return { bus, store, app, target: { endpoint, region: 'local', credentials: KEYS } };
}

/** Reads the raw stream text until it contains `needle`. */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, needle: RegExp, sofar = ''): Promise<string> {
  const decoder = new TextDecoder();
  let text = sofar;
  while (!needle.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before ${needle}: ${text}`);
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

test('heartbeat comments keep a quiet stream alive; a client that goes away leaves no listener behind', async (t) => {
  const { bus, target } = await startRoute(t, 50);
  assert.equal(bus.listenerCount, 0);
  const controller = new AbortController();
  const response = await kilnFetch(target, { method: 'GET', path: '/kiln/events', signal: controller.signal });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('cache-control'), 'no-cache, no-transform');
  const reader = response.body!.getReader();
  const text = await readUntil(reader, /: keep-alive\n\n[^]*: keep-alive\n\n/);
  assert.ok(text.startsWith('retry: 2000\n\n'));
  assert.equal(bus.listenerCount, 1);
  controller.abort();
  const deadline = Date.now() + 5000;
  while (bus.listenerCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(bus.listenerCount, 0, 'the listener was removed when the client went');
});

test('closing the server ends open streams instead of waiting for them', async (t) => {
  const { bus, store, app, target } = await startRoute(t, 60_000);
  const image = await createImage(store);
  const response = await kilnFetch(target, { method: 'GET', path: '/kiln/events', query: { imageBuildVersionArn: image.arn } });
  const reader = response.body!.getReader();
  let text = await readUntil(reader, /"status":"PENDING"/);
  await advance(store, image.arn, 'CREATING');
  text = await readUntil(reader, /"previousStatus":"PENDING"/, text);
  assert.match(text, /id: \d+\nevent: image-state\ndata: \{"imageBuildVersionArn":"[^"]+","status":"CREATING","previousStatus":"PENDING","time":"[^"]+"\}\n\n/);
  const started = Date.now();
  await app.close();
  assert.ok(Date.now() - started < 2000, `closed in ${Date.now() - started} ms`);
  for (;;) if ((await reader.read()).done) break;
  assert.equal(bus.listenerCount, 0);
});
