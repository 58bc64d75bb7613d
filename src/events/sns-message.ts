/**
 * AWS's SNS image message, built from a stored image record, and the HTTP envelope SNS wraps a notification in
 * when it delivers to an HTTP(S) subscription. The message has the fields, order and formats of the examples in
 * the Image Builder guide ("SNS message format"): pretty-printed JSON, `semver` as a bare big integer, dates in
 * Java's `MMM d, yyyy h:mm:ss a` (UTC), snapshots of the recipe and configurations with `accountId` and tags
 * that include `internalId` and `resourceArn`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { parseArn } from '../domain/arn.js';
import { parseSemver, semverKey } from '../domain/semver.js';
import type { ResourceRecord } from '../store/store.js';
import { isJsonObject, type JsonObject } from '../domain/json.js';

export { SIGNATURE_HEADER, signBody, verifySignature } from './signature.js';


const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DATE_FIELDS = new Set(['dateCreated', 'dateUpdated']);

/** `2022-07-28T01:13:45.123Z` → `Jul 28, 2022 1:13:45 AM` (UTC); text that is not a date is returned as is. */
export function javaDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const h = d.getUTCHours();
  const two = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()} ${h % 12 === 0 ? 12 : h % 12}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${h < 12 ? 'AM' : 'PM'}`;
}

/** A stable UUID-shaped id for a resource, standing in for the internal id AWS tags its snapshots with. */
function internalId(arn: string): string {
  const h = createHash('sha256').update(`kiln-internal-id:${arn}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}


/** The account in a resource ARN (Image Builder or otherwise), when it has one. */
function accountOf(arn: unknown): string | undefined {
  if (typeof arn !== 'string') return undefined;
  return parseArn(arn)?.owner ?? /^arn:[^:]+:[^:]+:[^:]*:(\d{12}):/.exec(arn)?.[1];
}

/** Tags as AWS shows them in the message: the resource's own, plus its internal id and ARN. */
function messageTags(tags: unknown, arn: string): JsonObject {
  return { ...(isJsonObject(tags) ? tags : {}), internalId: internalId(arn), resourceArn: arn };
}

/** A recipe or configuration snapshot as the message shows it: Java dates, tags with ids, the owner's accountId. */
function snapshot(value: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || v === null) continue;
    out[key] = DATE_FIELDS.has(key) && typeof v === 'string' ? javaDate(v) : v;
  }
  const arn = typeof value.arn === 'string' ? value.arn : undefined;
  if (arn) out.tags = messageTags(value.tags, arn);
  const account = accountOf(arn);
  if (account !== undefined && account !== 'aws') out.accountId = account;
  return out;
}

/** A recipe or configuration snapshot in the message. */
export interface MessageSnapshot {
  arn?: string;
  name?: string;
  dateCreated?: string;
  dateUpdated?: string;
  accountId?: string;
  tags?: Record<string, string>;
  [field: string]: unknown;
}

/** The message as a receiver's JSON parser sees it (`semver` loses precision there; read it from the text if needed). */
export interface ImageSnsMessage {
  versionlessArn: string;
  semver?: number;
  arn: string;
  name: string;
  version: string;
  type: 'AMI' | 'DOCKER';
  buildVersion: number;
  state: { status: string; reason?: string };
  platform?: string;
  imageRecipe?: MessageSnapshot;
  containerRecipe?: MessageSnapshot;
  sourcePipelineArn?: string;
  infrastructureConfiguration?: MessageSnapshot & { snsTopicArn?: string };
  imageTestsConfigurationDocument: { imageTestsEnabled: boolean; timeoutMinutes: number };
  distributionConfiguration?: MessageSnapshot;
  dateCreated?: string;
  outputResources: { amis?: { region: string; image: string; name?: string; accountId?: string }[]; containers?: { region: string; imageUris: string[] }[] };
  buildExecutionId?: string;
  testExecutionId?: string;
  distributionJobId?: string;
  integrationJobId?: string;
  accountId: string;
  osVersion?: string;
  enhancedImageMetadataEnabled: boolean;
  buildType?: string;
  tags: Record<string, string>;
}

/** Ids of the image's workflow runs, when it had them (Kiln's workflow execution ids). */
export interface ImageRunIds {
  buildExecutionId?: string;
  testExecutionId?: string;
  distributionJobId?: string;
  integrationJobId?: string;
}

