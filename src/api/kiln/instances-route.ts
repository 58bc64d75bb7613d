/**
 * Kiln's routes for instances (not part of AWS's API): kept after a failed build or launched from a machine
 * image. `GET /kiln/instances` lists the caller's, `POST /kiln/instances` launches one ({image, instanceType?}),
 * `GET /kiln/instances/<id>/console?offset=N` reads its serial console, `POST /kiln/instances/<id>/exec`
 * ({argv}) runs a command in it, `DELETE /kiln/instances/<id>` releases it. Requests are SigV4-signed like API
 * calls; an account sees only its own instances.
 *
 * In a cluster (deps.cluster) an instance lives on the node that launched it: the listing adds every other
 * active node's instances, each with its `node` and `host`, and `unreachable` names the nodes that did not
 * answer; the other routes are forwarded to the node that holds the instance (instance-forwarding.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KeptInstanceInfo, KeptInstances } from '../../builder/stages/kept-instances.js';
import type { LaunchRequest } from '../../builder/stages/instance-launcher.js';
import type { Store } from '../../store/store.js';
import { awsError, toAwsError } from '../aws/errors.js';
import type { InstanceCluster } from './instance-forwarding.js';
import { clientGone, execArgv, execInKept, jsonBody, readConsole, sendAwsError } from './kept-instance-actions.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';

export interface InstanceRouteDeps extends SignedRouteAuth {
  kept: KeptInstances;
  store: Store;
  /** Boots a machine image; absent when this Kiln runs no builds. */
  launch?: (request: LaunchRequest, signal: AbortSignal) => Promise<KeptInstanceInfo>;
  /** The other nodes, when this node is one of a cluster; absent, only this node's instances exist. */
  cluster?: InstanceCluster;
}

interface Caller {
  accountId: string;
  admin: boolean;
  region: string;
}

async function caller(req: FastifyRequest, deps: InstanceRouteDeps): Promise<Caller> {
  const who = await signedCaller(req, deps);
  const account = await deps.store.getAccount(who.accountId);
  return { accountId: who.accountId, admin: account?.admin === true, region: who.region };
}

const visible = (who: Caller, info: KeptInstanceInfo) => who.admin || info.accountId === who.accountId;

const notVisible = (id: string, who: Caller) => awsError('ResourceNotFoundException', `No instance ${id} is visible to account ${who.accountId}.`);

/**
 * Answers a request about instance `id`: with `local` when this node holds it, else forwarded to the node of
 * the cluster that does (`remote` names the internal route after `/internal/instances/<id>` and its body; it is
 * called once the caller may see the instance, so that its checks come after authentication, as locally).
 */
async function onInstance(
  req: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
  deps: InstanceRouteDeps,
  remote: () => { kind: 'console' | 'exec' | 'release'; suffix: string; body?: Buffer },
  local: (info: KeptInstanceInfo) => Promise<unknown>,
): Promise<FastifyReply> {
  try {
    const who = await caller(req, deps);
    const id = req.params.id;
    const info = deps.kept.get(id);
    if (info || !deps.cluster) {
      if (!info || !visible(who, info)) throw notVisible(id, who);
      return reply.type('application/json').send(await local(info));
    }
    const found = await deps.cluster.locate(id, clientGone(reply));
    if ('unreachable' in found) {
      if (found.unreachable.length === 0) throw notVisible(id, who);
      const nodes = found.unreachable.map((n) => `${n.node} on ${n.host} (${n.error})`).join(', ');
      throw awsError('ServiceUnavailableException', `No reachable node holds instance ${id}; these nodes did not answer: ${nodes}.`);
    }
    if (!visible(who, found.info)) throw notVisible(id, who);
    const { kind, suffix, body } = remote();
    return await deps.cluster.forward(reply, found.node, { method: req.method, path: `/internal/instances/${encodeURIComponent(id)}${suffix}`, kind, ...(body ? { body } : {}) });
  } catch (err) {
    return sendAwsError(reply, toAwsError(err));
  }
}

export function registerInstanceRoutes(app: FastifyInstance, deps: InstanceRouteDeps): void {
  app.get('/kiln/instances', async (req, reply) => {
    try {
      const who = await caller(req, deps);
      const own = deps.kept.list();
      if (!deps.cluster) return reply.type('application/json').send({ instances: own.filter((i) => visible(who, i)) });
      const { id, host } = deps.cluster.self;
      const others = await deps.cluster.list(clientGone(reply));
      const instances = [...own.map((i) => ({ ...i, node: id, host })), ...others.instances].filter((i) => visible(who, i));
      return reply.type('application/json').send({ instances, unreachable: others.unreachable });
    } catch (err) {
      return sendAwsError(reply, toAwsError(err));
    }
  });
  app.post('/kiln/instances', async (req, reply) => {
    try {
      const who = await caller(req, deps);
      const body = jsonBody(req);
      if (typeof body.image !== 'string' || body.image === '') throw awsError('InvalidParameterException', 'image: give a machine image id (ami-…) or an image ARN.');
      if (body.instanceType !== undefined && typeof body.instanceType !== 'string') throw awsError('InvalidParameterException', 'instanceType: must be a string such as vm.small.');
      if (!deps.launch) throw awsError('ServiceUnavailableException', 'This Kiln runs no builds, so it cannot launch instances.');
      const instance = await deps.launch(
        { accountId: who.accountId, region: who.region, image: body.image, ...(typeof body.instanceType === 'string' ? { instanceType: body.instanceType } : {}), ...(body.network === 'none' ? { network: 'none' as const } : {}) },
        clientGone(reply),
      );
      return reply.type('application/json').send({ instance });
    } catch (err) {
      return sendAwsError(reply, toAwsError(err));
    }
  });
  app.get<{ Params: { id: string }; Querystring: { offset?: string } }>('/kiln/instances/:id/console', async (req, reply) => {
    const offset = Math.max(0, Number(req.query.offset ?? 0) || 0);
    return onInstance(req, reply, deps, () => ({ kind: 'console', suffix: `/console?offset=${offset}` }), (info) => readConsole(info, String(offset)));
  });
  app.post<{ Params: { id: string } }>('/kiln/instances/:id/exec', async (req, reply) => {
    let argv: string[] | undefined;
    const parsed = () => (argv ??= execArgv(jsonBody(req)));
    return onInstance(req, reply, deps, () => ({ kind: 'exec', suffix: '/exec', body: Buffer.from(JSON.stringify({ argv: parsed() })) }), (info) => execInKept(deps.kept, info.instanceId, parsed(), clientGone(reply)));
  });
  app.delete<{ Params: { id: string } }>('/kiln/instances/:id', async (req, reply) => {
    return onInstance(req, reply, deps, () => ({ kind: 'release', suffix: '' }), async (info) => {
      await deps.kept.release(info.instanceId);
      return { instanceId: info.instanceId, released: true };
    });
  });
}
