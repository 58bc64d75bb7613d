/**
 * The kinds of job in the Store's queue: the one list that the code enqueuing a job and the worker leasing it
 * both name, so they cannot drift apart.
 */

/** Build an image: CreateImage and StartImagePipelineExecution enqueue it with the image; the build worker leases it. */
export const BUILD_IMAGE_JOB = 'build-image';
/** Distribution alone (RetryImage, DistributeImage): the build worker leases it for an image in DISTRIBUTING. */
export const DISTRIBUTE_IMAGE_JOB = 'distribute-image';
/** Perform a lifecycle execution (a daily run or StartResourceStateUpdate): the lifecycle runner leases it. */
export const LIFECYCLE_EXECUTION_JOB = 'lifecycle-execution';
