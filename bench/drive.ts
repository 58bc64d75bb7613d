/** What the benchmarks share: keep-alive SDK clients, a request loop with latencies, the median, waiting for a build. */
import { Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetImageCommand, ImagebuilderClient } from '@aws-sdk/client-imagebuilder';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** The middle value (the upper one of an even count); the figure benchmarks report on this noisy machine. */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A stock SDK client on one kept-alive connection, as a long-lived caller would hold it. */
export function keepAliveClient(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }): ImagebuilderClient {
  return new ImagebuilderClient({ endpoint, region: 'local', credentials, requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 1 }) }) });
}

export interface DriveResult {
  /** Requests per second over the whole run. */
  rps: number;
  /** Latency percentiles, in milliseconds. */
  p50: number;
  p99: number;
}

/** Sends `requests` requests in all, each client sending its next as soon as its last is answered. */
export async function drive(clients: ImagebuilderClient[], requests: number, send: (c: ImagebuilderClient) => Promise<unknown>): Promise<DriveResult> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      while (next < requests) {
        next++;
        const s = performance.now();
        await send(c);
        latencies.push(performance.now() - s);
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99) };
}

/**
 * Milliseconds from `start` until the image build `arn` is AVAILABLE, polling GetImage every `pollMs` as a
 * client waiting on it would; throws with the state's reason when the build ends otherwise.
 */
export async function untilAvailable(client: ImagebuilderClient, arn: string, start: number, pollMs = 20): Promise<number> {
  for (;;) {
    const state = (await client.send(new GetImageCommand({ imageBuildVersionArn: arn }))).image?.state;
    if (state?.status === 'AVAILABLE') return performance.now() - start;
    if (state?.status === 'FAILED' || state?.status === 'CANCELLED') throw new Error(`build ${arn} ${state.status}: ${state.reason}`);
    await sleep(pollMs);
  }
}
