/**
 * Routes only other nodes of the cluster may call: every request under the scope must carry a valid node
 * signature (node-signature.ts), or it is answered 401 before any handler runs. Tenants' access keys do not
 * sign these, so no tenant reaches them.
 */
import type { FastifyInstance } from 'fastify';
import { NodeSignatureError, type NodeSigner } from './node-signature.js';

/** Registers `routes` in a scope that refuses unsigned, stale, replayed or tampered requests with 401. */
export function registerSignedScope(app: FastifyInstance, signer: NodeSigner, routes: (scope: FastifyInstance) => void): void {
  void app.register(async (scope) => {
    // preHandler runs after the body is read, so the signature covers the bytes the handler gets.
    scope.addHook('preHandler', async (req, reply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      try {
        signer.verify({ method: req.method, path: req.raw.url ?? '/', body }, req.headers);
      } catch (err) {
        if (!(err instanceof NodeSignatureError)) throw err;
        return reply.code(401).header('x-amzn-ErrorType', 'UnrecognizedClientException').type('application/json').send({ __type: 'UnrecognizedClientException', message: `Refused: ${err.message}.` });
      }
    });
    routes(scope);
  });
}
