/**
 * The listener of a node without the `api` role (`kiln worker`, a scheduler-only node): no public API, console
 * or registry, only what other nodes and operators reach a node for: the composition root registers the same health,
 * metrics and internal instance routes on it as on the API's app, and ServeOptions.registerNodeRoutes more,
 * before it listens.
 */
import Fastify, { type FastifyInstance } from 'fastify';

export interface NodeListenerOptions {
  logger?: boolean;
  /** Certificate and key when the node serves TLS (the configuration's `tls:`), as the API does. */
  tls?: { cert: Buffer; key: Buffer };
}

/** A bare fastify app for a node's routes; the caller registers them, then listens. */
export function createNodeListener(options: NodeListenerOptions = {}): FastifyInstance {
  const common = { logger: options.logger ?? false };
  const app = (options.tls ? Fastify({ ...common, https: options.tls }) : Fastify(common)) as unknown as FastifyInstance;
  return app;
}
