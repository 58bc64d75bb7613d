/**
 * The client side of Kiln's image event stream (`GET /kiln/events`, server-sent events): a signed reader that
 * `kiln logs --follow` wakes on, and `kiln events [--image ARN]`, which prints one line per state change.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { readSseEvents } from '../events/sse.js';
import { EVENTS_PATH, IMAGE_FILTER_PARAM, IMAGE_STATE_EVENT, type ImageStateEventData } from '../events/stream-protocol.js';
import { CliError, cliAction, kilnFetch, routeError, routeTarget, UnreachableError, withServerOptions, type CliCredentials, type ServerTargetOptions } from './kiln-client.js';

/** Where and as whom to connect. */
export interface EventTarget {
  endpoint: string;
  region: string;
  credentials: CliCredentials;
}

/** An image-state event with the stream id it came under. */
export interface StreamedImageEvent extends ImageStateEventData {
  id?: string;
}

const FINAL_IMAGE = new Set(['AVAILABLE', 'FAILED', 'CANCELLED']);

/**
 * The image-state events of one connection, until the server ends it or `signal` aborts (then an AbortError).
 * A refused request (bad keys, an image the caller may not read) throws a CliError with AWS's error name.
 */
export async function* streamImageEvents(target: EventTarget, options: { image?: string; lastEventId?: string; signal?: AbortSignal; onOpen?: () => void } = {}): AsyncGenerator<StreamedImageEvent> {
  const response = await kilnFetch(target, {
    method: 'GET',
    path: EVENTS_PATH,
    ...(options.image === undefined ? {} : { query: { [IMAGE_FILTER_PARAM]: options.image } }),
    headers: { accept: 'text/event-stream', ...(options.lastEventId === undefined ? {} : { 'last-event-id': options.lastEventId }) },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (response.status !== 200 || !response.body) {
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    throw routeError(response.status, body, 'opening the event stream');
  }
  options.onOpen?.();
  for await (const event of readSseEvents(response.body)) {
    if (event.event !== IMAGE_STATE_EVENT) continue;
    let data: ImageStateEventData;
    try {
      data = JSON.parse(event.data) as ImageStateEventData;
    } catch {
      continue;
    }
    yield { ...data, ...(event.id === undefined ? {} : { id: event.id }) };
  }
}

/** One line for an event: `TIME ARN [PREVIOUS → ]STATUS[: reason]`. */
export function formatEventLine(e: ImageStateEventData): string {
  return `${e.time} ${e.imageBuildVersionArn} ${e.previousStatus ? `${e.previousStatus} → ` : ''}${e.status}${e.reason ? `: ${e.reason}` : ''}`;
}

export interface EventsOptions extends EventTarget {
  /** Follow one image build version; the command ends when it reaches AVAILABLE, FAILED or CANCELLED. */
  image?: string;
  /** Print each event's JSON instead of a line of text. */
  json?: boolean;
  /** Wait before reconnecting after the stream dropped (default 2 s). */
  reconnectMs?: number;
  signal?: AbortSignal;
}

/**
 * Prints events until interrupted (with `image`, until that image's build ends: 0 for AVAILABLE, else 1). A
 * dropped stream is reopened with the last event id, so remembered changes are not missed.
 */
export async function runEvents(options: EventsOptions, out: (text: string) => void): Promise<number> {
  let lastEventId: string | undefined;
  let connected = false;
  for (;;) {
    try {
      for await (const e of streamImageEvents(options, { ...(options.image === undefined ? {} : { image: options.image }), ...(lastEventId === undefined ? {} : { lastEventId }), ...(options.signal ? { signal: options.signal } : {}), onOpen: () => (connected = true) })) {
        if (e.id !== undefined) lastEventId = e.id;
        const { id: _id, ...data } = e;
        out(`${options.json ? JSON.stringify(data) : formatEventLine(data)}\n`);
        if (options.image !== undefined && FINAL_IMAGE.has(e.status)) return e.status === 'AVAILABLE' ? 0 : 1;
      }
    } catch (err) {
      // A server never reached is reported; one that went away after answering (restart, network) is retried.
      if ((err instanceof CliError && !(err instanceof UnreachableError && connected)) || options.signal?.aborted) throw err;
    }
    await sleep(options.reconnectMs ?? 2000, undefined, options.signal ? { signal: options.signal } : {});
  }
}

/** Adds `kiln events` to the CLI. */
export function registerEventsCommand(program: Command): void {
  withServerOptions(
    program
      .command('events')
      .description('print image state changes as they happen (the caller’s images in the region)')
      .option('--image <imageBuildVersionArn>', 'follow one image build version; exit when it is AVAILABLE (0), FAILED or CANCELLED (1)')
      .option('--json', 'print each event as a line of JSON'),
  ).action(
    cliAction('kiln events', async (opts: ServerTargetOptions & { image?: string; json?: boolean }) => {
      const write = (text: string) => void process.stdout.write(text);
      return runEvents({ ...routeTarget(opts), ...(opts.image === undefined ? {} : { image: opts.image }), json: opts.json === true }, write);
    }),
  );
}
