/**
 * Feeds a node's image event bus from the store's event log: it reads what was logged after its position,
 * in order, and hands each event on once. It reads when told to (after this node's own writes), on a short
 * poll, and, where the store can say so (PostgreSQL's LISTEN/NOTIFY), as soon as another node commits. It also
 * prunes old events on a slow timer; the DELETE is idempotent, so every node may run it.
 */
import { errorMessage } from '../domain/errors.js';
import type { EventLog, LoggedImageEvent } from '../store/store.js';

/** Where the feed hands events: the image event bus (./image-events.ts). */
export interface EventSink {
  /** Positions an empty sink after `seq`. */
  seek(seq: number): void;
  /** Hands one event on (`local` when this node wrote it); false when its number was handed on already. */
  deliver(event: LoggedImageEvent & { local?: boolean }): boolean;
}

/**
 * A write under way through this node's store, and the events it will log: `updates` maps an image ARN to the
 * status it is given; `create`, an image created (its ARN as given: the store may append a build number).
 */
export interface LocalWrite {
  updates: Map<string, string>;
  create?: { arn: string; status: string };
}

/** Whether `event` is one `write` logs; a match is used up, so one write marks one event. */
function claims(write: LocalWrite, event: LoggedImageEvent): boolean {
  if (write.updates.get(event.arn) === event.status) {
    write.updates.delete(event.arn);
    return true;
  }
  const c = write.create;
  if (c && event.previousStatus === undefined && event.status === c.status && (event.arn === c.arn || event.arn.startsWith(`${c.arn}/`))) {
    delete write.create;
    return true;
  }
  return false;
}

/** A source of "something was committed" signals; answers the function that stops it. */
export type WakeSource = (onEvent: () => void, onError: (err: unknown) => void) => Promise<() => Promise<void>>;

/** When old events are deleted; `false` never. */
export interface EventPruning {
  everyMs: number;
  /** Events older than this go... */
  olderThanMs: number;
  /** ...except the newest this many. */
  keepNewest: number;
}

export const DEFAULT_EVENT_PRUNING: EventPruning = { everyMs: 10 * 60_000, olderThanMs: 7 * 24 * 3600_000, keepNewest: 10_000 };

export interface ImageEventFeedOptions {
  log: Pick<EventLog, 'eventsAfter' | 'lastEventSeq' | 'pruneEvents'>;
  bus: EventSink;
  /** Time between reads of the log when nothing wakes the feed earlier (default 250 ms; 0: no polling). */
  pollMs?: number;
  /** Events read per query (default 500). */
  batchSize?: number;
  wake?: WakeSource;
  /** Default DEFAULT_EVENT_PRUNING; only while polling. */
  pruning?: EventPruning | false;
  /** Where a failed read, prune or wake-up goes (default: one line on stderr, once per run of failures). */
  onError?: (err: unknown) => void;
}

/** The feed of one node; start() it to poll, stop() it before the store closes. */
export class ImageEventFeed {
  private cursor: number | undefined;
  private starting: Promise<void> | undefined;
  /** The read under way, and the one queued behind it (which every caller arriving meanwhile shares). */
  private current: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private stopWake: (() => Promise<void>) | undefined;
  private stopped = false;
  private failing = false;
  private readonly writes = new Set<LocalWrite>();
  private readonly onError: (err: unknown) => void;

  constructor(private readonly options: ImageEventFeedOptions) {
    this.onError = options.onError ?? ((err) => process.stderr.write(`kiln: reading the image event log failed: ${errorMessage(err)}\n`));
  }

  /** The sequence number of the last event handed on (undefined before ready()). */
  get position(): number | undefined {
    return this.cursor;
  }

  /**
   * Reads the log's current end once, as the feed's starting point: events logged before are history, not news.
   * Later calls answer the same promise; after a failure (the store unreachable), the next call tries again.
   */
  ready(): Promise<void> {
    const starting = (this.starting ??= this.options.log.lastEventSeq().then(
      (seq) => {
        this.cursor ??= seq;
        this.options.bus.seek(seq);
      },
      (err: unknown) => {
        this.starting = undefined;
        throw err;
      },
    ));
    return starting;
  }

  /** Starts polling (and listening, and pruning); rejects when the log cannot be read. */
  async start(): Promise<void> {
    await this.ready();
    if (this.stopped) return;
    const pollMs = this.options.pollMs ?? 250;
    if (pollMs > 0) {
      const tick = (): void => {
        this.pollTimer = setTimeout(() => void this.catchUp().then(
          () => (this.failing = false),
          (err: unknown) => this.reportError(err),
        ).finally(() => {
          if (!this.stopped) tick();
        }), pollMs);
        this.pollTimer.unref();
      };
      tick();
      const pruning = this.options.pruning ?? DEFAULT_EVENT_PRUNING;
      if (pruning) {
        this.pruneTimer = setInterval(() => void this.options.log.pruneEvents(pruning.olderThanMs, pruning.keepNewest).catch((err: unknown) => this.reportError(err)), pruning.everyMs);
        this.pruneTimer.unref();
      }
    }
    if (this.options.wake) {
      this.stopWake = await this.options.wake(
        () => void this.catchUp().catch((err: unknown) => this.reportError(err)),
        (err) => this.reportError(err),
      );
    }
  }

  /**
   * Reads every event committed before the call and hands it on, in order. Calls made while a read runs share
   * one read after it (that read starts after their commits), so concurrent callers cost one query, not many.
   */
  catchUp(): Promise<void> {
    if (this.queued) return this.queued;
    const previous = this.current ?? Promise.resolve();
    const run: Promise<void> = previous
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        this.current = run;
        return this.readAll();
      })
      .finally(() => {
        if (this.current === run) this.current = undefined;
      });
    this.queued = run;
    return run;
  }

  private async readAll(): Promise<void> {
    await this.ready();
    const batch = this.options.batchSize ?? 500;
    for (;;) {
      if (this.stopped) return;
      const events = await this.options.log.eventsAfter(this.cursor!, batch);
      for (const event of events) {
        this.cursor = event.seq;
        const local = [...this.writes].some((w) => claims(w, event));
        this.options.bus.deliver(local ? { ...event, local } : event);
      }
      if (events.length < batch) return;
    }
  }

  /** Marks the events `write` logs as this node's when they are read (until untrack). */
  track(write: LocalWrite): void {
    this.writes.add(write);
  }

  untrack(write: LocalWrite): void {
    this.writes.delete(write);
  }

  /** Reports a failure once per run of failures, so a store that is down does not flood the log. */
  reportError(err: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.onError(err);
  }

  /** Stops polling and listening, and waits for a read under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    clearInterval(this.pruneTimer);
    await this.stopWake?.();
    await Promise.allSettled([this.current, this.queued]);
  }
}
