/**
 * The `notifications` section of Kiln's server configuration: which webhook URLs stand for an SNS topic, and
 * how deliveries are retried.
 *
 *   notifications:
 *     topics:
 *       "arn:aws:sns:local:123456789012:image-builds":     # an infrastructure configuration's snsTopicArn
 *         - url: https://ci.example.com/hooks/kiln
 *           secret: a-long-random-string                 # signs each delivery (x-kiln-signature)
 *     delivery:                                          # optional; these are the defaults
 *       attempts: 5
 *       firstRetrySeconds: 4                             # then doubling, at most maxRetrySeconds
 *       maxRetrySeconds: 32
 *       timeoutSeconds: 10                               # per attempt
 *
 * Like an SNS topic, whose policy lets only its owner publish, a topic is used only for images of the account
 * named in its ARN.
 */

/** One HTTP(S) endpoint subscribed to a topic. */
export interface WebhookEndpoint {
  url: string;
  /** Signs every delivery; without one, deliveries carry no signature header. */
  secret?: string;
}

/** How a delivery is retried: `attempts` tries, waits doubling from firstRetryMs up to maxRetryMs. */
export interface DeliveryPolicy {
  attempts: number;
  firstRetryMs: number;
  maxRetryMs: number;
  /** Each attempt's limit, connection to response. */
  timeoutMs: number;
}

export interface NotificationsConfig {
  /** SNS topic ARN → its endpoints. */
  topics: Record<string, WebhookEndpoint[]>;
  delivery: DeliveryPolicy;
}

/** About a minute of retries in all: waits of 4, 8, 16 and 32 s between five attempts. */
export const DEFAULT_DELIVERY: DeliveryPolicy = { attempts: 5, firstRetryMs: 4_000, maxRetryMs: 32_000, timeoutMs: 10_000 };

/** No topics: notifications are off until the configuration names some. */
export function defaultNotificationsConfig(): NotificationsConfig {
  return { topics: {}, delivery: { ...DEFAULT_DELIVERY } };
}

/** AWS's SnsTopicArn pattern. */
export const SNS_TOPIC_ARN_RE = /^arn:aws[^:]*:sns:[^:]+:[0-9]{12}:[a-zA-Z0-9-_]{1,256}$/;

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The URL problem of a webhook URL, or undefined when fetch can POST to it. */
function urlProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be an http:// or https:// URL';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `must be an http:// or https:// URL, got '${value}'`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be an http:// or https:// URL, got '${value}'`;
  // fetch refuses URLs with credentials; receivers authenticate deliveries by their signature instead.
  if (url.username !== '' || url.password !== '') return 'must not contain user:password@ (give the endpoint a secret instead)';
  return undefined;
}

function parseEndpoints(value: unknown, at: string, problems: string[]): WebhookEndpoint[] {
  if (!Array.isArray(value) || value.length === 0) {
    problems.push(`${at}: must be a non-empty list of {url, secret?}`);
    return [];
  }
  const out: WebhookEndpoint[] = [];
  value.forEach((item: unknown, i) => {
    const here = `${at}[${i}]`;
    if (!isMapping(item)) {
      problems.push(`${here}: must be a mapping {url, secret?}`);
      return;
    }
    for (const key of Object.keys(item)) if (key !== 'url' && key !== 'secret') problems.push(`${here}.${key}: unknown setting`);
    const problem = urlProblem(item.url);
    if (problem) problems.push(`${here}.url: ${problem}`);
    if (item.secret !== undefined && (typeof item.secret !== 'string' || item.secret === '')) problems.push(`${here}.secret: must be a non-empty string`);
    if (!problem) out.push({ url: String(item.url), ...(typeof item.secret === 'string' && item.secret !== '' ? { secret: item.secret } : {}) });
  });
  return out;
}

const DELIVERY_FIELDS: Record<string, { key: keyof DeliveryPolicy; min: number; max: number; seconds: boolean }> = {
  attempts: { key: 'attempts', min: 1, max: 20, seconds: false },
  firstRetrySeconds: { key: 'firstRetryMs', min: 0, max: 3600, seconds: true },
  maxRetrySeconds: { key: 'maxRetryMs', min: 0, max: 3600, seconds: true },
  timeoutSeconds: { key: 'timeoutMs', min: 0.001, max: 600, seconds: true },
};

function parseDelivery(value: unknown, problems: string[]): DeliveryPolicy {
  const policy = { ...DEFAULT_DELIVERY };
  if (!isMapping(value)) {
    problems.push(`notifications.delivery: must be a mapping of ${Object.keys(DELIVERY_FIELDS).join(', ')}`);
    return policy;
  }
  for (const [name, v] of Object.entries(value)) {
    const field = DELIVERY_FIELDS[name];
    if (!field) {
      problems.push(`notifications.delivery.${name}: unknown setting`);
      continue;
    }
    const ok = typeof v === 'number' && Number.isFinite(v) && v >= field.min && v <= field.max && (field.seconds || Number.isInteger(v));
    if (!ok) problems.push(`notifications.delivery.${name}: must be ${field.seconds ? 'a number of seconds' : 'a whole number'} from ${field.min} to ${field.max}`);
    else policy[field.key] = field.seconds ? Math.round(v * 1000) : v;
  }
  if (policy.maxRetryMs < policy.firstRetryMs) problems.push('notifications.delivery.maxRetrySeconds: must not be less than firstRetrySeconds');
  return policy;
}

/**
 * Reads the `notifications` setting; each problem is added to `problems` naming its field
 * (`notifications.topics["<arn>"][0].url: …`), and what was valid is returned.
 */
export function parseNotificationsConfig(value: unknown, problems: string[]): NotificationsConfig {
  const config = defaultNotificationsConfig();
  if (!isMapping(value)) {
    problems.push('notifications: must be a mapping {topics, delivery?}');
    return config;
  }
  for (const [key, v] of Object.entries(value)) {
    if (key === 'topics') {
      if (!isMapping(v)) {
        problems.push('notifications.topics: must map SNS topic ARNs to lists of endpoints');
        continue;
      }
      for (const [arn, endpoints] of Object.entries(v)) {
        const at = `notifications.topics["${arn}"]`;
        if (!SNS_TOPIC_ARN_RE.test(arn)) problems.push(`${at}: the key must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)`);
        const parsed = parseEndpoints(endpoints, at, problems);
        if (SNS_TOPIC_ARN_RE.test(arn) && parsed.length > 0) config.topics[arn] = parsed;
      }
    } else if (key === 'delivery') {
      config.delivery = parseDelivery(v, problems);
    } else {
      problems.push(`notifications.${key}: unknown setting`);
    }
  }
  return config;
}
