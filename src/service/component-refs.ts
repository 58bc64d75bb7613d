import { parseArn, type ImageBuilderArn } from '../domain/arn.js';
import { parseVersionFilter, type VersionFilter } from '../domain/semver.js';
import type { ResourceRecord, Store } from '../store/store.js';
import type { RequestContext } from './types.js';
import { pickBuild } from './versioned.js';

/** Resource families whose records list components under `data.components[].componentArn`. */
export const RECIPE_TYPES = ['image-recipe', 'container-recipe'] as const;

/** Owner of the components Kiln itself provides, visible to every account (AWS's `aws` owner). */
export const MANAGED_OWNER = 'aws';

interface Selector {
  arn: ImageBuilderArn;
  filter: VersionFilter;
}

/** Reads a component ARN as a selector (version, build version or wildcard); a string says what is wrong. */
function selector(text: string): Selector | string {
  const arn = parseArn(text);
  if (!arn || arn.resourceType !== 'component') return 'is not a component ARN (arn:aws:imagebuilder:<region>:<account>:component/<name>/<version>)';
  if (arn.version === undefined) return 'must include a version: …/1.0.0, …/1.0.0/1 or a wildcard such as …/1.x.x';
  const filter = parseVersionFilter(arn.version);
  if (!filter) return `has the version ${arn.version}, which is not valid: once a node is 'x', every node to its right must be 'x'`;
  if (arn.build !== undefined && (filter.major === undefined || filter.minor === undefined || filter.patch === undefined)) {
    return 'has a build number after a wildcard version; a build number needs a full version';
  }
  return { arn, filter };
}

/**
 * The component build a recipe's componentArn designates today, if the caller may use it (its own, or
 * Kiln-managed); otherwise a message saying why not.
 */
export async function resolveComponentRef(store: Store, ctx: RequestContext, text: string): Promise<ResourceRecord | string> {
  const s = selector(text);
  if (typeof s === 'string') return s;
  const { arn, filter } = s;
  if (arn.region !== ctx.region || (arn.owner !== ctx.accountId && arn.owner !== MANAGED_OWNER)) {
    return `names a component that does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}`;
  }
  const records = await store.listResources({ accountId: arn.owner, region: arn.region, type: 'component', name: arn.name });
  return pickBuild(records, filter, arn.build) ?? 'names a component that does not exist';
}

/** ARNs of the recipes, in the component's account and region, whose components resolve today to this build. */
export async function recipesUsingComponent(store: Store, component: ResourceRecord): Promise<string[]> {
  const scope = { accountId: component.accountId, region: component.region };
  const builds = await store.listResources({ ...scope, type: 'component', name: component.name });
  const designates = (text: unknown): boolean => {
    const s = typeof text === 'string' ? selector(text) : 'not a string';
    if (typeof s === 'string') return false;
    const { arn, filter } = s;
    if (arn.owner !== component.accountId || arn.region !== component.region || arn.name !== component.name) return false;
    return pickBuild(builds, filter, arn.build)?.arn === component.arn;
  };
  const users: string[] = [];
  for (const type of RECIPE_TYPES) {
    for (const recipe of await store.listResources({ ...scope, type })) {
      const refs = recipe.data.components;
      if (Array.isArray(refs) && refs.some((c: { componentArn?: unknown }) => designates(c.componentArn))) users.push(recipe.arn);
    }
  }
  return users;
}
