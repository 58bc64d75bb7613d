/**
 * `GET /kiln/events`: image state changes as server-sent events, for the console and `kiln logs --follow`. Not
 * an Image Builder operation, but signed and authorised like one (SigV4 for `imagebuilder`): a caller sees the
 * images of its own account in the region it signed for, or, with `?imageBuildVersionArn=`, one image GetImage
 * shows it. Each change is
 *
 *   id: <sequence number, increasing>
 *   event: image-state
 *   data: {"imageBuildVersionArn":…,"status":…,"previousStatus":…,"reason":…,"time":…}
 *
 * A follower of one image first gets the image's current state (without previousStatus), so it never misses
 * the end of a build that happened before it connected. Ids are the store's event log numbers, the same on
 * every node, so a reconnecting client's `Last-Event-ID` replays what it missed from the log, whichever node it
 * reconnects to. A comment every ~15 s keeps idle
 * connections open.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { formatSseComment, formatSseEvent } from '../../events/sse.js';
import type { ImageEventBus, ImageStateChange } from '../../events/image-events.js';
import { EVENTS_PATH, IMAGE_FILTER_PARAM, IMAGE_SCAN_FINDINGS_EVENT, IMAGE_STATE_EVENT, WORKFLOW_STEP_WAITING_EVENT, type ImageStateEventData } from '../../events/stream-protocol.js';
import { isScanFindingsEvent, isStepWaitingEvent } from '../../store/roles/event-log.js';
import { readableImage } from '../../service/workflow-executions.js';
import type { RequestContext } from '../../service/types.js';
import type { ResourceRecord, Store } from '../../store/store.js';
import { errorBody, toAwsError } from '../aws/errors.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';

export { EVENTS_PATH, IMAGE_STATE_EVENT, type ImageStateEventData };

export interface EventRouteOptions extends SignedRouteAuth {
  store: Store;
  bus: ImageEventBus;
  /** Time between keep-alive comments (default 15 s). */
  heartbeatMs?: number;
  /** A client that lets this much pile up unread is dropped (default 1 MiB); it may reconnect with Last-Event-ID. */
  maxBufferedBytes?: number;
}

interface Subscription {
  caller: RequestContext;
  /** The one image followed, if any. */
  image: ResourceRecord | undefined;
  lastEventId: number | undefined;
}

function eventText(id: number, data: ImageStateEventData, event = IMAGE_STATE_EVENT): string {
  return formatSseEvent({ id, event, data: JSON.stringify(data) });
}

/** A logged change as its SSE event: a state change, or a build that waits at a workflow step. */
function changeText(change: ImageStateChange): string {
  return eventText(change.seq, changeData(change), isStepWaitingEvent(change) ? WORKFLOW_STEP_WAITING_EVENT : isScanFindingsEvent(change) ? IMAGE_SCAN_FINDINGS_EVENT : IMAGE_STATE_EVENT);
}

function changeData(change: ImageStateChange): ImageStateEventData {
  return {
    imageBuildVersionArn: change.arn,
    status: change.status,
    ...(change.previousStatus === undefined ? {} : { previousStatus: change.previousStatus }),
    ...(change.reason === undefined ? {} : { reason: change.reason }),
    time: change.time,
  };
}

function currentData(record: ResourceRecord): ImageStateEventData {
  const state = record.data.state as { status?: unknown; reason?: unknown } | undefined;
  return {
    imageBuildVersionArn: record.arn,
    status: String(state?.status ?? 'UNKNOWN'),
    ...(typeof state?.reason === 'string' ? { reason: state.reason } : {}),
    time: new Date().toISOString(),
  };
}

async function authorise(req: FastifyRequest, options: EventRouteOptions): Promise<Subscription> {
  const url = req.raw.url ?? '/';
  const q = url.indexOf('?');
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  const who = await signedCaller(req, options);
  const caller: RequestContext = { operation: 'StreamImageEvents', accountId: who.accountId, region: who.region, requestId: req.id };
  const wanted = query.get(IMAGE_FILTER_PARAM);
  const image = wanted === null || wanted === '' ? undefined : await readableImage(options.store, caller, wanted, IMAGE_FILTER_PARAM);
  // A malformed Last-Event-ID is ignored, as EventSource clients would only ever send back what they got.
  const header = req.headers['last-event-id'];
  const lastEventId = typeof header === 'string' && /^\d{1,16}$/.test(header) ? Number(header) : undefined;
  return { caller, image, lastEventId };
}

