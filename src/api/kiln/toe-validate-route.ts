/**
 * `POST /kiln/toe/validate {data}`: checks a component document with exactly the validator `kiln toe validate`
 * and CreateComponent use (toe/document/validate.ts), for the console's YAML editor. Signed like an Image
 * Builder operation (SigV4 for `imagebuilder`); it reads nothing of the store. Answers `{valid, issues}` with
 * each issue's path in the document ('(document)' for the document as a whole), as the CLI prints them.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { KilnError } from '../../domain/errors.js';
import { actionModules } from '../../toe/actions/registry.js';
import { validateDocumentText } from '../../toe/document/validate.js';
import { errorBody, toAwsError } from '../aws/errors.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';

export const TOE_VALIDATE_PATH = '/kiln/toe/validate';

/** The body of a successful answer. */
export interface ToeValidation {
  valid: boolean;
  issues: { path: string; message: string }[];
}

const modules = actionModules();

function documentText(req: FastifyRequest): string {
  const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  let body: unknown;
  try {
    body = raw.trim() === '' ? {} : JSON.parse(raw);
  } catch {
    throw new KilnError('InvalidRequest', 'The request body must be a JSON object, e.g. {"data": "<component document YAML>"}.');
  }
  const data = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>).data : undefined;
  if (typeof data !== 'string') throw new KilnError('InvalidArgument', "The parameter 'data' is required: the component document as a string.", [{ path: 'data', message: 'must be a string' }]);
  return data;
}

/** Validates document text as `kiln toe validate` does. */
export function validateToeDocument(text: string): ToeValidation {
  const { issues } = validateDocumentText(text, modules);
  return { valid: issues.length === 0, issues: issues.map((i) => ({ path: i.path || '(document)', message: i.message })) };
}

export function registerToeValidateRoute(app: FastifyInstance, auth: SignedRouteAuth): void {
  app.post(TOE_VALIDATE_PATH, async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      await signedCaller(req, auth);
      const result = validateToeDocument(documentText(req));
      return reply.code(200).header('x-amzn-RequestId', req.id).type('application/json').send(result);
    } catch (err) {
      const aws = toAwsError(err);
      if (aws.status >= 500) req.log.error({ err }, 'toe validate failed');
      return reply.code(aws.status).header('x-amzn-ErrorType', aws.code).header('x-amzn-RequestId', req.id).type('application/json').send(errorBody(aws));
    }
  });
}
