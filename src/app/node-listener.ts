/**
 * The listener of a node without the `api` role (`kiln worker`, a scheduler-only node): no public API, console
 * or registry, only what other nodes and operators reach a node for. `GET /healthz` answers liveness here as the
 * API's does; further node routes (metrics, forwarded instance routes) are registered on the same app through
 * ServeOptions.registerNodeRoutes, before it listens.
 */
import Fastify, { type FastifyInstance } from 'fastify';

export interface NodeListenerOptions {
  logger?: boolean;
  /** Certificate and key when the node serves TLS (the configuration's `tls:`), as the API does. */
  tls?: { cert: Buffer; key: Buffer };
}

/** A fastify app with the node routes every listener has; the caller registers more, then listens. */
export function createNodeListener(options: NodeListenerOptions = {}): FastifyInstance {
  const common = { logger: options.logger ?? false };
  const app = (options.tls ? Fastify({ ...common, https: options.tls }) : Fastify(common)) as unknown as FastifyInstance;
  // The same answer as the API's /healthz, so a probe does not care which kind of node it asks.
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}
