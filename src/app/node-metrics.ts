/**
 * The metrics, probes and readiness checks of one Kiln node, put together from what the node opened: one
 * KilnMetrics (its registry, with the store-read cluster gauges) and the deps of registerHealthAndMetrics, so the
 * composition root wires each producer's callback to it and calls registerHealthAndMetrics on every listener.
 */
import type { BlobStore } from '../artifacts/blob-store.js';
import { registerClusterGauges } from '../metrics/cluster-gauges.js';
import type { HealthAndMetricsDeps } from '../metrics/health-routes.js';
import { KilnMetrics } from '../metrics/kiln-metrics.js';
import { Readiness } from '../metrics/readiness.js';
import type { Store } from '../store/store.js';
import type { ServerConfig } from './server-config.js';

export interface NodeMetrics {
  metrics: KilnMetrics;
  /** What registerHealthAndMetrics needs, once the node's blob store is open (readiness pings it and the store). */
  healthDeps(blobs: Pick<BlobStore, 'ping'>): HealthAndMetricsDeps;
}

/** Makes the node's metrics over its store; `lostAfterMs` is when a silent worker counts as lost (default 30 s). */
export function startNodeMetrics(input: { store: Store; config: Pick<ServerConfig, 'metrics'>; lostAfterMs?: number; log?: (line: string) => void }): NodeMetrics {
  const metrics = new KilnMetrics();
  registerClusterGauges(metrics.registry, { jobs: input.store, nodes: input.store, ...(input.lostAfterMs === undefined ? {} : { lostAfterMs: input.lostAfterMs }) });
  const log = input.log ?? ((line: string) => process.stderr.write(`kiln: ${line}\n`));
  const token = input.config.metrics?.token;
  // One Readiness for every listener of the node, so their probes share the pings under way.
  let readiness: { blobs: Pick<BlobStore, 'ping'>; checker: Readiness } | undefined;
  return {
    metrics,
    healthDeps: (blobs) => {
      if (readiness?.blobs !== blobs) readiness = { blobs, checker: new Readiness({ store: input.store, objectStore: blobs }, { log }) };
      return { metrics, readiness: readiness.checker, ...(token === undefined ? {} : { token }) };
    },
  };
}
