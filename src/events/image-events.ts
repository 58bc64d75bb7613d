/**
 * Image state changes as one Kiln process sees them: a small bus that every local subscriber listens on (the
 * event stream, `kiln logs --follow`, the scheduler's run-end hook, the notifier). The bus is fed from the
 * store's event log (./event-log-feed.ts), which every node's writes append to in their own transactions, so
 * a subscriber sees the changes of every node, each once, numbered as the log numbers them. A Store decorator
 * (`observeImageStates`) makes this node's own changes reach the bus before its write call resolves.
 */
import { errorMessage } from '../domain/errors.js';
import type { ResourceRecord, Store } from '../store/store.js';
import type { LoggedImageEvent } from '../store/roles/event-log.js';
import { ImageEventFeed, type LocalWrite } from './event-log-feed.js';

const IMAGE_TYPE = 'image';

/**
 * One committed change of an image build version's state: the event log's record (its `seq` the same on every
 * node; `time` of publication for events published without a log).
 */
export interface ImageStateChange extends LoggedImageEvent {
  /** True when the change was written through this node's store (the decorator below); other nodes' are not. */
  local?: boolean;
}

/** A subscriber; it runs synchronously in the publisher's turn, so it must be quick (start async work, do not await it). */
export type ImageStateListener = (change: ImageStateChange) => void | Promise<void>;

export interface ImageEventBusOptions {
  /** Where a listener's failure goes (default: one line on stderr); it never reaches the publisher. */
  onListenerError?: (err: unknown, change: ImageStateChange) => void;
  /** How many recent events `since` can replay (default 1000). */
  historySize?: number;
  /** First sequence number (default: the clock in microseconds, so ids keep growing across restarts). */
  firstSeq?: number;
}

/**
 * The bus: subscribe/unsubscribe listeners, publish changes (numbered in order), and replay the recent ones
 * after a sequence number so a reconnecting stream client misses nothing that is still remembered.
 */
export class ImageEventBus {
  private readonly listeners = new Set<ImageStateListener>();
  private readonly history: ImageStateChange[] = [];
  private readonly historySize: number;
  private readonly onListenerError: (err: unknown, change: ImageStateChange) => void;
  private seq: number;

  constructor(options: ImageEventBusOptions = {}) {
    this.historySize = options.historySize ?? 1000;
    this.seq = (options.firstSeq ?? Date.now() * 1000) - 1;
    this.onListenerError = options.onListenerError ?? ((err, change) => process.stderr.write(`kiln: a listener of image state changes failed on ${change.arn} → ${change.status}: ${errorMessage(err)}\n`));
  }

  /** Adds a listener; returns the function that removes it. Adding the same function twice keeps one. */
  subscribe(listener: ImageStateListener): () => void {
    this.listeners.add(listener);
    return () => this.unsubscribe(listener);
  }