/**
 * The events after `after` up to `upTo` (what the bus delivered before this stream subscribed), oldest first,
 * from the store's event log: it has what any node logged, where the bus only has what this one heard.
 */
async function missed(after: number, upTo: number, options: EventRouteOptions): Promise<ImageStateChange[]> {
  const found: ImageStateChange[] = [];
  for (let cursor = after; cursor < upTo; ) {
    const page = await options.store.eventsAfter(cursor, 500);
    for (const e of page) if (e.seq <= upTo) found.push(e);
    if (page.length < 500) break;
    cursor = page[page.length - 1]!.seq;
  }
  return found;
}

/** Streams the events of one subscription until the client goes or `closeAll` ends it. */
async function stream(res: ServerResponse, sub: Subscription, options: EventRouteOptions, open: Set<() => void>): Promise<void> {
  const { bus, store } = options;
  const matches = sub.image ? (e: ImageStateChange) => e.arn === sub.image!.arn : (e: ImageStateChange) => e.accountId === sub.caller.accountId && e.region === sub.caller.region;
  const maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
  let closed = false;
  let live = false;
  const buffered: ImageStateChange[] = [];

  const write = (text: string) => {
    if (closed) return;
    res.write(text);
    if (res.writableLength > maxBuffered) close();
  };
  const listener = (e: ImageStateChange) => {
    if (!matches(e)) return;
    if (live) write(changeText(e));
    else buffered.push(e);
  };
  // Subscribed before the current state is read: a change committed meanwhile is buffered, not lost.
  const unsubscribe = bus.subscribe(listener);
  const baseSeq = bus.lastSeq;
  const heartbeat = setInterval(() => write(formatSseComment('keep-alive')), options.heartbeatMs ?? 15_000);
  heartbeat.unref();
  function close(): void {
    if (closed) return;
    closed = true;
    unsubscribe();
    clearInterval(heartbeat);
    open.delete(close);
    if (!res.writableEnded) res.end();
  }
  open.add(close);
  res.once('close', close);

  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-amzn-RequestId': sub.caller.requestId,
  });
  write('retry: 2000\n\n');
  if (sub.lastEventId !== undefined) {
    for (const e of await missed(sub.lastEventId, baseSeq, options)) if (matches(e)) write(changeText(e));
  }
  if (sub.image) {
    const current = await store.getResource(sub.image.arn).catch(() => undefined);
    if (current) {
      const data = currentData(current);
      write(eventText(baseSeq, data));
      // Buffered changes up to the one the current state shows are already told by it.
      const shown = buffered.findIndex((e) => e.status === data.status);
      if (shown >= 0) buffered.splice(0, shown + 1);
    }
  }
  for (const e of buffered) write(changeText(e));
  buffered.length = 0;
  live = true;
}

/**
 * Adds `GET /kiln/events[?imageBuildVersionArn=ARN]`. Refusals use the API's error shape before the stream
 * starts: signature problems as the API reports them, a malformed ARN InvalidParameterValueException naming the
 * field, an image the caller may not read ResourceNotFoundException. Open streams end when the server closes.
 */
export function registerEventRoutes(app: FastifyInstance, options: EventRouteOptions): void {
  const open = new Set<() => void>();
  // An open stream would keep app.close() waiting for ever.
  app.addHook('preClose', async () => {
    for (const close of [...open]) close();
  });
  app.get(EVENTS_PATH, async (req: FastifyRequest, reply: FastifyReply) => {
    let sub: Subscription;
    try {
      sub = await authorise(req, options);
    } catch (err) {
      const aws = toAwsError(err);
      if (aws.status >= 500) req.log.error({ err }, 'event stream request failed');
      return reply.code(aws.status).header('x-amzn-ErrorType', aws.code).header('x-amzn-RequestId', req.id).type('application/json').send(errorBody(aws));
    }
    reply.hijack();
    await stream(reply.raw, sub, options, open).catch((err: unknown) => {
      req.log.error({ err }, 'event stream failed');
      reply.raw.destroy();
    });
  });
}
