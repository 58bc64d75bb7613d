/**
 * The event log's and the notification outbox's rows, and how each becomes its role's record, for both SQL
 * backends (times as SQLite's ISO text or PostgreSQL's Date).
 */
import type { ImageStatus } from '../../domain/image-state.js';
import type { LoggedImageEvent } from '../roles/event-log.js';
import type { DeliveryState, OutboxDelivery } from '../roles/notification-outbox.js';
import type { StoredTime } from './rows.js';

const iso = (t: StoredTime): string => (typeof t === 'string' ? t : t.toISOString());

export interface ImageEventRow {
  seq: number;
  arn: string;
  account_id: string;
  region: string;
  status: string;
  previous_status: string | null;
  reason: string | null;
  created_at: StoredTime;
}
export const toLoggedImageEvent = (r: ImageEventRow): LoggedImageEvent => ({
  seq: r.seq,
  arn: r.arn,
  accountId: r.account_id,
  region: r.region,
  status: r.status as ImageStatus,
  ...(r.previous_status === null ? {} : { previousStatus: r.previous_status as ImageStatus }),
  ...(r.reason === null ? {} : { reason: r.reason }),
  time: iso(r.created_at),
});

export interface DeliveryRow {
  id: number;
  event_seq: number;
  endpoint: string;
  payload: string;
  state: DeliveryState;
  attempts: number;
  lease_owner: string | null;
  lease_until: StoredTime | null;
  last_error: string | null;
  created_at: StoredTime;
  updated_at: StoredTime;
}
export const toOutboxDelivery = (r: DeliveryRow): OutboxDelivery => ({
  id: r.id,
  eventSeq: r.event_seq,
  endpoint: r.endpoint,
  payload: r.payload,
  state: r.state,
  attempts: r.attempts,
  leaseOwner: r.lease_owner ?? undefined,
  leaseUntil: r.lease_until === null ? undefined : iso(r.lease_until),
  lastError: r.last_error ?? undefined,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});
