/**
 * SNS-style webhook notifications: when a build ends (an image goes from a build stage to AVAILABLE or FAILED)
 * or starts waiting at a WaitForAction workflow step, or a feed update gives an existing image new scan findings
 * (the message's state reason says which),
 * the image's infrastructure configuration snapshot names an SNS topic; the server configuration maps that topic
 * to webhook URLs, and each gets AWS's image message in an SNS HTTP envelope, signed with its secret. Deliveries
 * run beside the build, never inside it: a receiver that fails or hangs costs retries and a log line, nothing
 * else.
 *
 * Deliveries are durable. The store's event log is the source: every node reads it from a shared cursor and
 * enqueues one delivery per build end and endpoint in the store's outbox (idempotent, so nodes racing on an
 * event make one row), then moves the cursor. Senders on every node lease deliveries from the outbox, so a
 * Kiln stopped between a state change and its POST sends it when it (or another node) runs again; a sender
 * that dies mid-delivery leaves a lease that expires. Delivery is at least once: receivers drop repeats by
 * the message id, which is the same for every attempt and every node.
 */
import { withTimeout } from '../domain/abort.js';
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { executionData, listExecutionRecords } from '../builder/records/execution-records.js';
import { isInProgress, type ImageStatus } from '../domain/image-state.js';
import { errorMessage } from '../domain/errors.js';
import type { LoggedImageEvent, OutboxDelivery, ResourceRecord, Store } from '../store/store.js';
import { isScanFindingsEvent, isStepWaitingEvent } from '../store/roles/event-log.js';
import type { ImageEventBus } from './image-events.js';
import type { DeliveryPolicy, NotificationsConfig, WebhookEndpoint } from './notification-config.js';
import { SNS_TOPIC_ARN_RE } from './notification-config.js';
import { imageSnsMessage, imageSubject, snsNotification, type ImageRunIds, type SnsNotification } from './sns-message.js';
import { SIGNATURE_HEADER, signBody } from './signature.js';

/** The statuses AWS publishes a message for. */
const NOTIFIED: ReadonlySet<ImageStatus> = new Set(['AVAILABLE', 'FAILED']);

/** How one delivery ended. */
export interface DeliveryOutcome {
  delivered: boolean;
  attempts: number;
  /** The last HTTP status received, if any. */
  status?: number;
  /** Why the last attempt failed. */
  error?: string;
}

/** A receiver's answer that is worth trying again: no answer, a server error, 408 or 429. */
function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** The endpoint as logs show it: scheme, host and port only, since webhook paths often carry tokens. */
export function redactUrl(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * POSTs one notification to one endpoint: a 2xx ends it; no answer within the attempt's timeout, a 5xx, 408 or
 * 429 is tried again after a wait that doubles (firstRetryMs, 2×, … at most maxRetryMs), up to `attempts` tries;
 * another 4xx is final (the receiver refused it). Each attempt is signed afresh. Never throws: an abort of
 * `signal` ends it as undelivered.
 */
export async function deliverWebhook(endpoint: WebhookEndpoint, notification: SnsNotification, policy: DeliveryPolicy, signal: AbortSignal): Promise<DeliveryOutcome> {
  let outcome: DeliveryOutcome = { delivered: false, attempts: 0 };
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    if (signal.aborted) return { ...outcome, error: 'stopped' };
    const headers: Record<string, string> = { ...notification.headers, 'user-agent': 'Kiln-Notification-Agent' };
    if (endpoint.secret !== undefined) headers[SIGNATURE_HEADER] = signBody(endpoint.secret, notification.body);
    try {
      const bounded = withTimeout(signal, policy.timeoutMs);
      const response = await fetch(endpoint.url, { method: 'POST', headers, body: notification.body, redirect: 'manual', signal: bounded.signal }).finally(bounded.clear);
      // The body is of no interest; dropping it frees the connection.
      await response.body?.cancel().catch(() => undefined);
      outcome = { delivered: response.ok, attempts: attempt, status: response.status, ...(response.ok ? {} : { error: `HTTP ${response.status}` }) };
      if (response.ok || !retryable(response.status)) return outcome;
    } catch (err) {
      const timedOut = (err as { name?: string }).name === 'TimeoutError';
      outcome = { delivered: false, attempts: attempt, ...(outcome.status === undefined ? {} : { status: outcome.status }), error: timedOut ? `no answer within ${policy.timeoutMs} ms` : errorMessage((err as { cause?: unknown }).cause ?? err) };
      if (signal.aborted) return { ...outcome, error: 'stopped' };
    }
    if (attempt < policy.attempts) {
      const wait = Math.min(policy.firstRetryMs * 2 ** (attempt - 1), policy.maxRetryMs);
      try {
        await sleep(wait, undefined, { signal });
      } catch {
        return { ...outcome, error: 'stopped' };
      }
    }
  }
  return outcome;
}

