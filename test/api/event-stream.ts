/**
 * Test support for the event stream: images made through the stock SDK, and `/kiln/events` read with a
 * SigV4-signed fetch.
 */
import type { TestContext } from 'node:test';
import {
  CreateComponentCommand,
  CreateImageCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  type ImagebuilderClient,
} from '@aws-sdk/client-imagebuilder';
import { kilnFetch } from '../../src/cli/kiln-client.js';
import { readSseEvents, type SseEvent } from '../../src/events/sse.js';
import { SAY_HI_DOCUMENT, type Fixture } from './fixture.js';

/** A PENDING image through the stock SDK (builds are off, so it stays PENDING until cancelled). */
export async function createImage(ib: ImagebuilderClient, name: string, infra: { snsTopicArn?: string } = {}): Promise<string> {
  const componentArn = (await ib.send(new CreateComponentCommand({ name: `${name}-c`, semanticVersion: '1.0.0', platform: 'Linux', data: SAY_HI_DOCUMENT }))).componentBuildVersionArn!;
  const imageRecipeArn = (await ib.send(new CreateImageRecipeCommand({ name, semanticVersion: '1.0.0', parentImage: 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x', components: [{ componentArn }] }))).imageRecipeArn!;
  const infrastructureConfigurationArn = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: `${name}-infra`, instanceProfileName: 'Profile', instanceTypes: ['ns.small'], ...infra })))
    .infrastructureConfigurationArn!;
  return (await ib.send(new CreateImageCommand({ imageRecipeArn, infrastructureConfigurationArn }))).imageBuildVersionArn!;
}

export interface Stream {
  response: Response;
  events: SseEvent[];
  /** Resolves with the first event (from the start) that matches. */
  waitFor(match: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
}

/** Opens `/kiln/events` with a SigV4-signed fetch and collects its events until the test ends. */
export async function openStream(t: TestContext, f: Fixture, query: Record<string, string> = {}, keys = f.credentials): Promise<Stream> {
  const controller = new AbortController();
  t.after(() => controller.abort());
  const response = await kilnFetch({ endpoint: f.server.endpoint, region: 'local', credentials: { ...keys, source: 'test' } }, { method: 'GET', path: '/kiln/events', query, signal: controller.signal });
  const events: SseEvent[] = [];
  const waiters: (() => void)[] = [];
  if (response.status === 200) {
    void (async () => {
      try {
        for await (const e of readSseEvents(response.body!)) {
          events.push(e);
          for (const w of [...waiters]) w();
        }
      } catch {
        // aborted at the end of the test
      }
    })();
  }
  return {
    response,
    events,
    waitFor: (match, timeoutMs = 10_000) =>
      new Promise<SseEvent>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching event in ${timeoutMs} ms; got ${JSON.stringify(events)}`)), timeoutMs);
        const check = () => {
          const found = events.find(match);
          if (!found) return;
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(check), 1);
          resolve(found);
        };
        waiters.push(check);
        check();
      }),
  };
}

export const data = (e: SseEvent) => JSON.parse(e.data) as { imageBuildVersionArn: string; status: string; previousStatus?: string; reason?: string; time: string };

