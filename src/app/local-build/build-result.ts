/**
 * What a finished `kiln build` reports: the image's state and reason, what it made (the container image's manifest
 * digest, or the machine image's ami- id) and how much of it came from the step cache, read from the
 * `ApplyBuildComponents` step execution's outputs (`cachedComponents`, `ranComponents`: the engine's contract).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CancelImageCreationCommand, GetImageCommand, ListWorkflowExecutionsCommand, ListWorkflowStepExecutionsCommand, type ImagebuilderClient } from '@aws-sdk/client-imagebuilder';

const FINAL = new Set(['AVAILABLE', 'FAILED', 'CANCELLED']);

export interface LocalBuildResult {
  image: string;
  state: string;
  reason?: string;
  /** A container image's manifest digest. */
  digest?: string;
  /** A machine image's id. */
  amiId?: string;
  /** Components whose layer came from the step cache; undefined when the build step did not say. */
  cachedComponents?: number;
  /** Components that ran. */
  ranComponents?: number;
}

/** Polls the image until its state is final; returns that state. */
export async function waitForFinalState(client: ImagebuilderClient, imageArn: string, options: { pollMs?: number; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<string> {
  const deadline = Date.now() + (options.timeoutMs ?? Infinity);
  for (;;) {
    const { image } = await client.send(new GetImageCommand({ imageBuildVersionArn: imageArn }), { abortSignal: options.signal });
    const status = image?.state?.status ?? 'UNKNOWN';
    if (FINAL.has(status)) return status;
    if (Date.now() > deadline) return status;
    await sleep(options.pollMs ?? 250, undefined, options.signal ? { signal: options.signal } : {});
  }
}

/**
 * Cancels a build still running and waits (up to `timeoutMs`) until the engine has ended it and unwound what it
 * held; returns the final state, or the state it still had at the deadline.
 */
export async function cancelLocalImage(client: ImagebuilderClient, imageArn: string, timeoutMs = 120_000): Promise<string> {
  try {
    await client.send(new CancelImageCreationCommand({ imageBuildVersionArn: imageArn }));
  } catch {
    // Already final (a cancel that races its end): the wait below reads what it is.
  }
  return waitForFinalState(client, imageArn, { timeoutMs });
}

function parseOutputs(text: string | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The result of a finished build, read through the API. */
export async function readLocalBuildResult(client: ImagebuilderClient, imageArn: string): Promise<LocalBuildResult> {
  const { image } = await client.send(new GetImageCommand({ imageBuildVersionArn: imageArn }));
  const state = image?.state?.status ?? 'UNKNOWN';
  const result: LocalBuildResult = { image: imageArn, state, ...(image?.state?.reason ? { reason: image.state.reason } : {}) };
  const ami = image?.outputResources?.amis?.[0]?.image;
  if (ami) result.amiId = ami;
  const executions = (await client.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: imageArn }))).workflowExecutions ?? [];
  const build = executions.find((e) => e.type === 'BUILD');
  if (!build?.workflowExecutionId) return result;
  const steps = (await client.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: build.workflowExecutionId }))).steps ?? [];
  const apply = parseOutputs(steps.find((s) => s.name === 'ApplyBuildComponents')?.outputs);
  if (typeof apply.cachedComponents === 'number') result.cachedComponents = apply.cachedComponents;
  if (typeof apply.ranComponents === 'number') result.ranComponents = apply.ranComponents;
  const output = parseOutputs(steps.find((s) => s.name === 'CreateOutputImage')?.outputs);
  if (!ami && typeof output.imageDigest === 'string') result.digest = output.imageDigest;
  return result;
}
