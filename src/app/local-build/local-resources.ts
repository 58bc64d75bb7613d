/**
 * The resources a `kiln build` needs in the local engine, made through the stock SDK against its loopback API (the
 * same validation as any client): components, the recipe, an infrastructure configuration, then CreateImage.
 *
 * The data directory outlives a build and versions cannot be created twice, so a resource is reused when the same
 * input was stored before (the tag `kiln:build-input` holds the sha256 of what made it), and a changed input under a
 * taken name and version is stored as the next free patch version. Reuse keeps component build ARNs stable across
 * runs, which the step cache keys on: an unchanged rebuild hits it, a changed component misses from that one on.
 */
import { createHash } from 'node:crypto';
import {
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateImageCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  GetComponentCommand,
  GetContainerRecipeCommand,
  GetImageRecipeCommand,
  ImagebuilderClient,
  ListComponentsCommand,
  ListContainerRecipesCommand,
  ListImageRecipesCommand,
  ListInfrastructureConfigurationsCommand,
  TagResourceCommand,
  type Component,
  type Platform,
} from '@aws-sdk/client-imagebuilder';
import { formatArn, parseArn } from '../../domain/arn.js';
import { canonicalJson } from '../../artifacts/oci/image.js';
import { parseSemver } from '../../domain/semver.js';
import { KILN_MANAGED_OWNER } from '../../store/visibility.js';
import { applyParameters, BuildInputError, type LocalComponentFile, type RecipeComponent, type RecipeFile } from './inputs.js';
import type { LocalEngine } from './local-engine.js';

/** The tag that turns the step cache on for a recipe (issue 16's engine contract). */
export const CACHE_TAG = 'kiln:cache';
/** The tag holding the sha256 of the input a resource was made from, so a later run can reuse it. */
const INPUT_TAG = 'kiln:build-input';
/** The infrastructure configuration every local build runs with. */
const INFRA_NAME = 'kiln-build';

