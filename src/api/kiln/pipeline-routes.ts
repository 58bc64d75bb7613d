/**
 * Kiln's pipeline routes beside the Image Builder API.
 *   GET    /kiln/pipelines/history?imagePipelineArn=…     signed: the recent schedule ticks (started, skipped
 *                                                         and why, failed to start) and the runs under way
 * Webhook triggers (the equivalent of an EventBridge rule that targets a pipeline), for CI systems and
 * registries that announce a new base image:
 *   POST   /kiln/pipelines/webhook  {imagePipelineArn}   signed: creates or rotates the pipeline's secret token,
 *                                                         answers {url, token} (the token is shown only here)
 *   DELETE /kiln/pipelines/webhook?imagePipelineArn=…     signed: removes it
 *   POST   /kiln/hooks/pipelines/<id>[?force=true]        `Authorization: Bearer <token>`: starts a run
 * A triggered run is SCHEDULED, follows the pipeline's start condition unless `force=true`, and is refused
 * while a run is under way. Only a hash of the token is stored.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { runStateOf } from '../../pipelines/run-state.js';
import type { PipelineScheduler } from '../../pipelines/scheduler.js';
import { callerPipeline } from '../../service/image-builds.js';
import type { ResourceRecord, Store } from '../../store/store.js';
import { awsError, errorBody, toAwsError, type AwsError } from '../aws/errors.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';

export const HISTORY_PATH = '/kiln/pipelines/history';
export const WEBHOOK_PATH = '/kiln/pipelines/webhook';
export const HOOKS_PATH = '/kiln/hooks/pipelines';

export interface PipelineRouteDeps extends SignedRouteAuth {
  store: Store;
  scheduler: PipelineScheduler;
  /** The API's base URL as clients reach it (known once the server listens). */
  endpoint: () => string;
}

/** Stored on the pipeline record. */
interface WebhookData {
  id: string;
  tokenSha256: string;
  dateCreated: string;
}

function send(reply: FastifyReply, err: AwsError): FastifyReply {
  return reply.code(err.status).header('x-amzn-ErrorType', err.code).type('application/json').send(errorBody(err));
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

function jsonBody(req: FastifyRequest): Record<string, unknown> {
  const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  if (raw.trim() === '') return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw awsError('InvalidRequestException', 'The request body must be a JSON object, e.g. {"imagePipelineArn": "arn:aws:imagebuilder:…:image-pipeline/…"}.');
}

async function findByHook(store: Store, id: string): Promise<ResourceRecord | undefined> {
  return (await store.listResourcesOfType('image-pipeline')).find((p) => (p.data.webhook as WebhookData | undefined)?.id === id);
}

function bearer(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  const m = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return m?.[1];
}

export function registerPipelineRoutes(app: FastifyInstance, deps: PipelineRouteDeps): void {
  app.get(HISTORY_PATH, async (req, reply) => {
    try {
      const who = await signedCaller(req, deps);
      const query = req.query as Record<string, string | undefined>;
      const pipeline = await callerPipeline(deps.store, { ...who, operation: 'GetPipelineHistory', requestId: req.id }, query.imagePipelineArn);
      const state = runStateOf(pipeline.data);
      return reply.type('application/json').send({
        imagePipelineArn: pipeline.arn,
        ticks: state.scheduleHistory ?? [],
        pendingRuns: state.pendingRuns ?? [],
        lastSuccessfulRun: state.lastSuccessfulRun?.imageBuildVersionArn,
        webhook: pipeline.data.webhook === undefined ? undefined : { url: `${deps.endpoint()}${HOOKS_PATH}/${(pipeline.data.webhook as WebhookData).id}` },
      });
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });

  app.post(WEBHOOK_PATH, async (req, reply) => {
    try {
      const who = await signedCaller(req, deps);
      const body = jsonBody(req);
      const pipeline = await callerPipeline(deps.store, { ...who, operation: 'CreatePipelineWebhook', requestId: req.id }, body.imagePipelineArn);
      const hook: WebhookData = { id: randomBytes(12).toString('hex'), tokenSha256: '', dateCreated: new Date().toISOString() };
      const token = randomBytes(32).toString('base64url');
      hook.tokenSha256 = sha256(token).toString('hex');
      await deps.store.updateResource(pipeline.arn, (current) => ({ ...current.data, webhook: hook }));
      return reply.code(201).type('application/json').send({ imagePipelineArn: pipeline.arn, url: `${deps.endpoint()}${HOOKS_PATH}/${hook.id}`, token });
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });

  app.delete(WEBHOOK_PATH, async (req, reply) => {
    try {
      const who = await signedCaller(req, deps);
      const query = req.query as Record<string, string | undefined>;
      const pipeline = await callerPipeline(deps.store, { ...who, operation: 'DeletePipelineWebhook', requestId: req.id }, query.imagePipelineArn);
      await deps.store.updateResource(pipeline.arn, (current) => {
        const { webhook: _gone, ...rest } = current.data;
        return rest;
      });
      return reply.code(200).type('application/json').send({ imagePipelineArn: pipeline.arn });
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });

  app.post<{ Params: { id: string }; Querystring: { force?: string } }>(`${HOOKS_PATH}/:id`, async (req, reply) => {
    try {
      const token = bearer(req);
      const pipeline = /^[0-9a-f]{24}$/.test(req.params.id) ? await findByHook(deps.store, req.params.id) : undefined;
      const stored = pipeline && (pipeline.data.webhook as WebhookData).tokenSha256;
      // An unknown hook and a wrong token get the same answer, so hook ids cannot be probed.
      if (!stored || token === undefined || !timingSafeEqual(sha256(token), Buffer.from(stored, 'hex'))) {
        throw awsError('ForbiddenException', 'The webhook URL or its token is not valid (send the token as "Authorization: Bearer <token>").');
      }
      const result = await deps.scheduler.trigger(pipeline!, { force: req.query.force === 'true' });
      if (result.skipped !== undefined) return reply.code(200).type('application/json').send({ imagePipelineArn: pipeline!.arn, skipped: true, reason: result.skipped });
      return reply.code(202).type('application/json').send({ imagePipelineArn: pipeline!.arn, imageBuildVersionArn: result.imageBuildVersionArn });
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });
}
