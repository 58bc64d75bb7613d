import type { PipelineRunStarter } from '../pipelines/run-starter.js';
import type { PipelineScheduler } from '../pipelines/scheduler.js';
import type { Store } from '../store/store.js';
import { callerPipeline, pipelineRunStart, referenceFetcher, referenceHandlers, sourceResolver } from './image-builds.js';
import type { OperationHandler } from './types.js';

/** The service's side of the scheduler's port: a scheduled or triggered run, started as the pipeline's owner. */
export function pipelineRunStarter(store: Store): PipelineRunStarter {
  const start = pipelineRunStart(store, sourceResolver(referenceFetcher(referenceHandlers(store))));
  return {
    startScheduledRun: (pipeline, request) =>
      start({ operation: 'StartImagePipelineExecution', accountId: pipeline.accountId, region: pipeline.region, requestId: request.requestId }, pipeline, {
        buildType: 'SCHEDULED',
        ...(request.idempotency === undefined ? {} : { idempotency: request.idempotency }),
      }),
  };
}

/**
 * StartImagePipelineExecution under the scheduler's rules: refused (InUse) while a run of the pipeline is under
 * way, and recorded as a pending run so its end is counted and later ticks see it.
 */
export function trackManualRuns(handlers: Record<string, OperationHandler>, store: Store, scheduler: PipelineScheduler): Record<string, OperationHandler> {
  const start = handlers.StartImagePipelineExecution;
  if (!start) return handlers;
  return {
    ...handlers,
    StartImagePipelineExecution: async (input, ctx) => {
      const pipeline = await callerPipeline(store, ctx, input.imagePipelineArn);
      const token = typeof input.clientToken === 'string' ? input.clientToken : undefined;
      // A disabled pipeline is refused as such by the operation itself.
      if (pipeline.data.status !== 'DISABLED') await scheduler.assertIdle(pipeline, token);
      const out = await start(input, ctx);
      if (typeof out.imageBuildVersionArn === 'string') await scheduler.runStarted(pipeline.arn, out.imageBuildVersionArn, 'USER_INITIATED', token);
      return out;
    },
  };
}
