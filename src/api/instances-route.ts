/**
 * Kiln's routes for instances kept after a failed build (not part of AWS's API): `GET /kiln/instances` lists
 * the caller's, `DELETE /kiln/instances/<id>` releases one. Requests are SigV4-signed like API calls; an
 * account sees only instances of its own images.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KeptInstances } from '../build/engine/kept-instances.js';
import type { Store } from '../store/store.js';
import { awsError, errorBody, toAwsError, type AwsError } from './errors.js';
import { verifySigV4, type AccessKeySecret } from './sigv4.js';

export interface InstanceRouteDeps {
  kept: KeptInstances;
  store: Store;
  lookupKey: (accessKeyId: string) => Promise<AccessKeySecret | undefined>;
  regions: ReadonlySet<string>;
}

function send(reply: FastifyReply, err: AwsError): FastifyReply {
  return reply.code(err.status).header('x-amzn-ErrorType', err.code).type('application/json').send(errorBody(err));
}

async function caller(req: FastifyRequest, deps: InstanceRouteDeps): Promise<{ accountId: string; admin: boolean }> {
  const url = req.raw.url ?? '/';
  const q = url.indexOf('?');
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const who = await verifySigV4(
    { method: req.method, rawPath: q < 0 ? url : url.slice(0, q), query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)), headers: req.headers, body },
    { lookup: deps.lookupKey, regions: deps.regions },
  );
  const account = await deps.store.getAccount(who.accountId);
  return { accountId: who.accountId, admin: account?.admin === true };
}

function ownerOf(imageArn: string): string | undefined {
  return imageArn.split(':')[4];
}

export function registerInstanceRoutes(app: FastifyInstance, deps: InstanceRouteDeps): void {
  app.get('/kiln/instances', async (req, reply) => {
    try {
      const who = await caller(req, deps);
      const instances = deps.kept.list().filter((i) => who.admin || ownerOf(i.imageBuildVersionArn) === who.accountId);
      return reply.type('application/json').send({ instances });
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });
  app.delete<{ Params: { id: string } }>('/kiln/instances/:id', async (req, reply) => {
    try {
      const who = await caller(req, deps);
      const info = deps.kept.get(req.params.id);
      if (!info || !(who.admin || ownerOf(info.imageBuildVersionArn) === who.accountId)) {
        throw awsError('ResourceNotFoundException', `No kept instance ${req.params.id} is visible to account ${who.accountId}.`);
      }
      await deps.kept.release(req.params.id);
      return reply.type('application/json').send({ instanceId: req.params.id, released: true });
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });
}
