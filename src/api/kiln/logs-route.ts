/**
 * `GET /kiln/logs`: a workflow step's log, read from a byte offset, for `kiln logs` and the console. Not an
 * Image Builder operation (AWS keeps these logs in CloudWatch), but signed and authorised like one: SigV4 for
 * the `imagebuilder` service, and a caller reads the logs of exactly the images GetImage shows it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { stepData, DEFAULT_LOG_READ, MAX_LOG_READ, type StepLogStore } from '../../builder/records/execution-records.js';
import { KilnError } from '../../domain/errors.js';
import type { StoredLine } from '../../logs/step-log-format.js';
import { readableImage, readableStep } from '../../service/workflow-executions.js';
import type { RequestContext } from '../../service/types.js';
import type { Store } from '../../store/store.js';
import { errorBody, toAwsError } from '../aws/errors.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';

export const LOGS_PATH = '/kiln/logs';

export interface LogRouteOptions extends SignedRouteAuth {
  store: Store;
  /** Where the ExecutionRecorder keeps step logs (the data directory, or a bucket every node reads). */
  logs: StepLogStore;
}

/** The body of a successful answer. */
export interface LogSlice {
  /** The lines' text, stdout and stderr merged in the order their lines were completed, each line whole. */
  text: string;
  /** The same lines with their stream (stdout, stderr, info; output for a log kept before streams were) and time. */
  lines: StoredLine[];
  /** The offset to ask for next; equal to the request's when nothing new was written. */
  nextOffset: number;
  /** WorkflowStepExecutionStatus, read before the log: a final status means `text` runs to the log's end (or to the size limit). */
  stepStatus: string;
}

function required(query: URLSearchParams, field: string): string {
  const value = query.get(field);
  if (value === null || value === '') throw new KilnError('InvalidArgument', `The parameter '${field}' is required.`, [{ path: field, message: 'is required' }]);
  return value;
}

function byteCount(query: URLSearchParams, field: string, fallback: number): number {
  const value = query.get(field);
  if (value === null) return fallback;
  if (!/^\d{1,15}$/.test(value)) throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' must be a whole number of bytes: ${value}`, [{ path: field, message: 'must be an integer >= 0' }]);
  return Number(value);
}

/**
 * Adds `GET /kiln/logs?imageBuildVersionArn=…&stepExecutionId=…&offset=N[&maxBytes=M]` → `{ text, lines,
 * nextOffset, stepStatus }`: whole lines from byte offset N of the stored log. Failures use the API's error shape: malformed parameters InvalidParameterValueException
 * naming the field, an image or step the caller may not read (or a step of another image)
 * ResourceNotFoundException, signature problems as the API reports them.
 */
export function registerLogRoutes(app: FastifyInstance, options: LogRouteOptions): void {
  const { store, logs } = options;
  const handle = async (req: FastifyRequest): Promise<LogSlice> => {
    const url = req.raw.url ?? '/';
    const q = url.indexOf('?');
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const caller = await signedCaller(req, options);
    const ctx: RequestContext = { operation: 'GetStepLog', accountId: caller.accountId, region: caller.region, requestId: req.id };
    const image = await readableImage(store, ctx, required(query, 'imageBuildVersionArn'));
    const step = await readableStep(store, ctx, required(query, 'stepExecutionId'));
    const d = stepData(step);
    if (d.imageBuildVersionArn !== image.arn) {
      throw new KilnError('NotFound', `The workflow step execution ${d.stepExecutionId} is not a step of the image ${image.arn}.`);
    }
    const offset = byteCount(query, 'offset', 0);
    const maxBytes = Math.min(byteCount(query, 'maxBytes', DEFAULT_LOG_READ), MAX_LOG_READ);
    const { text, lines, nextOffset } = await logs.read(image.arn, d.stepExecutionId, offset, Math.max(1, maxBytes));
    return { text, lines, nextOffset, stepStatus: d.status };
  };
  app.get(LOGS_PATH, async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      const slice = await handle(req);
      return reply.code(200).header('x-amzn-RequestId', req.id).type('application/json').send(slice);
    } catch (err) {
      // Answered here rather than by the app's error handler, so the route behaves the same on any app.
      const aws = toAwsError(err);
      if (aws.status >= 500) req.log.error({ err }, 'log request failed');
      return reply.code(aws.status).header('x-amzn-ErrorType', aws.code).header('x-amzn-RequestId', req.id).type('application/json').send(errorBody(aws));
    }
  });
}
