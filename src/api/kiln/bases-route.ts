/**
 * Kiln's managed-base routes: `GET /kiln/bases` says where each managed base (the `aws`-owned Debian images) is
 * (absent, preparing with phase, percent and time left, ready, failed with the reason), and
 * `POST /kiln/bases/prefetch` starts preparing those not stored yet, in the background, and answers at once with
 * the same list. SigV4-signed like the API.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { BaseStatus } from '../../builder/bases/base-progress.js';
import { errorBody, toAwsError, type AwsError } from '../aws/errors.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';

export interface BasesRouteDeps extends SignedRouteAuth {
  /** Every managed base and its state. */
  status: () => Promise<BaseStatus[]>;
  /** Starts preparing the missing bases unless that runs already; must not wait for it. */
  prefetch: () => void;
}

function send(reply: FastifyReply, err: AwsError): FastifyReply {
  return reply.code(err.status).header('x-amzn-ErrorType', err.code).type('application/json').send(errorBody(err));
}

export function registerBasesRoutes(app: FastifyInstance, deps: BasesRouteDeps): void {
  app.get('/kiln/bases', async (req, reply) => {
    try {
      await signedCaller(req, deps);
      return reply.type('application/json').send({ bases: await deps.status() });
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });
  app.post('/kiln/bases/prefetch', async (req, reply) => {
    try {
      await signedCaller(req, deps);
      deps.prefetch();
      return reply.type('application/json').send({ bases: await deps.status() });
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });
}
