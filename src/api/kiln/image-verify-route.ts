/**
 * `GET /kiln/images/verify?image=…` (SigV4-signed like the API): what `kiln images verify` checks an image with:
 * a machine image's detached signature, the account's public key and the digest its stored disk has now; a
 * container image's sigstore signatures beside each of its URIs in Kiln's registry. IMAGE is an image ARN the
 * caller may read or a machine image id it may launch. `verdict` is the server's judgement with the account's key.
 */
import type { FastifyInstance } from 'fastify';
import type { imageVerification } from '../../builder/stages/container-verify.js';
import { awsError, toAwsError } from '../aws/errors.js';
import { sendAwsError } from './kept-instance-actions.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';
import { judgeContainerSignatures, judgeDiskSignature } from '../../domain/image-signatures.js';

export const IMAGE_VERIFY_PATH = '/kiln/images/verify';

export interface ImageVerifyRouteDeps extends SignedRouteAuth {
  verification: (who: { accountId: string; region: string }, image: string, signal: AbortSignal) => ReturnType<typeof imageVerification>;
}

export function registerImageVerifyRoute(app: FastifyInstance, deps: ImageVerifyRouteDeps): void {
  app.get<{ Querystring: { image?: string } }>(IMAGE_VERIFY_PATH, async (req, reply) => {
    try {
      const who = await signedCaller(req, deps);
      const { image } = req.query;
      if (!image) throw awsError('InvalidParameterException', 'image: give an image ARN or a machine image id (ami-…).');
      const controller = new AbortController();
      req.raw.once('close', () => {
        if (!reply.raw.writableEnded) controller.abort(new Error('the client went away'));
      });
      const found = await deps.verification(who, image, controller.signal);
      // The server's own verdict with the account's key, for the console; the CLI judges the materials itself.
      const verdict = found.kind === 'container' ? judgeContainerSignatures(found) : judgeDiskSignature(found);
      return reply.code(200).header('x-amzn-RequestId', req.id).type('application/json').send({ ...found, verdict });
    } catch (err) {
      return sendAwsError(reply, toAwsError(err));
    }
  });
}
