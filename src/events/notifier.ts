/**
 * SNS-style webhook notifications: when a build ends (an image goes from a build stage to AVAILABLE or FAILED),
 * the image's infrastructure configuration snapshot names an SNS topic; the server configuration maps that topic
 * to webhook URLs, and each gets AWS's image message in an SNS HTTP envelope, signed with its secret. Deliveries
 * run beside the build, never inside it: a receiver that fails or hangs costs retries and a log line, nothing
 * else. Deliveries are not durable: a Kiln stopped meanwhile abandons the ones still pending.
 */
import { withTimeout } from '../domain/abort.js';
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { executionData, listExecutionRecords } from '../builder/records/execution-records.js';
import { isInProgress, type ImageStatus } from '../domain/image-state.js';
import { errorMessage } from '../domain/errors.js';
import type { ResourceRecord, Store } from '../store/store.js';
import type { ImageEventBus, ImageStateChange } from './image-events.js';
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
  store: Store;
  bus: ImageEventBus;
  config: NotificationsConfig;
  /** One line per event worth telling the operator (default: stderr with a `kiln:` prefix). */
  log?: (line: string) => void;
  /** Called after each delivery ends, delivered or not (tests and metrics). */
  onDelivery?: (result: { imageArn: string; status: ImageStatus; topicArn: string; url: string; outcome: DeliveryOutcome }) => void;
}

/**
 * Listens on the bus from start() to stop(). On the end of a build (a build stage → AVAILABLE or FAILED) it
 * reads the image, and when its snsTopicArn is configured and the topic belongs to the image's account, sends
 * the message to every endpoint of the topic at once, each with its own retries.
 */
export class Notifier {
  private readonly controller = new AbortController();
  private readonly pending = new Set<Promise<void>>();
  private readonly warned = new Set<string>();
  private readonly log: (line: string) => void;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly options: NotifierOptions) {
    this.log = options.log ?? ((line) => process.stderr.write(`kiln: ${line}\n`));
  }

  start(): void {
    if (this.unsubscribe || this.controller.signal.aborted) return;
    this.unsubscribe = this.options.bus.subscribe((change) => this.onChange(change));
  }

  /** Stops listening, aborts every delivery under way and waits until they have let go. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.controller.abort();
    await Promise.allSettled([...this.pending]);
  }

  /** Resolves when no notification is being sent (tests). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private onChange(change: ImageStateChange): void {
    if (!NOTIFIED.has(change.status) || change.previousStatus === undefined || !isInProgress(change.previousStatus)) return;
    const task = this.notify(change).catch((err: unknown) => this.log(`notification of ${change.arn} ${change.status} failed: ${errorMessage(err)}`));
    this.pending.add(task);
    void task.finally(() => this.pending.delete(task));
  }

  private warnOnce(key: string, line: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log(line);
  }

  private async notify(change: ImageStateChange): Promise<void> {
    const { store, config } = this.options;
    const record = await store.getResource(change.arn);
    const infra = record?.data.infrastructureConfiguration as { snsTopicArn?: unknown } | undefined;
    const topicArn = infra?.snsTopicArn;
    if (!record || typeof topicArn !== 'string') return;
    // The ARN comes from stored data: only the configuration's own keys count, never Object.prototype's.
    const endpoints = Object.hasOwn(config.topics, topicArn) ? config.topics[topicArn] : undefined;
    if (!endpoints || endpoints.length === 0) {
      this.warnOnce(`unconfigured ${topicArn}`, `no webhook is configured for the SNS topic ${topicArn} (notifications.topics in the server configuration); images that name it are not notified`);
      return;
    }
    const topicAccount = SNS_TOPIC_ARN_RE.test(topicArn) ? topicArn.split(':')[4] : undefined;
    if (topicAccount !== record.accountId) {
      this.warnOnce(`foreign ${topicArn} ${record.accountId}`, `the SNS topic ${topicArn} belongs to another account than ${record.accountId}; images of ${record.accountId} are not sent to it`);
      return;
    }
    // The message shows the state this event reports, even if the image has moved on since.
    const at = { ...record, data: { ...record.data, state: { status: change.status, ...(change.reason === undefined ? {} : { reason: change.reason }) } } };
    const message = imageSnsMessage(at, await runIds(store, record));
    const messageId = randomUUID();
    const timestamp = new Date();
    await Promise.all(
      endpoints.map(async (endpoint, i) => {
        const notification = snsNotification({ topicArn, messageId, subject: imageSubject(at), message, timestamp, subscriptionArn: subscriptionArn(topicArn, endpoint.url) });
        const outcome = await deliverWebhook(endpoint, notification, config.delivery, this.controller.signal);
        if (!outcome.delivered && outcome.error !== 'stopped') {
          this.log(`notification of ${change.arn} ${change.status} to endpoint ${i + 1} of ${topicArn} (${redactUrl(endpoint.url)}) failed after ${outcome.attempts} attempt(s): ${outcome.error ?? 'unknown error'}`);
        }
        this.options.onDelivery?.({ imageArn: change.arn, status: change.status, topicArn, url: endpoint.url, outcome });
      }),
    );
  }
}
