import { formatArn, parseArn } from '../domain/arn.js';
import { KilnError } from '../domain/errors.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { KILN_MANAGED_OWNER } from '../store/visibility.js';
import type { OperationHandler, RequestContext } from './types.js';

/** The families whose records carry `data.tags`: every resource type an Image Builder ARN can name. */
const TAGGABLE = new Set([
  'component',
  'image',
  'image-recipe',
  'container-recipe',
  'infrastructure-configuration',
  'distribution-configuration',
  'image-pipeline',
  'lifecycle-policy',
  'workflow/build',
  'workflow/test',
  'workflow/distribution',
]);
const MAX_TAGS = 50;
const MAX_KEY = 128;
const MAX_VALUE = 256;

type Tags = Record<string, string>;

/** The tag operations' model declares InvalidParameterException rather than InvalidParameterValueException. */
function invalid(field: string, message: string): Error {
  return new KilnError('InvalidParameter', `The value supplied for parameter '${field}' is not valid: ${message}`);
}

function keyProblem(key: string): string | undefined {
  if (key.length < 1 || key.length > MAX_KEY) return `tag key '${key}' must be 1-${MAX_KEY} characters`;
  if (key.toLowerCase().startsWith('aws:')) return `tag key '${key}' starts with 'aws:', which is reserved`;
  return undefined;
}

/** Checks a TagResource map: 1-50 entries, keys 1-128 characters outside `aws:`, values up to 256. */
export function checkTagsToAdd(tags: unknown): Tags {
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) throw invalid('tags', 'expected a map of tag keys to values');
  const entries = Object.entries(tags as Record<string, unknown>);
  if (entries.length < 1 || entries.length > MAX_TAGS) throw invalid('tags', `give 1-${MAX_TAGS} tags, got ${entries.length}`);
  for (const [key, value] of entries) {
    const problem = keyProblem(key);
    if (problem) throw invalid(`tags.${key}`, problem);
    if (typeof value !== 'string' || value.length > MAX_VALUE) throw invalid(`tags.${key}`, `tag values are strings of at most ${MAX_VALUE} characters`);
  }
  return tags as Tags;
}

/** Checks an UntagResource key list: 1-50 keys, each a key TagResource would accept. */
export function checkTagKeys(keys: unknown): string[] {
  const list = Array.isArray(keys) ? keys : typeof keys === 'string' ? [keys] : [];
  if (list.length < 1 || list.length > MAX_TAGS) throw invalid('tagKeys', `give 1-${MAX_TAGS} tag keys, got ${list.length}`);
  list.forEach((key, i) => {
    const problem = typeof key === 'string' ? keyProblem(key) : 'tag keys are strings';
    if (problem) throw invalid(`tagKeys[${i}]`, problem);
  });
  return list as string[];
}

/**
 * The caller's own resource an ARN names. Another account's or region's resource is reported exactly like a
 * missing one, so its existence does not leak; a malformed ARN is a parameter error. A Kiln-managed resource
 * (owner `aws`, readable by everyone) answers its tags to a read and Forbidden to a change.
 */
async function ownResource(store: Store, ctx: RequestContext, text: unknown, access: 'read' | 'write'): Promise<ResourceRecord> {
  const arn = typeof text === 'string' ? parseArn(text) : undefined;
  if (!arn || !TAGGABLE.has(arn.resourceType)) {
    throw invalid('resourceArn', `${String(text)} is not an Image Builder resource ARN (arn:aws:imagebuilder:<region>:<account>:<type>/<name>[/<version>[/<build>]])`);
  }
  const canonical = formatArn(arn);
  const notFound = () => new KilnError('NotFound', `The resource ${canonical} does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}.`);
  if (arn.owner === KILN_MANAGED_OWNER && arn.region === ctx.region) {
    const managed = await store.getResource(canonical);
    if (!managed || managed.accountId !== KILN_MANAGED_OWNER || !TAGGABLE.has(managed.type)) throw notFound();
    if (access === 'write') throw new KilnError('Forbidden', `The resource ${canonical} is managed by Kiln (owner ${KILN_MANAGED_OWNER}); no account may change its tags.`);
    return managed;
  }
  if (arn.owner !== ctx.accountId || arn.region !== ctx.region) throw notFound();
  const record = await store.getResource(canonical);
  if (!record || record.accountId !== ctx.accountId || record.region !== ctx.region || !TAGGABLE.has(record.type)) throw notFound();
  return record;
}

const currentTags = (record: ResourceRecord): Tags => ({ ...((record.data.tags as Tags | undefined) ?? {}) });

function tagResource(store: Store): OperationHandler {
  return async (input, ctx) => {
    const tags = checkTagsToAdd(input.tags);
    const record = await ownResource(store, ctx, input.resourceArn, 'write');
    // The merge and the limit are checked against the record inside the transaction, so two concurrent
    // TagResource calls cannot each pass the limit and together exceed it, nor drop each other's keys.
    await store.updateResource(record.arn, (current) => {
      const merged = { ...currentTags(current), ...tags };
      const count = Object.keys(merged).length;
      if (count > MAX_TAGS) throw invalid('tags', `the resource would have ${count} tags; the limit is ${MAX_TAGS}`);
      return { ...current.data, tags: merged };
    });
    return {};
  };
}

function untagResource(store: Store): OperationHandler {
  return async (input, ctx) => {
    const keys = checkTagKeys(input.tagKeys);
    const record = await ownResource(store, ctx, input.resourceArn, 'write');
    await store.updateResource(record.arn, (current) => {
      const tags = currentTags(current);
      for (const key of keys) delete tags[key];
      return { ...current.data, tags };
    });
    return {};
  };
}

function listTagsForResource(store: Store): OperationHandler {
  return async (input, ctx) => {
    const record = await ownResource(store, ctx, input.resourceArn, 'read');
    return { tags: currentTags(record) };
  };
}

/** TagResource, UntagResource and ListTagsForResource on any resource the caller owns; tags live in `data.tags`. */
export function tagHandlers(store: Store): Record<string, OperationHandler> {
  return {
    TagResource: tagResource(store),
    UntagResource: untagResource(store),
    ListTagsForResource: listTagsForResource(store),
  };
}
