/**
 * The Store: Kiln's durable state behind one interface, so that SQLite (embedded) and PostgreSQL (scale-out)
 * are interchangeable. Every backend must pass the conformance suite in ./testsuite/. Methods that change
 * several rows do it atomically; records are plain data.
 *
 * It is composed of roles, as containerd composes its stores, so that a consumer can ask for only what it uses
 * (docs/adr/0005-api-and-store-split.md): accounts (./roles/account-store.ts), resources (./roles/resource-store.ts),
 * jobs (./roles/job-queue.ts), the registry's index (./roles/registry-index.ts), the cluster's nodes and
 * leaderships (./roles/cluster-nodes.ts), the log of image state changes (./roles/event-log.ts), the
 * notification outbox (./roles/notification-outbox.ts), the step cache's index (./roles/build-cache.ts) and the accounts' signing keys
 * (./roles/signing-keys.ts).
 * A backend implements them all.
 */
import type { AccountStore } from './roles/account-store.js';
import type { BuildCache } from './roles/build-cache.js';
import type { ClusterNodes } from './roles/cluster-nodes.js';
import type { EventLog } from './roles/event-log.js';
import type { NotificationOutbox } from './roles/notification-outbox.js';
import type { JobQueue } from './roles/job-queue.js';
import type { RegistryIndex } from './roles/registry-index.js';
import type { ResourceStore } from './roles/resource-store.js';
import type { SigningKeys } from './roles/signing-keys.js';

export type { Account, AccessKey, AccessKeyStatus, AccountStore, NewAccessKey } from './roles/account-store.js';
export type { CreateResult, IdempotencyKey, NewResource, ResourceQuery, ResourceRecord, ResourceStore } from './roles/resource-store.js';
export type { Job, JobQueue } from './roles/job-queue.js';
export type { ClusterNodes, NodeRecord, NodeRole } from './roles/cluster-nodes.js';
export type { RegistryIndex, RegistryManifest, RegistryRepository } from './roles/registry-index.js';
export type { EventLog, LoggedImageEvent } from './roles/event-log.js';
export type { DeliveryState, NotificationOutbox, OutboxDelivery } from './roles/notification-outbox.js';
export type { BuildCache, BuildCacheEntry } from './roles/build-cache.js';
export type { SigningKeyRecord, SigningKeys } from './roles/signing-keys.js';

/** Every role of one backend, and its lifecycle. */
export interface Store extends AccountStore, ResourceStore, JobQueue, RegistryIndex, ClusterNodes, EventLog, NotificationOutbox, BuildCache, SigningKeys {
  /** Resolves once the backend answers a trivial query; rejects when it cannot be reached (readiness probes). */
  ping(): Promise<void>;
  /** Releases the backend (connections, file handles); no method may be called afterwards. */
  close(): Promise<void>;
}
