import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { answerClientError } from './client-errors.js';
import { AwsError, awsError, errorBody, toAwsError } from './errors.js';
import { decodeInput, matchOperation } from './protocol.js';
import { serializeValue } from './shapes.js';
import { verifySigV4, type AccessKeySecret } from './sigv4.js';
import type { OperationHandler, RequestContext } from '../../service/types.js';

export type { OperationHandler, RequestContext };

export interface ApiOptions {
  /** Implemented operations by wire name; the rest answer InvalidRequestException naming the operation. */
  handlers: Readonly<Record<string, OperationHandler>>;
  /** Regions requests may be signed for. */
  regions: ReadonlySet<string>;
  /** Finds the secret of an access key for signature verification. */
  lookupKey: (accessKeyId: string) => Promise<AccessKeySecret | undefined>;
  /** Largest accepted request body; larger ones get an AWS-shaped 413. */
  bodyLimit?: number;
  /** Serve HTTPS with this PEM certificate (chain) and key instead of plain HTTP. */
  tls?: { cert: Buffer; key: Buffer };
  logger?: boolean;
  /**
   * Told of every answered request (metrics): `operation` is the Image Builder operation's name for the AWS wire
   * (`unknown` for a path no operation has), else the pattern of the route that answered (`/v2/*`, `/kiln/logs`),
   * else `unmatched`; never the raw URL, so the values stay few.
   */
  onResponse?: (sample: { operation: string; status: number; seconds: number }) => void;
}

/** Generous for inline component documents (16,000 chars) and policies (30,000), small enough to bound memory. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

function sendError(reply: FastifyReply, err: AwsError, requestId: string): FastifyReply {
  return reply
    .code(err.status)
    .header('x-amzn-ErrorType', err.code)
    .header('x-amzn-RequestId', requestId)
    .type('application/json')
    .send(errorBody(err));
}

/** Fastify's own request errors (body too large, bad content) in AWS's shape. */
function frameworkError(err: { code?: string; statusCode?: number; message: string }, bodyLimit: number): AwsError {
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return awsError('RequestEntityTooLargeException', `The request body is larger than the limit of ${bodyLimit} bytes.`);
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return awsError('InvalidRequestException', err.message);
  }
  return toAwsError(err);
}

/** How long a stopping server lets requests under way finish before it closes their connections. */
const CLOSE_GRACE_MS = 5_000;

/**
 * Builds the HTTP host: the Image Builder restJson1 API at AWS's paths (all 77 operations routed from the
 * generated table) with SigV4 on every API request. Probes and /metrics are registered by the composition root
 * (src/metrics/health-routes.ts), on this host and on a worker's internal listener alike.
 */
export function buildApi(options: ApiOptions): FastifyInstance {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const maxHeaderSize = http.maxHeaderSize;
  const common = {
    logger: options.logger ?? false,
    bodyLimit,
    genReqId: () => randomUUID(),
    clientErrorHandler: (err: Error, socket: Socket) => answerClientError(err, socket, maxHeaderSize),
  };
  // One type for both: the routes below do not depend on the transport.
  const app = (options.tls ? Fastify({ ...common, https: options.tls }) : Fastify(common)) as unknown as FastifyInstance;

  // The signature covers the exact bytes, so every body is kept raw and decoded by the operation table.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err, req, reply) => {
    const aws = err instanceof AwsError ? err : frameworkError(err as { code?: string; statusCode?: number; message: string }, bodyLimit);
    if (aws.status >= 500) req.log.error({ err }, 'request failed');
    return sendError(reply, aws, req.id);
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, awsError('UnknownOperationException', `No operation at ${req.method} ${req.url.split('?')[0]}`), req.id));

  // The operation a request of the AWS wire was for, known once it is matched; other routes are named by pattern.
  const operations = new WeakMap<FastifyRequest, string>();
  const onResponse = options.onResponse;
  if (onResponse) {
    // Added before any route, so it runs for the routes and plugins registered later too.
    app.addHook('onResponse', async (req, reply) => {
      onResponse({ operation: operations.get(req) ?? req.routeOptions.url ?? 'unmatched', status: reply.statusCode, seconds: reply.elapsedTime / 1000 });
    });
  }

  const handle = async (req: FastifyRequest, reply: FastifyReply) => {
    const url = req.raw.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const match = matchOperation(req.method, rawPath);
    operations.set(req, match?.op.name ?? 'unknown');
    if (!match) throw awsError('UnknownOperationException', `No Image Builder operation at ${req.method} ${rawPath}`);
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const caller = await verifySigV4({ method: req.method, rawPath, query, headers: req.headers, body }, { lookup: options.lookupKey, regions: options.regions });
    const input = decodeInput(match.op, { labels: match.labels, query, headers: req.headers, body });
    const handler = options.handlers[match.op.name];
    if (!handler) {
      throw awsError('InvalidRequestException', `Kiln does not implement the Image Builder operation ${match.op.name} yet.`);
    }
    const ctx: RequestContext = { operation: match.op.name, accountId: caller.accountId, region: caller.region, requestId: req.id };
    const output = await handler(input, ctx);
    const wire = serializeValue({ structure: match.op.output }, { requestId: req.id, ...output });
    return reply.code(match.op.status).header('x-amzn-RequestId', req.id).type('application/json').send(wire);
  };
  app.route({ method: ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD'], url: '/*', handler: handle });

  // Closing waits for every connection to go. A browser tab with the console reconnects its event stream on
  // keep-alive connections, each idle only for a moment between requests: close idle ones until the server has
  // closed, and after a grace period for requests under way, every connection, so that nothing a client does
  // can hold a stop (or SIGTERM) for ever.
  app.addHook('preClose', (done) => {
    const idle = setInterval(() => app.server.closeIdleConnections(), 100);
    const all = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
    idle.unref();
    all.unref();
    app.server.once('close', () => {
      clearInterval(idle);
      clearTimeout(all);
    });
    done();
  });
  return app;
}
