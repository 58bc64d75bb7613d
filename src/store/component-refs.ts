import { parseArn, type ImageBuilderArn } from '../domain/arn.js';
import { parseVersionFilter, type VersionFilter } from '../domain/semver.js';
import type { ResourceRecord, Store } from './store.js';
import { pickBuild } from './versioned.js';
import { KILN_MANAGED_OWNER, readableVersions, type Caller } from './visibility.js';

/** Resource families whose records list components under `data.components[].componentArn`. */
export const RECIPE_TYPES = ['image-recipe', 'container-recipe'] as const;

/** Owner of the components Kiln itself provides, visible to every account (AWS's `aws` owner). */
export const MANAGED_OWNER = KILN_MANAGED_OWNER;

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
 * The component build a recipe's componentArn designates today, if the caller may use it (its own, shared
 * with it, or Kiln-managed); otherwise a message saying why not.
 */
export async function resolveComponentRef(store: Store, ctx: Caller, text: string): Promise<ResourceRecord | string> {
  const s = selector(text);
  if (typeof s === 'string') return s;
  const { arn, filter } = s;
  const hidden = `names a component that does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}`;
  if (arn.region !== ctx.region) return hidden;
  // Another account's wildcard resolves among the builds shared with the caller, never to an unshared one.
  const records = await readableVersions(store, ctx, { owner: arn.owner, type: 'component', name: arn.name });
  return pickBuild(records, filter, arn.build) ?? (arn.owner === ctx.accountId ? 'names a component that does not exist' : hidden);
}

/**
 * ARNs of the recipes whose components resolve today to this build: the owner's, and, once the build has a
 * resource policy, those of accounts it is shared with (each resolving among the builds visible to it).
 */
export async function recipesUsingComponent(store: Store, component: ResourceRecord): Promise<string[]> {
  const scope = { accountId: component.accountId, region: component.region };
  const builds = await store.listResources({ ...scope, type: 'component', name: component.name });
  const accounts = [component.accountId];
  if ((await store.getResourcePolicy(component.arn)) !== undefined) {
    accounts.push(...(await store.listAccounts()).map((a) => a.accountId).filter((id) => id !== component.accountId));
  }
  const users: string[] = [];
  for (const accountId of accounts) {
    let visible = builds;
    if (accountId !== component.accountId) {
      const granted = new Set((await store.listGrantedResources({ grantee: accountId, region: component.region, type: 'component' })).map((r) => r.arn));
      visible = builds.filter((b) => granted.has(b.arn));
      if (!granted.has(component.arn)) continue;
    }
    const designates = (text: unknown): boolean => {
      const s = typeof text === 'string' ? selector(text) : 'not a string';
      if (typeof s === 'string') return false;
      const { arn, filter } = s;
      if (arn.owner !== component.accountId || arn.region !== component.region || arn.name !== component.name) return false;
      return pickBuild(visible, filter, arn.build)?.arn === component.arn;
    };
    for (const type of RECIPE_TYPES) {
      for (const recipe of await store.listResources({ accountId, region: component.region, type })) {
        const refs = recipe.data.components;
        if (Array.isArray(refs) && refs.some((c: { componentArn?: unknown }) => designates(c.componentArn))) users.push(recipe.arn);
      }
    }
  }
  return users;
}
