import { formatArn, parseArn } from '../domain/arn.js';
import { KilnError, validationError } from '../domain/errors.js';
import { parseSemver } from '../domain/semver.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { parseResourcePolicy } from './resource-policy.js';
import type { OperationHandler, RequestContext } from './types.js';
import { canRead } from '../store/visibility.js';

/** What differs between the four shareable families; the Get/Put handlers are shared. */
interface PolicyFamily {
  type: string;
  noun: string;
  get: string;
  put: string;
  arnField: string;
  /** Components and images are shared per build version (`…/1.0.0/1`), recipes per version (`…/1.0.0`). */
  withBuild: boolean;
}

const FAMILIES: readonly PolicyFamily[] = [
  { type: 'component', noun: 'component', get: 'GetComponentPolicy', put: 'PutComponentPolicy', arnField: 'componentArn', withBuild: true },
  { type: 'image', noun: 'image', get: 'GetImagePolicy', put: 'PutImagePolicy', arnField: 'imageArn', withBuild: true },
  { type: 'image-recipe', noun: 'image recipe', get: 'GetImageRecipePolicy', put: 'PutImageRecipePolicy', arnField: 'imageRecipeArn', withBuild: false },
  { type: 'container-recipe', noun: 'container recipe', get: 'GetContainerRecipePolicy', put: 'PutContainerRecipePolicy', arnField: 'containerRecipeArn', withBuild: false },
];

/**
 * The resource a policy call names, which only its owner may use: not visible → NotFound (nothing is revealed),
 * visible but someone else's (shared or Kiln-managed) → Forbidden.
 */
async function ownedResource(store: Store, ctx: RequestContext, family: PolicyFamily, text: unknown): Promise<ResourceRecord> {
  const arn = typeof text === 'string' ? parseArn(text) : undefined;
  const shape = family.withBuild ? `…:${family.type}/<name>/<major>.<minor>.<patch>/<build>` : `…:${family.type}/<name>/<major>.<minor>.<patch>`;
  if (!arn || arn.resourceType !== family.type || !parseSemver(arn.version ?? '') || (arn.build !== undefined) !== family.withBuild) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter '${family.arnField}' is not a valid ${family.noun} ARN (${shape}): ${String(text)}`);
  }
  const record = arn.region === ctx.region ? await store.getResource(formatArn(arn)) : undefined;
  if (!record || !(await canRead(store, ctx, record))) {
    throw new KilnError('NotFound', `The ${family.noun} ${String(text)} does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}.`);
  }
  if (record.accountId !== ctx.accountId) {
    throw new KilnError('Forbidden', `Only the owner (${record.accountId}) of the ${family.noun} ${record.arn} may read or change its resource policy.`);
  }
  return record;
}

function getPolicy(store: Store, family: PolicyFamily): OperationHandler {
  return async (input, ctx) => {
    const record = await ownedResource(store, ctx, family, input[family.arnField]);
    const policy = await store.getResourcePolicy(record.arn);
    if (policy === undefined) throw new KilnError('NotFound', `The ${family.noun} ${record.arn} has no resource policy.`);
    return { policy };
  };
}

function putPolicy(store: Store, family: PolicyFamily): OperationHandler {
  return async (input, ctx) => {
    const record = await ownedResource(store, ctx, family, input[family.arnField]);
    const text = typeof input.policy === 'string' ? input.policy : '';
    const parsed = await parseResourcePolicy(text, { type: family.type, arn: record.arn, owner: record.accountId }, async (id) => (await store.getAccount(id)) !== undefined);
    if (parsed.issues.length > 0) throw validationError('The policy', parsed.issues);
    await store.putResourcePolicy(record.arn, text, parsed.grantees);
    return { [family.arnField]: record.arn };
  };
}

/** Operations on resource policies (sharing): Get/Put of component, image, image recipe and container recipe policies. */
export function policyHandlers(store: Store): Record<string, OperationHandler> {
  const handlers: Record<string, OperationHandler> = {};
  for (const family of FAMILIES) {
    handlers[family.get] = getPolicy(store, family);
    handlers[family.put] = putPolicy(store, family);
  }
  return handlers;
}