/** What to build. */
export interface LocalBuildRequest {
  recipe: RecipeFile;
  components: readonly LocalComponentFile[];
  parameters: ReadonlyMap<string, string>;
  cache: boolean;
  tests: boolean;
  /** A Kiln to fetch components of other accounts from (their ARNs in the recipe); the SDK's usual credentials. */
  endpointUrl?: string;
  signal?: AbortSignal;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The SDK error's message, without the SDK's class name. */
function message(err: unknown): string {
  return (err as Error).message ?? String(err);
}

/** The local engine's SDK client, signed with its admin keys. */
export function localClient(engine: LocalEngine): ImagebuilderClient {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new ImagebuilderClient({ endpoint: engine.server.endpoint, region: engine.region, credentials: engine.credentials, maxAttempts: 1 });
}

/** The version to store a changed input under: `wanted` when free, else the next patch after the highest of its major.minor. */
function freeVersion(wanted: string, taken: readonly string[]): string {
  if (!taken.includes(wanted)) return wanted;
  const w = parseSemver(wanted)!;
  const patches = taken.map((v) => parseSemver(v)).filter((v) => v !== undefined && v.major === w.major && v.minor === w.minor).map((v) => v!.patch);
  return `${w.major}.${w.minor}.${Math.max(w.patch, ...patches) + 1}`;
}

/** Every page of a List call's items. */
async function listAll<T>(page: (nextToken: string | undefined) => Promise<{ items: T[] | undefined; nextToken: string | undefined }>): Promise<T[]> {
  const all: T[] = [];
  let token: string | undefined;
  do {
    const p = await page(token);
    all.push(...(p.items ?? []));
    token = p.nextToken;
  } while (token);
  return all;
}

/** A component of the caller's made from `data` (reused when stored before); its build ARN and declared parameter names. */
async function ensureComponent(client: ImagebuilderClient, input: { name: string; version: string; data: string; platform: string; description?: string }, signal?: AbortSignal): Promise<{ arn: string; parameters: string[] }> {
  const fingerprint = sha256(canonicalJson({ data: input.data, platform: input.platform }));
  const versions = (
    await listAll((nextToken) => client.send(new ListComponentsCommand({ owner: 'Self', nextToken }), { abortSignal: signal }).then((r) => ({ items: r.componentVersionList, nextToken: r.nextToken })))
  ).filter((v) => v.name === input.name);
  for (const v of versions) {
    const { component } = await client.send(new GetComponentCommand({ componentBuildVersionArn: `${v.arn}/1` }), { abortSignal: signal });
    if (component?.tags?.[INPUT_TAG] === fingerprint) return { arn: component.arn!, parameters: (component.parameters ?? []).map((p) => p.name!) };
  }
  const semanticVersion = freeVersion(input.version, versions.map((v) => v.version!));
  const created = await client.send(
    new CreateComponentCommand({ name: input.name, semanticVersion, platform: input.platform as Platform, data: input.data, ...(input.description ? { description: input.description } : {}), tags: { [INPUT_TAG]: fingerprint } }),
    { abortSignal: signal },
  );
  const { component } = await client.send(new GetComponentCommand({ componentBuildVersionArn: created.componentBuildVersionArn }), { abortSignal: signal });
  return { arn: created.componentBuildVersionArn!, parameters: (component?.parameters ?? []).map((p) => p.name!) };
}

/** A component of another account, read from the Kiln at `endpointUrl` (GetComponent → data). */
async function fetchRemoteComponent(endpointUrl: string, arn: string, region: string, field: string, signal?: AbortSignal): Promise<Component> {
  const remote = new ImagebuilderClient({ endpoint: endpointUrl, region, maxAttempts: 2 });
  try {
    const { component } = await remote.send(new GetComponentCommand({ componentBuildVersionArn: arn }), { abortSignal: signal });
    if (!component?.data) throw new BuildInputError(`${field}: the Kiln at ${endpointUrl} returned no document for ${arn}`);
    return component;
  } catch (err) {
    if (err instanceof BuildInputError) throw err;
    throw new BuildInputError(`${field}: cannot fetch ${arn} from ${endpointUrl}: ${message(err)}`);
  } finally {
    remote.destroy();
  }
}

/**
 * The recipe's components as local build ARNs, in order: the recipe's own (Amazon- or Kiln-managed ones as they are,
 * in the local region; others fetched from `endpointUrl` and stored), then the `--component` files.
 */
async function resolveComponents(client: ImagebuilderClient, engine: LocalEngine, request: LocalBuildRequest): Promise<{ components: RecipeComponent[]; declared: string[][] }> {
  const components: RecipeComponent[] = [];
  const declared: string[][] = [];
  const entries = request.recipe.request.components as RecipeComponent[];
  for (const [i, entry] of entries.entries()) {
    const field = `recipe.components[${i}].componentArn`;
    const arn = parseArn(entry.componentArn);
    if (!arn || arn.resourceType !== 'component' || arn.version === undefined) throw new BuildInputError(`${field}: not a component ARN (arn:aws:imagebuilder:REGION:OWNER:component/NAME/VERSION): ${entry.componentArn}`);
    if (arn.owner === KILN_MANAGED_OWNER) {
      const local = formatArn({ ...arn, region: engine.region });
      try {
        const { component } = await client.send(new GetComponentCommand({ componentBuildVersionArn: local }), { abortSignal: request.signal });
        components.push({ ...entry, componentArn: local });
        declared.push((component?.parameters ?? []).map((p) => p.name!));
      } catch (err) {
        throw new BuildInputError(`${field}: ${message(err)}`);
      }
      continue;
    }
    if (request.endpointUrl === undefined) throw new BuildInputError(`${field}: ${entry.componentArn} belongs to account ${arn.owner}; give --endpoint-url of the Kiln that has it, or the document as a --component file`);
    const remote = await fetchRemoteComponent(request.endpointUrl, entry.componentArn, arn.region, field, request.signal);
    const made = await ensureComponent(client, { name: remote.name!, version: remote.version!, data: remote.data!, platform: remote.platform ?? 'Linux', ...(remote.description ? { description: remote.description } : {}) }, request.signal).catch((err: unknown) => {
      throw new BuildInputError(`${field}: ${message(err)}`);
    });
    components.push({ ...entry, componentArn: made.arn });
    declared.push(made.parameters);
  }
  for (const file of request.components) {
    const made = await ensureComponent(client, { name: file.name, version: '1.0.0', data: file.data, platform: 'Linux' }, request.signal).catch((err: unknown) => {
      throw new BuildInputError(`${file.label}: ${message(err)}`);
    });
    components.push({ componentArn: made.arn });
    declared.push(made.parameters);
  }
  return { components, declared };
}

/** The recipe (reused when the same request was stored before), tagged with the cache switch; its ARN. */
async function ensureRecipe(client: ImagebuilderClient, recipe: RecipeFile, components: RecipeComponent[], cache: boolean, signal?: AbortSignal): Promise<string> {
  const { name, semanticVersion, tags, ...rest } = recipe.request as { name: string; semanticVersion: string; tags?: Record<string, string> } & Record<string, unknown>;
  const userTags = Object.fromEntries(Object.entries(tags ?? {}).filter(([k]) => k !== CACHE_TAG && k !== INPUT_TAG));
  const fingerprint = sha256(canonicalJson({ kind: recipe.kind, ...rest, components, tags: userTags }));
  const cacheValue = String(cache);
  const container = recipe.kind === 'container';
  const versions = await listAll((nextToken) =>
    container
      ? client.send(new ListContainerRecipesCommand({ owner: 'Self', nextToken }), { abortSignal: signal }).then((r) => ({ items: r.containerRecipeSummaryList, nextToken: r.nextToken }))
      : client.send(new ListImageRecipesCommand({ owner: 'Self', nextToken }), { abortSignal: signal }).then((r) => ({ items: r.imageRecipeSummaryList, nextToken: r.nextToken })),
  );
  const same = versions.filter((v) => v.name === name);
  for (const v of same) {
    const got = container
      ? (await client.send(new GetContainerRecipeCommand({ containerRecipeArn: v.arn }), { abortSignal: signal })).containerRecipe
      : (await client.send(new GetImageRecipeCommand({ imageRecipeArn: v.arn }), { abortSignal: signal })).imageRecipe;
    if (got?.tags?.[INPUT_TAG] !== fingerprint) continue;
    if (got.tags[CACHE_TAG] !== cacheValue) await client.send(new TagResourceCommand({ resourceArn: got.arn, tags: { [CACHE_TAG]: cacheValue } }), { abortSignal: signal });
    return got.arn!;
  }
  const taken = same.map((v) => v.arn!.split('/').pop()!);
  const input = { ...rest, name, semanticVersion: freeVersion(semanticVersion, taken), components, tags: { ...userTags, [CACHE_TAG]: cacheValue, [INPUT_TAG]: fingerprint } };
  try {
    if (container) return (await client.send(new CreateContainerRecipeCommand(input as never), { abortSignal: signal })).containerRecipeArn!;
    return (await client.send(new CreateImageRecipeCommand(input as never), { abortSignal: signal })).imageRecipeArn!;
  } catch (err) {
    throw new BuildInputError(`recipe: ${message(err)}`);
  }
}

/** The infrastructure configuration of local builds (an ns instance), made once per data directory. */
async function ensureInfrastructure(client: ImagebuilderClient, signal?: AbortSignal): Promise<string> {
  const list = await client.send(new ListInfrastructureConfigurationsCommand({ filters: [{ name: 'name', values: [INFRA_NAME] }] }), { abortSignal: signal });
  const found = list.infrastructureConfigurationSummaryList?.find((c) => c.name === INFRA_NAME);
  if (found?.arn) return found.arn;
  const created = await client.send(new CreateInfrastructureConfigurationCommand({ name: INFRA_NAME, instanceProfileName: 'kiln', instanceTypes: ['ns.medium'], description: 'kiln build' }), { abortSignal: signal });
  return created.infrastructureConfigurationArn!;
}

/** An Amazon- or Kiln-managed image ARN names the same base in the local region, whatever region the recipe was written for. */
function localParent(parentImage: unknown, region: string): unknown {
  const arn = typeof parentImage === 'string' ? parseArn(parentImage) : undefined;
  return arn && arn.owner === KILN_MANAGED_OWNER && arn.resourceType === 'image' ? formatArn({ ...arn, region }) : parentImage;
}

/** Makes (or reuses) what the build needs and starts it with CreateImage; the image build version ARN. */
export async function createLocalImage(engine: LocalEngine, client: ImagebuilderClient, request: LocalBuildRequest): Promise<string> {
  const { components, declared } = await resolveComponents(client, engine, request);
  const recipe: RecipeFile = { ...request.recipe, request: { ...request.recipe.request, parentImage: localParent(request.recipe.request.parentImage, engine.region) } };
  if (components.length === 0) throw new BuildInputError('recipe.components: the recipe has no component; add componentArn entries or --component files');
  const withParameters = applyParameters(components, declared, request.parameters);
  const recipeArn = await ensureRecipe(client, recipe, withParameters, request.cache, request.signal);
  const infrastructureConfigurationArn = await ensureInfrastructure(client, request.signal);
  const created = await client.send(
    new CreateImageCommand({
      ...(recipe.kind === 'container' ? { containerRecipeArn: recipeArn } : { imageRecipeArn: recipeArn }),
      infrastructureConfigurationArn,
      imageTestsConfiguration: { imageTestsEnabled: request.tests },
    }),
    { abortSignal: request.signal },
  );
  return created.imageBuildVersionArn!;
}
