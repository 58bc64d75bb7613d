import type { IdempotencyKey, ResourceRecord } from '../store/store.js';

/** Why the scheduler starts a run: a request id for logs and, for a due tick, the key that makes it start once. */
export interface ScheduledRunRequest {
  requestId: string;
  idempotency?: IdempotencyKey;
}

/**
 * The port through which the scheduler starts pipeline runs. The service implements it (service/pipeline-runs.ts)
 * and the composition root hands it in, so the scheduler stays below the service: it decides when, the service
 * decides how a run is resolved and stored.
 */
export interface PipelineRunStarter {
  /** Starts a SCHEDULED run of the pipeline as its owner; returns the PENDING image. Throws a KilnError when it cannot. */
  startScheduledRun(pipeline: ResourceRecord, request: ScheduledRunRequest): Promise<ResourceRecord>;
}
