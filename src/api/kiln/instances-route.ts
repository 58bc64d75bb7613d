/**
 * Kiln's routes for instances (not part of AWS's API): kept after a failed build or launched from a machine
 * image. `GET /kiln/instances` lists the caller's, `POST /kiln/instances` launches one ({image, instanceType?}),
 * `GET /kiln/instances/<id>/console?offset=N` reads its serial console, `POST /kiln/instances/<id>/exec`
 * ({argv}) runs a command in it, `DELETE /kiln/instances/<id>` releases it. Requests are SigV4-signed like API
 * calls; an account sees only its own instances.
 */
import { open } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KeptInstanceInfo, KeptInstances } from '../../builder/stages/kept-instances.js';
import type { LaunchRequest } from '../../builder/stages/instance-launcher.js';
import type { Store } from '../../store/store.js';
import { awsError, errorBody, toAwsError, type AwsError } from '../aws/errors.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';

export interface InstanceRouteDeps extends SignedRouteAuth {
  kept: KeptInstances;
  store: Store;
  /** Boots a machine image; absent when this Kiln runs no builds. */
  launch?: (request: LaunchRequest, signal: AbortSignal) => Promise<KeptInstanceInfo>;
}

/** The most console text one read returns. */
const CONSOLE_CHUNK = 256 * 1024;

function send(reply: FastifyReply, err: AwsError): FastifyReply {
  return reply.code(err.status).header('x-amzn-ErrorType', err.code).type('application/json').send(errorBody(err));
}

async function caller(req: FastifyRequest, deps: InstanceRouteDeps): Promise<{ accountId: string; admin: boolean; region: string }> {
  const who = await signedCaller(req, deps);
  const account = await deps.store.getAccount(who.accountId);
  return { accountId: who.accountId, admin: account?.admin === true, region: who.region };
}

/** The caller's instance `id`; ResourceNotFoundException when there is none it may see. */
async function ownInstance(req: FastifyRequest<{ Params: { id: string } }>, deps: InstanceRouteDeps): Promise<KeptInstanceInfo> {
  const who = await caller(req, deps);
  const info = deps.kept.get(req.params.id);
  if (!info || !(who.admin || info.accountId === who.accountId)) {
    throw awsError('ResourceNotFoundException', `No instance ${req.params.id} is visible to account ${who.accountId}.`);
  }
  return info;
}

function jsonBody(req: FastifyRequest): Record<string, unknown> {
  const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  try {
    const parsed = JSON.parse(raw || '{}') as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw awsError('InvalidRequestException', 'The request body must be a JSON object.');
}

export function registerInstanceRoutes(app: FastifyInstance, deps: InstanceRouteDeps): void {
  app.get('/kiln/instances', async (req, reply) => {
    try {
      const who = await caller(req, deps);
      const instances = deps.kept.list().filter((i) => who.admin || i.accountId === who.accountId);
      return reply.type('application/json').send({ instances });
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });
  app.post('/kiln/instances', async (req, reply) => {
    try {
      const who = await caller(req, deps);
      const body = jsonBody(req);
      if (typeof body.image !== 'string' || body.image === '') throw awsError('InvalidParameterException', 'image: give a machine image id (ami-…) or an image ARN.');
      if (body.instanceType !== undefined && typeof body.instanceType !== 'string') throw awsError('InvalidParameterException', 'instanceType: must be a string such as vm.small.');
      if (!deps.launch) throw awsError('ServiceUnavailableException', 'This Kiln runs no builds, so it cannot launch instances.');
      const controller = new AbortController();
      req.raw.once('close', () => {
        if (!reply.raw.writableEnded) controller.abort(new Error('the client went away'));
      });
      const instance = await deps.launch(
        { accountId: who.accountId, region: who.region, image: body.image, ...(typeof body.instanceType === 'string' ? { instanceType: body.instanceType } : {}), ...(body.network === 'none' ? { network: 'none' as const } : {}) },
        controller.signal,
      );
      return reply.type('application/json').send({ instance });
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });
  app.get<{ Params: { id: string }; Querystring: { offset?: string } }>('/kiln/instances/:id/console', async (req, reply) => {
    try {
      const info = await ownInstance(req, deps);
      if (!info.consoleLog) throw awsError('InvalidRequestException', `Instance ${info.instanceId} has no serial console.`);
      const offset = Math.max(0, Number(req.query.offset ?? 0) || 0);
      const file = await open(info.consoleLog, 'r').catch(() => undefined);
      if (!file) return reply.type('application/json').send({ text: '', offset });
      try {
        const buffer = Buffer.alloc(CONSOLE_CHUNK);
        const { bytesRead } = await file.read(buffer, 0, CONSOLE_CHUNK, offset);
        return reply.type('application/json').send({ text: buffer.subarray(0, bytesRead).toString('utf8'), offset: offset + bytesRead });
      } finally {
        await file.close();
      }
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });
  app.post<{ Params: { id: string } }>('/kiln/instances/:id/exec', async (req, reply) => {
    try {
      const info = await ownInstance(req, deps);
      const body = jsonBody(req);
      const argv = body.argv;
      if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) throw awsError('InvalidParameterException', 'argv: must be a non-empty list of strings.');
      const instance = deps.kept.instance(info.instanceId);
      if (!instance) throw awsError('ResourceNotFoundException', `Instance ${info.instanceId} is gone.`);
      const result = await instance.exec(argv as string[], { timeoutMs: 600_000 });
      return reply.type('application/json').send({ exitCode: result.exitCode, signal: result.signal, stdout: result.stdout, stderr: result.stderr, timedOut: result.timedOut, ...(result.spawnError ? { spawnError: result.spawnError } : {}) });
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });
  app.delete<{ Params: { id: string } }>('/kiln/instances/:id', async (req, reply) => {
    try {
      await ownInstance(req, deps);
      await deps.kept.release(req.params.id);
      return reply.type('application/json').send({ instanceId: req.params.id, released: true });
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });
}
