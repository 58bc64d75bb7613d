/**
 * The internal side of kept instances in a cluster: the routes another node calls, signed with the cluster key
 * (api/internal/signed-scope.ts), to list this node's instances, find one, read its console, run a command in it
 * and release it. They answer for every account: the API node that forwards a request has checked its caller.
 *   GET    /internal/instances                     {instances}
 *   GET    /internal/instances/<id>                {instance}, or 404
 *   GET    /internal/instances/<id>/console?offset {text, offset}
 *   POST   /internal/instances/<id>/exec           {argv} → the exec result (the command dies if the caller goes)
 *   DELETE /internal/instances/<id>                {instanceId, released}
 */
import type { FastifyInstance } from 'fastify';
import type { KeptInstanceInfo, KeptInstances } from '../../builder/stages/kept-instances.js';
import { awsError, toAwsError } from '../aws/errors.js';
import type { NodeSigner } from '../internal/node-signature.js';
import { registerSignedScope } from '../internal/signed-scope.js';
import { clientGone, execArgv, execInKept, jsonBody, readConsole, sendAwsError } from './kept-instance-actions.js';

export interface InternalInstanceRouteDeps {
  kept: KeptInstances;
  /** Verifies that a request comes from a node of this cluster. */
  signer: NodeSigner;
}

function held(kept: KeptInstances, id: string): KeptInstanceInfo {
  const info = kept.get(id);
  if (!info) throw awsError('ResourceNotFoundException', `No instance ${id} on this node.`);
  return info;
}

/** Registers the signed `/internal/instances` routes over this node's kept instances. */
export function registerInternalInstanceRoutes(app: FastifyInstance, deps: InternalInstanceRouteDeps): void {
  registerSignedScope(app, deps.signer, (scope) => {
    scope.get('/internal/instances', async (_req, reply) => reply.type('application/json').send({ instances: deps.kept.list() }));
    scope.get<{ Params: { id: string } }>('/internal/instances/:id', async (req, reply) => {
      try {
        return reply.type('application/json').send({ instance: held(deps.kept, req.params.id) });
      } catch (err) {
        return sendAwsError(reply, toAwsError(err));
      }
    });
    scope.get<{ Params: { id: string }; Querystring: { offset?: string } }>('/internal/instances/:id/console', async (req, reply) => {
      try {
        return reply.type('application/json').send(await readConsole(held(deps.kept, req.params.id), req.query.offset));
      } catch (err) {
        return sendAwsError(reply, toAwsError(err));
      }
    });
    scope.post<{ Params: { id: string } }>('/internal/instances/:id/exec', async (req, reply) => {
      try {
        const info = held(deps.kept, req.params.id);
        const argv = execArgv(jsonBody(req));
        return reply.type('application/json').send(await execInKept(deps.kept, info.instanceId, argv, clientGone(reply)));
      } catch (err) {
        return sendAwsError(reply, toAwsError(err));
      }
    });
    scope.delete<{ Params: { id: string } }>('/internal/instances/:id', async (req, reply) => {
      try {
        await deps.kept.release(held(deps.kept, req.params.id).instanceId);
        return reply.type('application/json').send({ instanceId: req.params.id, released: true });
      } catch (err) {
        return sendAwsError(reply, toAwsError(err));
      }
    });
  });
}
