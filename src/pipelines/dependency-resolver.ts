/**
 * Resolves what a pipeline's recipe would build from if it ran now: the parent image and every component
 * through their (possibly wildcard) ARNs, as a build plan would (build-plan.ts), without pulling or building
 * anything. One resolver serves one scheduler tick: lookups shared by many pipelines (a common base, a common
 * component) are made once.
 */
import { parseArn } from '../domain/arn.js';
import { KilnError } from '../domain/errors.js';
import { resolveImageArn } from '../builder/stages/build-plan.js';
import { resolveComponentRef } from '../store/component-refs.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { dependencyKey } from './run-state.js';
import type { JsonObject } from '../domain/json.js';


/**
 * Reads what a registry reference (`host/repo:tag`) points at now, as the build plan records it
 * (`host/repo@sha256:…`), for the account that would pull it.
 */
export type ParentTagResolver = (reference: string, accountId: string, signal: AbortSignal) => Promise<string>;

function memo<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let hit = cache.get(key);
  if (!hit) {
    hit = load();
    cache.set(key, hit);
  }
  return hit;
}

export class DependencyResolver {
  private readonly recipes = new Map<string, Promise<ResourceRecord | undefined>>();
  private readonly parents = new Map<string, Promise<string>>();
  private readonly components = new Map<string, Promise<string>>();

  constructor(
    private readonly store: Store,
    private readonly resolveTag: ParentTagResolver,
    private readonly signal: AbortSignal,
  ) {}

  /** The dependency key (run-state.ts) of the pipeline's recipe resolved now; throws naming what cannot be resolved. */
  async resolve(pipeline: ResourceRecord): Promise<string> {
    const recipeArn = String(pipeline.data.imageRecipeArn ?? pipeline.data.containerRecipeArn ?? '');
    const recipe = await memo(this.recipes, recipeArn, () => this.store.getResource(recipeArn));
    if (!recipe) throw new KilnError('NotFound', `the recipe ${recipeArn} no longer exists`);
    const who = { accountId: pipeline.accountId, region: pipeline.region, arn: pipeline.arn };
    const scope = `${who.accountId}|${who.region}|`;
    const parentText = String(recipe.data.parentImage ?? '');
    const parent = await memo(this.parents, scope + parentText, () => this.resolveParent(who, parentText));
    const refs = Array.isArray(recipe.data.components) ? (recipe.data.components as JsonObject[]) : [];
    const components: string[] = [];
    for (const [i, ref] of refs.entries()) {
      const text = String(ref.componentArn ?? '');
      components.push(
        await memo(this.components, scope + text, async () => {
          const found = await resolveComponentRef(this.store, { accountId: who.accountId, region: who.region }, text);
          if (typeof found === 'string') throw new KilnError('InvalidArgument', `components[${i}].componentArn: ${text} ${found}`);
          return found.arn;
        }),
      );
    }
    return dependencyKey(recipe.arn, parent, components);
  }

  private async resolveParent(who: { accountId: string; region: string; arn: string }, text: string): Promise<string> {
    const arn = text.startsWith('arn:') ? parseArn(text) : undefined;
    if (arn?.resourceType === 'image') return (await resolveImageArn(this.store, who, text)).arn;
    // A machine image id or ARN names one immutable disk; only Image Builder images have versions to move to.
    if (text.startsWith('ami-') || text.startsWith('arn:')) return text;
    return this.resolveTag(text, who.accountId, this.signal);
  }
}