  unsubscribe(listener: ImageStateListener): void {
    this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** The sequence number of the last event published (one less than the first before any). */
  get lastSeq(): number {
    return this.seq;
  }

  /** Numbers the change, remembers it and hands it to every listener; listener failures are reported, not thrown. */
  publish(change: Omit<ImageStateChange, 'seq'>): ImageStateChange {
    const event: ImageStateChange = { seq: this.seq + 1, ...change };
    this.deliver(event);
    return event;
  }

  /**
   * Positions a bus that has published nothing yet after `seq`, so the next event delivered may carry any
   * higher number (the event log's, when a node starts with events already logged).
   */
  seek(seq: number): void {
    if (this.history.length === 0) this.seq = seq;
  }

  /**
   * Publishes an event numbered elsewhere (the event log). One numbered at or below `lastSeq` was delivered
   * already and is ignored (false): no listener ever gets a change twice.
   */
  deliver(event: ImageStateChange): boolean {
    if (event.seq <= this.seq) return false;
    this.seq = event.seq;
    this.history.push(event);
    if (this.history.length > this.historySize) this.history.shift();
    for (const listener of [...this.listeners]) {
      try {
        const result = listener(event);
        if (result instanceof Promise) result.catch((err: unknown) => this.onListenerError(err, event));
      } catch (err) {
        this.onListenerError(err, event);
      }
    }
    return true;
  }

  /** Remembered events with a sequence number above `seq`, oldest first. */
  since(seq: number): ImageStateChange[] {
    return this.history.filter((e) => e.seq > seq);
  }
}

type BatchChange = { arn: string; change: (current: ResourceRecord) => Record<string, unknown> | undefined };
type BatchUpdate = (changes: readonly BatchChange[]) => Promise<ResourceRecord[]>;

/** Whether a written record is an image with a state, i.e. a write the event log may have an event for. */
const mayHaveLogged = (record: ResourceRecord): boolean => record.type === IMAGE_TYPE && record.data.state !== undefined;

const statusIn = (data: Record<string, unknown>): string | undefined => {
  const status = (data.state as { status?: unknown } | undefined)?.status;
  return typeof status === 'string' ? status : undefined;
};

/**
 * A change function that also tells `write` the status it gives each image: it runs inside the transaction,
 * before the commit, so the feed knows the event is this node's before any read could deliver it. A re-run
 * (a retried transaction) replaces what the earlier run said.
 */
function noting<C extends (current: ResourceRecord) => Record<string, unknown> | undefined>(change: C, write: LocalWrite): C {
  return ((current: ResourceRecord) => {
    const data = change(current);
    write.updates.delete(current.arn);
    const status = data === undefined ? undefined : statusIn(data);
    if (current.type === IMAGE_TYPE && status !== undefined && status !== statusIn(current.data)) write.updates.set(current.arn, status);
    return data;
  }) as C;
}

/**
 * The same store, whose writes of images resolve only once the bus has the events they logged: the change is
 * committed (with its event, by the store) and then the feed reads the log up to it, so a caller that awaits
 * the write finds its change already published, as when the bus was fed in-process. Given a bus rather than a
 * feed, a feed without polling is made for it (tests, single-process tools). A feed that cannot read the log
 * never fails the write: the change is committed, and the feed's next read publishes it. Everything else is
 * delegated untouched.
 */
export function observeImageStates<S extends Store>(store: S, target: ImageEventBus | ImageEventFeed): S {
  const feed = target instanceof ImageEventFeed ? target : new ImageEventFeed({ log: store, bus: target, pollMs: 0 });
  // Started at once: the log's position must be read before this decorator's first write appends to it. A
  // failure there must not fail writes: the feed reads its position again on its next read.
  const ready = feed.ready().catch((err: unknown) => feed.reportError(err));
  const published = async (records: readonly ResourceRecord[]): Promise<void> => {
    if (!records.some(mayHaveLogged)) return;
    await feed.catchUp().catch((err: unknown) => feed.reportError(err));
  };
  /** Runs a write with its events marked as this node's until the feed has read them (or the write failed). */
  const local = async <T>(write: LocalWrite, run: () => Promise<T>, records: (result: T) => readonly ResourceRecord[]): Promise<T> => {
    await ready;
    feed.track(write);
    try {
      const result = await run();
      await published(records(result));
      return result;
    } finally {
      feed.untrack(write);
    }
  };

  const createResource: Store['createResource'] = (resource, idempotency, options) => {
    const status = resource.type === IMAGE_TYPE ? statusIn(resource.data) : undefined;
    // The ARN gets its build number in the transaction: the event's is the given one or one of its builds.
    const write: LocalWrite = { updates: new Map(), ...(status === undefined ? {} : { create: { arn: resource.arn, status } }) };
    return local(write, () => store.createResource(resource, idempotency, options), (r) => (r.created ? [r.record] : []));
  };

  const updateResource: Store['updateResource'] = (arn, change, idempotency) => {
    const write: LocalWrite = { updates: new Map() };
    return local(write, () => store.updateResource(arn, noting(change, write), idempotency), (r) => [r]);
  };

  const batch = (original: BatchUpdate): BatchUpdate => (changes) => {
    const write: LocalWrite = { updates: new Map() };
    return local(write, () => original(changes.map(({ arn, change }) => ({ arn, change: noting(change, write) }))), (r) => r);
  };

  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'createResource') return createResource;
      if (prop === 'updateResource') return updateResource;
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const bound = (value as (...args: unknown[]) => unknown).bind(target);
      return prop === 'updateResources' ? batch(bound as BatchUpdate) : bound;
    },
  });
}
