import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { buildApi } from './server.js';

test('closing the API: idle keep-alive connections go at once, and a request that never ends is cut after the grace period', async () => {
  const app = buildApi({ handlers: {}, regions: new Set(['local']), lookupKey: async () => undefined });
  app.get('/ok', async () => 'ok');
  app.get('/never', () => new Promise(() => undefined));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const agent = new Agent({ keepAlive: true });
  // One keep-alive connection left idle, and one request that will never be answered.
  await new Promise<void>((resolve, reject) => request({ port, path: '/ok', agent }, (res) => res.resume().on('end', resolve)).on('error', reject).end());
  const hanging = new Promise<string>((resolve) => request({ port, path: '/never', agent }).on('error', (e) => resolve(e.message)).end());
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  await app.close();
  const took = Date.now() - started;
  assert.ok(took >= 4_000 && took < 8_000, `closed after ${took} ms: the grace period, not for ever`);
  assert.match(await hanging, /socket hang up|ECONNRESET/);
  agent.destroy();
});
