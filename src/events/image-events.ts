/**
 * Image state changes inside one Kiln process: a small bus, and a Store decorator that feeds it. Every change of
 * an image's state goes through the Store (the build engine's `advance`, CancelImageCreation, the worker's
 * recovery, lifecycle actions), so wrapping the Store once sees them all, whoever made them. Events are
 * published after the store call resolved, i.e. after the change was committed; a write that leaves the status
 * as it was publishes nothing.
 */
import type { ImageStatus } from '../domain/image-state.js';
import { errorMessage } from '../domain/errors.js';
import type { ResourceRecord, Store } from '../store/store.js';

const IMAGE_TYPE = 'image';

/** One committed change of an image build version's state. */
export interface ImageStateChange {
  /** Increases with every event of this process (and across restarts: it starts from the clock). */
  seq: number;
  /** The image build version ARN. */
  arn: string;
  accountId: string;
  region: string;
  status: ImageStatus;
  /** Undefined when the image was just created. */
  previousStatus?: ImageStatus;
  /** AWS's state reason, for FAILED and CANCELLED. */
  reason?: string;
  /** ISO time of publication. */
  time: string;
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
    const event: ImageStateChange = { seq: ++this.seq, ...change };
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
    return event;
  }

  /** Remembered events with a sequence number above `seq`, oldest first. */
  since(seq: number): ImageStateChange[] {
    return this.history.filter((e) => e.seq > seq);
  }
}

/** The status stored on an image record, when it has one. */
function statusOf(record: ResourceRecord): ImageStatus | undefined {
  const state = record.data.state as { status?: unknown } | undefined;
  return typeof state?.status === 'string' ? (state.status as ImageStatus) : undefined;
}

function reasonOf(record: ResourceRecord): string | undefined {
  const reason = (record.data.state as { reason?: unknown } | undefined)?.reason;
  return typeof reason === 'string' ? reason : undefined;
}

function changeOf(record: ResourceRecord, previousStatus: ImageStatus | undefined): Omit<ImageStateChange, 'seq'> {
  const reason = reasonOf(record);
  return {
    arn: record.arn,
    accountId: record.accountId,
    region: record.region,
    status: statusOf(record)!,
    ...(previousStatus === undefined ? {} : { previousStatus }),
    ...(reason === undefined ? {} : { reason }),
    time: new Date().toISOString(),
  };
}

type BatchChange = { arn: string; change: (current: ResourceRecord) => Record<string, unknown> | undefined };
type BatchUpdate = (changes: readonly BatchChange[]) => Promise<ResourceRecord[]>;

/**
 * The same store, with image state changes published on `bus`: a created image (previousStatus undefined) and
 * every committed write through updateResource (or the batch updateResources, where the store has it) that
 * changed an image's status. The status before is read inside the write's own transaction, so a concurrent
 * change never makes an event lie about where the image came from. Everything else is delegated untouched.
 */
export function observeImageStates<S extends Store>(store: S, bus: ImageEventBus): S {
  const createResource: Store['createResource'] = async (resource, idempotency, options) => {
    const result = await store.createResource(resource, idempotency, options);
    if (result.created && result.record.type === IMAGE_TYPE && statusOf(result.record) !== undefined) bus.publish(changeOf(result.record, undefined));
    return result;
  };

  const updateResource: Store['updateResource'] = async (arn, change, idempotency) => {
    // Set by the last run of `change`, the one whose result was committed; untouched when an idempotent
    // repeat returned the first result without running it.
    const seen: { before?: ImageStatus; ran: boolean } = { ran: false };
    const record = await store.updateResource(
      arn,
      (current) => {
        seen.ran = current.type === IMAGE_TYPE;
        seen.before = statusOf(current);
        return change(current);
      },
      idempotency,
    );
    const after = statusOf(record);
    if (seen.ran && after !== undefined && after !== seen.before) bus.publish(changeOf(record, seen.before));
    return record;
  };

  const batch = (original: BatchUpdate): BatchUpdate => async (changes) => {
    const before = new Map<string, ImageStatus | undefined>();
    const wrapped = changes.map(({ arn, change }) => ({
      arn,
      change: (current: ResourceRecord) => {
        if (current.type === IMAGE_TYPE) before.set(current.arn, statusOf(current));
        else before.delete(current.arn);
        return change(current);
      },
    }));
    const records = await original(wrapped);
    for (const record of records) {
      if (!before.has(record.arn)) continue;
      const previous = before.get(record.arn);
      const after = statusOf(record);
      if (after !== undefined && after !== previous) bus.publish(changeOf(record, previous));
    }
    return records;
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