/** The ids of the image's workflow runs, as the message reports them. */
async function runIds(store: Store, image: ResourceRecord): Promise<ImageRunIds> {
  const ids: ImageRunIds = {};
  for (const record of await listExecutionRecords(store, image)) {
    const e = executionData(record);
    if (e.type === 'BUILD') ids.buildExecutionId = e.workflowExecutionId;
    else if (e.type === 'TEST') ids.testExecutionId = e.workflowExecutionId;
    else if (e.type === 'DISTRIBUTION') ids.distributionJobId = e.workflowExecutionId;
  }
  return ids;
}

/** A stable subscription ARN for an endpoint of a topic, as SNS names each subscription. */
function subscriptionArn(topicArn: string, url: string): string {
  const h = createHash('sha256').update(`${topicArn}\n${url}`).digest('hex');
  return `${topicArn}:${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export interface NotifierOptions {
  /** Images and their workflow runs, the event log and the outbox. */
  store: Store;
  /** Wakes the notifier when an image state change is published; the event log is what it reads. */
  bus: ImageEventBus;
  config: NotificationsConfig;
  /** One line per event worth telling the operator (default: stderr with a `kiln:` prefix). */
  log?: (line: string) => void;
  /** Called after each delivery attempt run ends, delivered or not (tests and metrics). */
  onDelivery?: (result: { imageArn: string; status: ImageStatus; topicArn: string; url: string; outcome: DeliveryOutcome }) => void;
  /** This sender's lease owner (default `<host>/<pid>/<random>`). */
  owner?: string;
  /** Time between looks at the outbox for deliveries another node enqueued or whose lease ran out (default 2 s). */
  pollMs?: number;
  /** Deliveries sent at once (default 8). */
  concurrency?: number;
  /** How old settled deliveries are deleted (default 7 days); checked every 10 minutes. */
  keepSettledMs?: number;
}

/** What an outbox row carries: enough to send it again from any node, without the endpoint's secret. */
interface DeliveryPayload {
  imageArn: string;
  status: ImageStatus;
  topicArn: string;
  messageId: string;
  subject: string;
  message: string;
  timestamp: string;
  subscriptionArn: string;
}

/** A message id every node derives the same for one event of one image, shaped as SNS's (a UUID). */
function messageIdOf(event: LoggedImageEvent): string {
  const h = createHash('sha256').update(`${event.seq}\n${event.arn}\n${event.status}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The longest one delivery can take under `policy` (every attempt timing out after every wait), plus a margin. */
function leaseFor(policy: DeliveryPolicy): number {
  let waits = 0;
  for (let attempt = 1; attempt < policy.attempts; attempt++) waits += Math.min(policy.firstRetryMs * 2 ** (attempt - 1), policy.maxRetryMs);
  return policy.attempts * policy.timeoutMs + waits + 30_000;
}

/**
 * From start() to stop(): enqueues the deliveries of build ends from the event log, and sends what the outbox
 * holds (its own node's and others'), each delivery with its own retries. On start it sends what a stopped Kiln
 * left undelivered.
 */
export class Notifier {
  private readonly controller = new AbortController();
  private readonly sending = new Set<Promise<void>>();
  private readonly warned = new Set<string>();
  private readonly log: (line: string) => void;
  private readonly owner: string;
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private working: Promise<void> | undefined;
  private again = false;
  private failing = false;

  constructor(private readonly options: NotifierOptions) {
    this.log = options.log ?? ((line) => process.stderr.write(`kiln: ${line}\n`));
    this.owner = options.owner ?? `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  }

  start(): void {
    if (this.unsubscribe || this.controller.signal.aborted) return;
    this.unsubscribe = this.options.bus.subscribe((change) => {
      if (isNotified(change)) this.kick();
    });
    this.timer = setInterval(() => this.kick(), this.options.pollMs ?? 2000);
    this.timer.unref();
    const keep = this.options.keepSettledMs ?? 7 * 24 * 3600_000;
    this.pruneTimer = setInterval(() => void this.options.store.pruneDeliveries(keep).catch((err: unknown) => this.fail(err)), 10 * 60_000);
    this.pruneTimer.unref();
    this.kick();
  }

  /** Stops enqueueing and leasing, aborts every delivery under way (handing it back to the outbox) and waits for them. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearInterval(this.timer);
    clearInterval(this.pruneTimer);
    this.controller.abort();
    await Promise.allSettled([this.working, ...this.sending]);
    // A lease answered after the abort starts sends that hand their deliveries straight back: wait for those too.
    await Promise.allSettled([...this.sending]);
  }

  /** Resolves when nothing is being enqueued or sent (tests). */
  async idle(): Promise<void> {
    while (this.working || this.sending.size > 0) await Promise.allSettled([this.working, ...this.sending]);
  }

  /** Runs a pass (enqueue, then lease and send) now, or once more after the one under way. */
  private kick(): void {
    if (this.controller.signal.aborted) return;
    if (this.working) {
      this.again = true;
      return;
    }
    this.working = (async () => {
      do {
        this.again = false;
        try {
          await this.enqueueFromLog();
          await this.sendLeased();
          this.failing = false;
        } catch (err) {
          this.fail(err);
        }
      } while (this.again && !this.controller.signal.aborted);
    })().finally(() => (this.working = undefined));
  }

  /** Reports a store failure once per run of them: a database that is down must not flood the log. */
  private fail(err: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.log(`notifications cannot reach the store: ${errorMessage(err)}`);
  }

  private warnOnce(key: string, line: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log(line);
  }

  /** Enqueues the deliveries of every build end logged after the shared cursor, then moves the cursor past them. */
  private async enqueueFromLog(): Promise<void> {
    const { store } = this.options;
    for (let cursor = await store.outboxCursor(); !this.controller.signal.aborted; ) {
      const events = await store.eventsAfter(cursor, 200);
      if (events.length === 0) return;
      for (const event of events) {
        if (!isNotified(event)) continue;
        const items = await this.deliveriesOf(event);
        if (items.length > 0) await store.enqueueDeliveries(items);
      }
      cursor = events[events.length - 1]!.seq;
      await store.advanceOutboxCursor(cursor);
    }
  }

  /** One delivery per endpoint of the topic the image names, when it is configured and the image's account owns it. */
  private async deliveriesOf(event: LoggedImageEvent): Promise<{ eventSeq: number; endpoint: string; payload: string }[]> {
    const { store, config } = this.options;
    const record = await store.getResource(event.arn);
    const infra = record?.data.infrastructureConfiguration as { snsTopicArn?: unknown } | undefined;
    const topicArn = infra?.snsTopicArn;
    if (!record || typeof topicArn !== 'string') return [];
    // The ARN comes from stored data: only the configuration's own keys count, never Object.prototype's.
    const endpoints = Object.hasOwn(config.topics, topicArn) ? config.topics[topicArn] : undefined;
    if (!endpoints || endpoints.length === 0) {
      this.warnOnce(`unconfigured ${topicArn}`, `no webhook is configured for the SNS topic ${topicArn} (notifications.topics in the server configuration); images that name it are not notified`);
      return [];
    }
    const topicAccount = SNS_TOPIC_ARN_RE.test(topicArn) ? topicArn.split(':')[4] : undefined;
    if (topicAccount !== record.accountId) {
      this.warnOnce(`foreign ${topicArn} ${record.accountId}`, `the SNS topic ${topicArn} belongs to another account than ${record.accountId}; images of ${record.accountId} are not sent to it`);
      return [];
    }
    // The message shows the state this event reports, even if the image has moved on since.
    const at = { ...record, data: { ...record.data, state: { status: event.status, ...(event.reason === undefined ? {} : { reason: event.reason }) } } };
    const message = imageSnsMessage(at, await runIds(store, record));
    const common = { imageArn: event.arn, status: event.status, topicArn, messageId: messageIdOf(event), subject: imageSubject(at), message, timestamp: event.time };
    return endpoints.map((endpoint) => ({
      eventSeq: event.seq,
      endpoint: endpoint.url,
      payload: JSON.stringify({ ...common, subscriptionArn: subscriptionArn(topicArn, endpoint.url) } satisfies DeliveryPayload),
    }));
  }

  /** Leases what the outbox holds, as far as free sending slots go, and sends each beside the others. */
  private async sendLeased(): Promise<void> {
    const limit = this.options.concurrency ?? 8;
    const leaseMs = leaseFor(this.options.config.delivery);
    while (!this.controller.signal.aborted && this.sending.size < limit) {
      const leased = await this.options.store.leaseDeliveries(this.owner, leaseMs, limit - this.sending.size);
      for (const delivery of leased) {
        const task = this.send(delivery).catch((err: unknown) => this.log(`notification delivery ${delivery.id} failed: ${errorMessage(err)}`));
        this.sending.add(task);
        void task.finally(() => {
          this.sending.delete(task);
          // A slot came free: there may be more waiting.
          this.kick();
        });
      }
      if (leased.length === 0) return;
    }
  }

  private async send(delivery: OutboxDelivery): Promise<void> {
    const { store, config } = this.options;
    const p = JSON.parse(delivery.payload) as DeliveryPayload;
    const endpoints = Object.hasOwn(config.topics, p.topicArn) ? (config.topics[p.topicArn] ?? []) : [];
    const index = endpoints.findIndex((e) => e.url === delivery.endpoint);
    const where = `endpoint ${index + 1} of ${p.topicArn} (${redactUrl(delivery.endpoint)})`;
    if (index < 0) {
      // Configured when it was enqueued, not any more (or not on this node): there is no secret to sign with.
      await store.settleDelivery(delivery.id, this.owner, { state: 'failed', attempts: 0, error: 'endpoint no longer configured' });
      this.log(`notification of ${p.imageArn} ${p.status} to ${p.topicArn} (${redactUrl(delivery.endpoint)}) dropped: the endpoint is no longer configured`);
      return;
    }
    const notification = snsNotification({ topicArn: p.topicArn, messageId: p.messageId, subject: p.subject, message: p.message, timestamp: new Date(p.timestamp), subscriptionArn: p.subscriptionArn });
    const outcome = await deliverWebhook(endpoints[index]!, notification, config.delivery, this.controller.signal);
    const stopped = outcome.error === 'stopped';
    const settled = await store.settleDelivery(delivery.id, this.owner, {
      state: outcome.delivered ? 'delivered' : stopped ? 'pending' : 'failed',
      attempts: outcome.attempts,
      ...(outcome.error === undefined ? {} : { error: outcome.error }),
    });
    if (!settled) this.log(`notification of ${p.imageArn} ${p.status} to ${where}: the outbox lease ran out during delivery; it may be sent again`);
    if (!outcome.delivered && !stopped) {
      this.log(`notification of ${p.imageArn} ${p.status} to ${where} failed after ${outcome.attempts} attempt(s): ${outcome.error ?? 'unknown error'}`);
    }
    this.options.onDelivery?.({ imageArn: p.imageArn, status: p.status, topicArn: p.topicArn, url: delivery.endpoint, outcome });
  }
}

/** A build's end: a build stage → AVAILABLE or FAILED, what AWS publishes a message for. */
function isBuildEnd(change: { status: ImageStatus; previousStatus?: ImageStatus }): boolean {
  return NOTIFIED.has(change.status) && change.previousStatus !== undefined && isInProgress(change.previousStatus);
}

/**
 * What is notified: a build's end, a build that starts waiting at a WaitForAction step, and new scan findings on
 * an existing image (their reasons say which).
 */
function isNotified(change: { status: ImageStatus; previousStatus?: ImageStatus; reason?: string }): boolean {
  return isBuildEnd(change) || isStepWaitingEvent(change) || isScanFindingsEvent(change);
}
