/**
 * The Prometheus metrics of one Kiln server (one per process in production; tests run several servers in one
 * process, so each has its own Registry rather than prom-client's global one). The code that does the work never
 * imports this module: it offers an optional callback (the API's onResponse, the registry's onBytes, the
 * scheduler's onTick, the notifier's onDelivery, the execution recorder's observer), and the composition root
 * points those callbacks here. Labels stay low in cardinality: operation names and route patterns, HTTP status
 * codes, image states, workflow types and step actions — never ARNs, repository names or URLs.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Seconds: requests are milliseconds to seconds; a slow list or a blob upload may take longer. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds: a step is a moment (a skipped launch) to most of an hour (a machine build's components). */
const STEP_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/** Seconds: a workflow (BUILD, TEST, DISTRIBUTION) of a container build takes seconds, of a machine build an hour or more. */
const WORKFLOW_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

/** One answered HTTP request of the API listener. */
export interface ApiRequestSample {
  /** The Image Builder operation name, or the route pattern of anything else (`/kiln/logs`, `/v2/*`); `unmatched` for a 404 outside every route. */
  operation: string;
  status: number;
  seconds: number;
}

/** The end of one workflow step or one workflow (stage) of a build. */
export interface ExecutionSample {
  /** BUILD, TEST or DISTRIBUTION. */
  workflow: string;
  status: string;
  seconds: number;
}

/** What one scheduler tick did, or that it failed. */
export type SchedulerTickSample = { ok: true; report: { started: readonly unknown[]; skipped: number; failed: number } } | { ok: false; error: unknown } | { skipped: true };

export class KilnMetrics {
  /** The registry `/metrics` serves; scrape-time collectors (cluster-gauges.ts) register on it too. */
  readonly registry = new Registry();
  private readonly apiRequests: Counter<'operation' | 'status'>;
  private readonly apiLatency: Histogram<'operation'>;
  private readonly imageStates: Counter<'state'>;
  private readonly steps: Histogram<'workflow' | 'action' | 'status'>;
  private readonly workflows: Histogram<'workflow' | 'status'>;
  private readonly registryBytesTotal: Counter<'direction' | 'kind'>;
  private readonly ticks: Counter<'outcome'>;
  private readonly duePipelines: Counter<'outcome'>;
  private readonly deliveries: Counter<'outcome'>;

  /** `defaultMetrics: false` leaves out the process metrics (CPU, memory, event loop lag, handles). */
  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.apiRequests = new Counter({ name: 'kiln_api_requests_total', help: 'HTTP requests answered, by Image Builder operation (or route) and status code.', labelNames: ['operation', 'status'], registers });
    this.apiLatency = new Histogram({ name: 'kiln_api_request_duration_seconds', help: 'Time to answer an HTTP request, by Image Builder operation (or route).', labelNames: ['operation'], buckets: REQUEST_BUCKETS, registers });
    this.imageStates = new Counter({ name: 'kiln_image_state_changes_total', help: 'Image build versions that entered a state (PENDING, BUILDING, AVAILABLE, FAILED…) through this node.', labelNames: ['state'], registers });
    this.steps = new Histogram({ name: 'kiln_workflow_step_duration_seconds', help: 'Duration of workflow steps run on this node, by workflow, step action and end status.', labelNames: ['workflow', 'action', 'status'], buckets: STEP_BUCKETS, registers });
    this.workflows = new Histogram({ name: 'kiln_workflow_duration_seconds', help: 'Duration of build stages (workflow executions: BUILD, TEST, DISTRIBUTION) run on this node, by end status.', labelNames: ['workflow', 'status'], buckets: WORKFLOW_BUCKETS, registers });
    this.registryBytesTotal = new Counter({ name: 'kiln_registry_bytes_total', help: 'Bytes of blobs and manifests the built-in registry received (in) and sent (out).', labelNames: ['direction', 'kind'], registers });
    this.ticks = new Counter({ name: 'kiln_scheduler_ticks_total', help: 'Pipeline scheduler ticks on this node, by outcome (ok, failed, skipped: another node leads).', labelNames: ['outcome'], registers });
    this.duePipelines = new Counter({ name: 'kiln_scheduler_due_pipelines_total', help: 'Due pipeline schedules handled by ticks: a run started, the tick skipped, or the run could not start.', labelNames: ['outcome'], registers });
    this.deliveries = new Counter({ name: 'kiln_notification_deliveries_total', help: 'Webhook notification deliveries that ended, by outcome (delivered, failed, abandoned at a stop).', labelNames: ['outcome'], registers });
  }

  /** The text exposition format, and the content type to send it with. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  readonly apiRequest = (sample: ApiRequestSample): void => {
    this.apiRequests.inc({ operation: sample.operation, status: String(sample.status) });
    this.apiLatency.observe({ operation: sample.operation }, sample.seconds);
  };

  /** An image state change committed through this node's store (an ImageEventBus listener). */
  readonly imageStateChanged = (change: { status: string }): void => {
    this.imageStates.inc({ state: change.status });
  };

  /** A workflow step ended (the execution recorder's observer). */
  readonly stepEnded = (sample: ExecutionSample & { action: string }): void => {
    this.steps.observe({ workflow: sample.workflow, action: sample.action, status: sample.status }, sample.seconds);
  };

  /** A workflow execution (a build stage) ended. */
  readonly workflowEnded = (sample: ExecutionSample): void => {
    this.workflows.observe({ workflow: sample.workflow, status: sample.status }, sample.seconds);
  };

  /** Bytes the registry read from a request body or wrote into a response. */
  readonly registryBytes = (direction: 'in' | 'out', kind: 'blob' | 'manifest', bytes: number): void => {
    if (bytes > 0) this.registryBytesTotal.inc({ direction, kind }, bytes);
  };

  readonly schedulerTick = (sample: SchedulerTickSample): void => {
    if ('skipped' in sample) {
      this.ticks.inc({ outcome: 'skipped' });
      return;
    }
    this.ticks.inc({ outcome: sample.ok ? 'ok' : 'failed' });
    if (!sample.ok) return;
    const { started, skipped, failed } = sample.report;
    if (started.length > 0) this.duePipelines.inc({ outcome: 'started' }, started.length);
    if (skipped > 0) this.duePipelines.inc({ outcome: 'skipped' }, skipped);
    if (failed > 0) this.duePipelines.inc({ outcome: 'failed' }, failed);
  };

  /** A notification delivery ended; one stopped by the server's stop counts as abandoned, not failed. */
  readonly notificationDelivered = (result: { outcome: { delivered: boolean; error?: string } }): void => {
    const { delivered, error } = result.outcome;
    this.deliveries.inc({ outcome: delivered ? 'delivered' : error === 'stopped' ? 'abandoned' : 'failed' });
  };
}
