import { parseArn } from '../domain/arn.js';
import { KilnError, validationError, type Issue } from '../domain/errors.js';
import { paginate, queryFingerprint } from '../domain/pagination.js';
import { parseSemver, parseVersionFilter } from '../domain/semver.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { applyFilters } from '../resources/filters.js';
import { createVersion } from '../resources/versioned.js';
import { containerRecipeFamily, imageRecipeFamily, type RecipeFamily } from './recipe-families.js';
import { checkRecipeComponents } from './recipe-components.js';
import type { OperationHandler, RequestContext } from './types.js';
import { latestVersionReferences, pickBuild, versionedArn } from '../store/versioned.js';
import { listByOwnerView, readableVersions } from '../store/visibility.js';
import { str } from '../domain/json.js';

const OWNERS = new Set(['Self', 'Shared', 'Amazon', 'ThirdParty', 'AWSMarketplace']);

/** Pipelines keep the recipe they build under one of these fields; a recipe in use cannot be deleted. */
const PIPELINE_REFERENCES = ['imageRecipeArn', 'containerRecipeArn'];

/** Parses a recipe ARN of the family; `exact` refuses wildcards (Delete), otherwise they select the newest. */
function recipeArn(family: RecipeFamily, text: unknown, exact: boolean) {
  const field = family.arnField;
  const arn = typeof text === 'string' ? parseArn(text) : undefined;
  if (!arn || arn.resourceType !== family.type || arn.version === undefined || arn.build !== undefined) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' is not a valid ${family.noun} ARN (…:${family.type}/<name>/<major>.<minor>.<patch>): ${String(text)}`);
  }
  const filter = parseVersionFilter(arn.version);
  if (!filter) throw new KilnError('InvalidVersion', `The version in ${String(text)} is not valid: once a node is 'x', every node to its right must be 'x'.`);
  if (exact && !parseSemver(arn.version)) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' must name one version, without wildcards: ${String(text)}`);
  }
  return { arn, filter };
}

function notVisible(family: RecipeFamily, text: unknown, ctx: RequestContext): KilnError {
  return new KilnError('NotFound', `The ${family.noun} ${String(text)} does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}.`);
}

function create(store: Store, family: RecipeFamily): OperationHandler {
  return async (input, ctx) => {
    family.checkCombination?.(input);
    const issues: Issue[] = [...family.checkInput(input)];
    const components = await checkRecipeComponents(store, ctx, input.components);
    issues.push(...components.issues);
    const parentPlatform = family.parentPlatform(input);
    if (parentPlatform !== undefined && components.platform !== undefined && parentPlatform !== components.platform) {
      issues.push({ path: 'components', message: `are ${components.platform} components, but the parent image is ${parentPlatform}` });
    }
    if (issues.length > 0) throw validationError(`The ${family.noun}`, issues);

    const { clientToken: _token, semanticVersion: _version, ...fields } = input;
    const data = { ...fields, platform: parentPlatform ?? components.platform ?? 'Linux', dateCreated: new Date().toISOString() };
    const record = await createVersion(store, ctx, { builds: false }, family.type, input.name as string, input.semanticVersion as string, data, input);
    return { clientToken: str(input.clientToken), [family.arnField]: record.arn, latestVersionReferences: latestVersionReferences(record) };
  };
}

function get(store: Store, family: RecipeFamily): OperationHandler {
  return async (input, ctx) => {
    const text = input[family.arnField];
    const { arn, filter } = recipeArn(family, text, false);
    if (arn.region !== ctx.region) throw notVisible(family, text, ctx);
    const versions = await readableVersions(store, ctx, { owner: arn.owner, type: family.type, name: arn.name });
    const record = pickBuild(versions, filter);
    if (!record) throw notVisible(family, text, ctx);
    return { [family.resultField]: family.toResource(record), latestVersionReferences: latestVersionReferences(record) };
  };
}

function list(store: Store, family: RecipeFamily): OperationHandler {
  return async (input, ctx) => {
    const owner = str(input.owner) ?? 'Self';
    if (!OWNERS.has(owner)) throw new KilnError('InvalidArgument', `The value supplied for parameter 'owner' is not valid: ${owner}; use one of ${[...OWNERS].join(', ')}.`);
    const records = await listByOwnerView(store, ctx, owner, family.type);
    const page = paginate(
      applyFilters(records, input.filters, family.filters, family.listOperation, (r, key, values) => values.has(String(r.data[key] ?? ''))),
      { maxResults: input.maxResults as number | undefined, nextToken: str(input.nextToken) },
      queryFingerprint([ctx.operation, ctx.accountId, ctx.region, owner, input.filters ?? null]),
    );
    return { [family.listField]: page.items.map((r) => family.toSummary(r)), nextToken: page.nextToken };
  };
}

/** Pipelines of the account that build this recipe; they hold it by its exact ARN. */
async function pipelinesUsing(store: Store, record: ResourceRecord): Promise<string[]> {
  const pipelines = await store.listResources({ accountId: record.accountId, region: record.region, type: 'image-pipeline' });
  return pipelines.filter((p) => PIPELINE_REFERENCES.some((k) => p.data[k] === record.arn)).map((p) => p.arn);
}

function remove(store: Store, family: RecipeFamily): OperationHandler {
  return async (input, ctx) => {
    const text = input[family.arnField];
    const { arn } = recipeArn(family, text, true);
    if (arn.region !== ctx.region || arn.owner !== ctx.accountId) throw notVisible(family, text, ctx);
    const target = versionedArn(arn.region, arn.owner, family.type, arn.name, arn.version);
    const record = await store.getResource(target);
    if (!record) throw notVisible(family, text, ctx);
    const users = await pipelinesUsing(store, record);
    if (users.length > 0) {
      throw new KilnError('DependencyExists', `The ${family.noun} ${target} is used by the image pipeline(s) ${users.join(', ')}; change or delete them first.`);
    }
    if (!(await store.deleteResource(target))) throw notVisible(family, text, ctx);
    return { [family.arnField]: target };
  };
}

function familyHandlers(store: Store, family: RecipeFamily): Record<string, OperationHandler> {
  const [create_, get_, list_, delete_] = family.operations;
  return { [create_]: create(store, family), [get_]: get(store, family), [list_]: list(store, family), [delete_]: remove(store, family) };
}

/** Operations on image recipes and container recipes: Create, Get, List and Delete of each. */
export function recipeHandlers(store: Store): Record<string, OperationHandler> {
  return { ...familyHandlers(store, imageRecipeFamily), ...familyHandlers(store, containerRecipeFamily) };
}
