/**
 * The web console at /console/: the static files `web/` builds (scripts/install.sh runs its build), served on
 * the API port so the browser's signed calls go to the same origin. Without a build, /console/ says how to make
 * one instead of failing obscurely.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where `web/` puts its build, from this file in src/ or dist/src/. */
export function defaultConsoleDir(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'web', 'package.json'))) return path.join(dir, 'web', 'dist');
  }
  return path.resolve('web', 'dist');
}

export async function registerConsole(app: FastifyInstance, root: string = defaultConsoleDir()): Promise<void> {
  app.get('/console', async (_req, reply) => reply.redirect('/console/'));
  if (!existsSync(path.join(root, 'index.html'))) {
    app.get('/console/*', async (_req, reply) =>
      reply.code(503).type('text/html').send('<!doctype html><title>Kiln console</title><p>The Kiln console is not built. Run <code>bash scripts/install.sh</code> (it builds <code>web/</code>), then reload.</p>'),
    );
    return;
  }
  // Hashed assets never change; index.html must be read anew so a rebuilt console is picked up.
  await app.register(fastifyStatic, {
    root,
    prefix: '/console/',
    index: ['index.html'],
    wildcard: true,
    setHeaders: (res, file) => res.setHeader('cache-control', file.endsWith('index.html') ? 'no-cache' : 'public, max-age=31536000, immutable'),
  });
}
