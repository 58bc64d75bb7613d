/**
 * The image event feed of a node, wired to its store: on PostgreSQL it also LISTENs for the commits of other
 * nodes, so their changes reach this node's streams at once instead of at the next poll.
 */
import { ImageEventFeed } from '../events/event-log-feed.js';
import type { ImageEventBus } from '../events/image-events.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import type { Store } from '../store/store.js';

/** A feed from `store`'s event log into `bus`, not started yet. */
export function imageEventFeed(store: Store, bus: ImageEventBus, options: { pollMs?: number } = {}): ImageEventFeed {
  const pg = store instanceof PostgresStore ? store : undefined;
  return new ImageEventFeed({
    log: store,
    bus,
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
    ...(pg ? { wake: (onEvent: () => void, onError: (err: unknown) => void) => pg.listenForEvents(onEvent, onError) } : {}),
  });
}
