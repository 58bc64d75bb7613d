/**
 * `GET /kiln/images/sbom?image=ARN&format=spdx|cyclonedx`: the SBOM of an image build as JSON, with its media type
 * (`application/spdx+json`, `application/vnd.cyclonedx+json`). SigV4-signed like the API; errors are AWS-shaped.
 */
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../store/store.js';
import { imageSbom } from '../../service/image-sbom.js';
import { errorBody, toAwsError } from '../aws/errors.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';

export interface ImageSbomRouteDeps extends SignedRouteAuth {
  store: Store;
}

export function registerImageSbomRoute(app: FastifyInstance, deps: ImageSbomRouteDeps): void {
  app.get<{ Querystring: { image?: string; format?: string } }>('/kiln/images/sbom', async (req, reply) => {
    try {
      const who = await signedCaller(req, deps);
      const { mediaType, document } = await imageSbom(deps.store, who, req.query.image, req.query.format);
      return reply.type(mediaType).send(JSON.stringify(document, null, 2));
    } catch (err) {
      const e = toAwsError(err);
      return reply.code(e.status).header('x-amzn-ErrorType', e.code).type('application/json').send(errorBody(e));
    }
  });
}