/** The message as an object, `semver` a bigint; `imageSnsMessage` serialises it. */
export function imageSnsPayload(record: ResourceRecord, runs: ImageRunIds = {}): JsonObject {
  const d = record.data;
  const arn = parseArn(record.arn);
  const semver = parseSemver(record.version);
  const tests = isJsonObject(d.imageTestsConfiguration) ? d.imageTestsConfiguration : {};
  const recipeField = isJsonObject(d.containerRecipe) ? 'containerRecipe' : 'imageRecipe';
  const payload: JsonObject = {
    versionlessArn: arn ? `arn:${arn.partition}:imagebuilder:${arn.region}:${arn.owner}:image/${arn.name}` : record.arn,
    semver: semver ? semverKey(semver, record.build) : undefined,
    arn: record.arn,
    name: d.name,
    version: record.version,
    type: d.type,
    buildVersion: record.build,
    state: d.state,
    platform: d.platform,
    [recipeField]: isJsonObject(d[recipeField]) ? snapshot(d[recipeField]) : undefined,
    sourcePipelineArn: d.sourcePipelineArn,
    infrastructureConfiguration: isJsonObject(d.infrastructureConfiguration) ? snapshot(d.infrastructureConfiguration) : undefined,
    imageTestsConfigurationDocument: { imageTestsEnabled: tests.imageTestsEnabled ?? true, timeoutMinutes: tests.timeoutMinutes ?? 720 },
    distributionConfiguration: isJsonObject(d.distributionConfiguration) ? snapshot(d.distributionConfiguration) : undefined,
    dateCreated: typeof d.dateCreated === 'string' ? javaDate(d.dateCreated) : undefined,
    outputResources: d.outputResources ?? (d.type === 'DOCKER' ? { containers: [] } : { amis: [] }),
    ...runs,
    accountId: record.accountId,
    osVersion: d.osVersion,
    enhancedImageMetadataEnabled: d.enhancedImageMetadataEnabled ?? true,
    buildType: d.buildType,
    tags: messageTags(d.tags, record.arn),
  };
  for (const key of Object.keys(payload)) if (payload[key] === undefined) delete payload[key];
  return payload;
}

/** The message text, as SNS's `Message`: JSON indented by two spaces, `semver` an integer beyond 2^53. */
export function imageSnsMessage(record: ResourceRecord, runs: ImageRunIds = {}): string {
  // JSON.stringify cannot write a bigint; a marker no user data can contain stands in for it, then is unquoted.
  const marker = `__kiln_bigint_${randomBytes(8).toString('hex')}__`;
  const text = JSON.stringify(imageSnsPayload(record, runs), (_key, value: unknown) => (typeof value === 'bigint' ? `${marker}${value}` : value), 2);
  return text.replace(new RegExp(`"${marker}(\\d+)"`, 'g'), '$1');
}

/** One SNS HTTP(S) notification: the JSON body and the headers SNS sends with it. */
export interface SnsNotification {
  body: string;
  headers: Record<string, string>;
}

/**
 * The envelope SNS POSTs to an HTTP subscription (`Type: Notification`, MessageId, TopicArn, Subject, Message,
 * Timestamp) and its `x-amz-sns-*` headers, so existing SNS receivers parse it. SNS's certificate signature
 * fields are left out: Kiln signs with `x-kiln-signature` instead (see signature.ts).
 */
export function snsNotification(input: { topicArn: string; messageId: string; subject?: string; message: string; timestamp: Date; subscriptionArn?: string }): SnsNotification {
  const envelope: JsonObject = {
    Type: 'Notification',
    MessageId: input.messageId,
    TopicArn: input.topicArn,
    ...(input.subject === undefined ? {} : { Subject: input.subject }),
    Message: input.message,
    Timestamp: input.timestamp.toISOString(),
  };
  return {
    body: JSON.stringify(envelope),
    headers: {
      'content-type': 'text/plain; charset=UTF-8',
      'x-amz-sns-message-type': 'Notification',
      'x-amz-sns-message-id': input.messageId,
      'x-amz-sns-topic-arn': input.topicArn,
      ...(input.subscriptionArn ? { 'x-amz-sns-subscription-arn': input.subscriptionArn } : {}),
    },
  };
}

/** A subject line for an image's message (SNS allows at most 100 characters). */
export function imageSubject(record: ResourceRecord): string {
  const status = String((record.data.state as { status?: unknown } | undefined)?.status ?? '');
  const text = `Image Builder: ${String(record.data.name ?? record.name)} ${record.version}/${record.build} is ${status}`;
  return text.length <= 100 ? text : `${text.slice(0, 99)}…`;
}
