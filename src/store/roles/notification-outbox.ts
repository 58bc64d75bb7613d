/**
 * The durable outbox of webhook notifications: one delivery per event and endpoint, enqueued idempotently by
 * any node, leased to one sender at a time with leases timed by the database clock, and kept until delivered
 * or given up. A sender that dies mid-delivery leaves a lease that expires, and the delivery is sent again.
 */

/** Where a delivery stands. */
export type DeliveryState = 'pending' | 'leased' | 'delivered' | 'failed';

/** One notification to send to one endpoint. */
export interface OutboxDelivery {
  id: number;
  /** The event log's sequence number of the change notified. */
  eventSeq: number;
  /** The endpoint's URL (its secret stays in the server configuration). */
  endpoint: string;
  /** What to send, as the enqueuer serialized it; the outbox does not read it. */
  payload: string;
  state: DeliveryState;
  /** Delivery attempts so far, over every lease. */
  attempts: number;
  leaseOwner: string | undefined;
  /** ISO time after which a leased delivery may be taken by another sender. */
  leaseUntil: string | undefined;
  lastError: string | undefined;
  createdAt: string;
  updatedAt: string;
}

/** Enqueueing, leasing and settling deliveries; and the shared cursor of how far the log has been enqueued. */
export interface NotificationOutbox {
  /**
   * Adds pending deliveries; one that exists already for its (eventSeq, endpoint), whatever its state, is left
   * alone. Answers how many were new. Safe for every node to call for the same event.
   */
  enqueueDeliveries(items: readonly { eventSeq: number; endpoint: string; payload: string }[]): Promise<number>;
  /**
   * Leases up to `limit` deliveries that are pending, or leased with an expired lease, to `owner` for `leaseMs`
   * (oldest first). Two senders never hold the same delivery at once.
   */
  leaseDeliveries(owner: string, leaseMs: number, limit: number): Promise<OutboxDelivery[]>;
  /**
   * Settles a delivery held by `owner`: `delivered` or `failed` for good, or `pending` to hand it back (a sender
   * stopping). Adds `attempts` to its count. False when the lease was no longer `owner`'s.
   */
  settleDelivery(id: number, owner: string, outcome: { state: 'delivered' | 'failed' | 'pending'; attempts: number; error?: string }): Promise<boolean>;
  /** Deliveries in a state (all for undefined), oldest first: for tests and diagnostics. */
  listDeliveries(state?: DeliveryState): Promise<OutboxDelivery[]>;
  /** Deletes delivered and failed deliveries older than `olderThanMs` (the store's clock); answers how many. */
  pruneDeliveries(olderThanMs: number): Promise<number>;
  /** The event log sequence number up to which every event was considered for enqueueing (0 at first). */
  outboxCursor(): Promise<number>;
  /** Moves the cursor forward to `seq`; a lower `seq` than the stored one changes nothing. */
  advanceOutboxCursor(seq: number): Promise<void>;
}
