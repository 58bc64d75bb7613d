/**
 * The probe and scrape endpoints every Kiln node serves, on whichever listener it has (the API port, or a
 * worker's internal listener): `GET /healthz` (liveness: the process answers), `GET /readyz` (readiness: the store
 * and the object store can be reached) and `GET /metrics` (Prometheus text exposition). Probes are never
 * authenticated (kubelets and load balancers carry no credentials); /metrics is open unless the configuration
 * sets `metrics.token`, which scrapes then send as a bearer token.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { KilnMetrics } from './kiln-metrics.js';
import type { Readiness } from './readiness.js';

export interface HealthAndMetricsDeps {
  metrics: KilnMetrics;
  readiness: Readiness;
  /** The bearer token /metrics requires; absent, /metrics is open. */
  token?: string;
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (\S+)$/.exec(header ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** Registers /healthz, /readyz and /metrics on `app` (before it listens). */
export function registerHealthAndMetrics(app: FastifyInstance, deps: HealthAndMetricsDeps): void {
  app.get('/healthz', async (_req, reply) => reply.type('application/json').send({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const report = await deps.readiness.check();
    const body = report.ready ? { status: 'ready', checks: report.checks } : { status: 'unready', unreachable: report.unreachable, checks: report.checks };
    return reply.code(report.ready ? 200 : 503).header('cache-control', 'no-store').type('application/json').send(body);
  });

  app.get('/metrics', async (req, reply) => {
    if (deps.token !== undefined && !bearerMatches(req.headers.authorization, deps.token)) {
      return reply.code(401).header('www-authenticate', 'Bearer realm="kiln-metrics"').type('application/json').send({ message: '/metrics needs the bearer token of the configuration\'s metrics.token' });
    }
    const { contentType, text } = await deps.metrics.exposition();
    return reply.header('cache-control', 'no-store').type(contentType).send(text);
  });
}
