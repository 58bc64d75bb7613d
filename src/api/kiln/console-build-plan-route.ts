/**
 * `GET /kiln/images/build-plan?imageBuildVersionArn=…`: the build plan Kiln recorded on an image before its build
 * ran (the resolved parent image and the exact component build versions with their parameters), for the
 * console's image page. Not an Image Builder operation; signed and authorised like one: a caller reads the plan of
 * exactly the images GetImage shows it. `buildPlan` is null until the build has resolved its inputs.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BuildPlan } from '../../builder/stages/image-record.js';
import { readableImage } from '../../service/workflow-executions.js';
import type { RequestContext } from '../../service/types.js';
import type { Store } from '../../store/store.js';
import { errorBody, toAwsError } from '../aws/errors.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';

export const BUILD_PLAN_PATH = '/kiln/images/build-plan';

export interface BuildPlanRouteOptions extends SignedRouteAuth {
  store: Store;
}

/** The body of a successful answer. */
export interface BuildPlanAnswer {
  imageBuildVersionArn: string;
  buildPlan: BuildPlan | null;
}

export function registerBuildPlanRoute(app: FastifyInstance, options: BuildPlanRouteOptions): void {
  app.get(BUILD_PLAN_PATH, async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      const caller = await signedCaller(req, options);
      const ctx: RequestContext = { operation: 'GetImageBuildPlan', accountId: caller.accountId, region: caller.region, requestId: req.id };
      const query = req.query as Record<string, string | undefined>;
      const image = await readableImage(options.store, ctx, query.imageBuildVersionArn);
      const answer: BuildPlanAnswer = { imageBuildVersionArn: image.arn, buildPlan: (image.data.buildPlan as BuildPlan | undefined) ?? null };
      return reply.code(200).header('x-amzn-RequestId', req.id).type('application/json').send(answer);
    } catch (err) {
      const aws = toAwsError(err);
      if (aws.status >= 500) req.log.error({ err }, 'build plan request failed');
      return reply.code(aws.status).header('x-amzn-ErrorType', aws.code).header('x-amzn-RequestId', req.id).type('application/json').send(errorBody(aws));
    }
  });
}
