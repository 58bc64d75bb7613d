/**
 * `GET /kiln/images/verify?image=…` (SigV4-signed like the API): what `kiln images verify` checks a machine image
 * with (its detached signature, the account's public key, the digest its stored disk has now). IMAGE is an AMI
 * image ARN the caller may read or a machine image id it may launch; others are reported as not found.
 */
import type { FastifyInstance } from 'fastify';
import type { MachineVerification } from '../../builder/machine/machine-verify.js';
import { awsError, toAwsError } from '../aws/errors.js';
import { sendAwsError } from './kept-instance-actions.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';

export const IMAGE_VERIFY_PATH = '/kiln/images/verify';

export interface ImageVerifyRouteDeps extends SignedRouteAuth {
  verification: (who: { accountId: string; region: string }, image: string, signal: AbortSignal) => Promise<MachineVerification>;
}

export function registerImageVerifyRoute(app: FastifyInstance, deps: ImageVerifyRouteDeps): void {
  app.get<{ Querystring: { image?: string } }>(IMAGE_VERIFY_PATH, async (req, reply) => {
    try {
      const who = await signedCaller(req, deps);
      const { image } = req.query;
      if (!image) throw awsError('InvalidParameterException', 'image: give a machine image id (ami-…) or an AMI image ARN.');
      const controller = new AbortController();
      req.raw.once('close', () => {
        if (!reply.raw.writableEnded) controller.abort(new Error('the client went away'));
      });
      const found = await deps.verification(who, image, controller.signal);
      return reply.code(200).header('x-amzn-RequestId', req.id).type('application/json').send(found);
    } catch (err) {
      return sendAwsError(reply, toAwsError(err));
    }
  });
}
