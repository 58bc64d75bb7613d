/**
 * The step cache (issue 16, ADR 0013) through real container builds on a host base: off by default (every
 * component runs again), on with the recipe's tag `kiln:cache`; what hits, what misses, and that a failed or
 * cancelled unit leaves nothing a later build could trust. Needs root.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  CancelImageCreationCommand,
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateImageCommand,
  CreateInfrastructureConfigurationCommand,
  GetWorkflowStepExecutionCommand,
  ListWorkflowExecutionsCommand,
  ListWorkflowStepExecutionsCommand,
  type GetWorkflowStepExecutionCommandOutput,
} from '@aws-sdk/client-imagebuilder';
import { bashComponent, buildSkipReason, hostLeftovers, pushHostBase, run, startBuildServer, waitForImage, type BuildServer } from './helpers.js';

const skip = buildSkipReason();
const TEMPLATE = ['FROM {{{ imagebuilder:parentImage }}}', 'RUN ["/bin/bash", "-c", "echo one > /one.txt"]', '{{{ imagebuilder:components }}}', 'ENV DONE=1'].join('\n');
let counter = 0;

interface Setup {
  kiln: BuildServer;
  base: string;
  infra: string;
}

async function setUp(t: TestContext): Promise<Setup> {
  const kiln = await startBuildServer(t);
  const base = await pushHostBase(t, kiln, 'cache/base');
  const infra = (await kiln.client.send(new CreateInfrastructureConfigurationCommand({ name: `infra-${++counter}`, instanceProfileName: 'kiln', instanceTypes: ['ns.small'] }))).infrastructureConfigurationArn!;
  return { kiln, base, infra };
}

async function component(setup: Setup, name: string, version: string, build: string[], parameters: Record<string, string> = {}): Promise<string> {
  const data = bashComponent({ build, test: ['true'] }, parameters);
  return (await setup.kiln.client.send(new CreateComponentCommand({ name, semanticVersion: version, platform: 'Linux', data }))).componentBuildVersionArn!;
}

async function recipe(setup: Setup, components: { componentArn: string; parameters?: { name: string; value: string[] }[] }[], options: { cache?: string; parent?: string; name?: string; version?: string } = {}): Promise<string> {
  const out = await setup.kiln.client.send(
    new CreateContainerRecipeCommand({
      containerType: 'DOCKER',
      name: options.name ?? `recipe-${++counter}`,
      semanticVersion: options.version ?? '1.0.0',
      parentImage: options.parent ?? setup.base,
      targetRepository: { service: 'ECR', repositoryName: 'cache/out' },
      components,
      dockerfileTemplateData: TEMPLATE,
      ...(options.cache === undefined ? {} : { tags: { 'kiln:cache': options.cache } }),
    }),
  );
  return out.containerRecipeArn!;
}

interface Built {
  arn: string;
  status: string;
  reason: string;
  apply: GetWorkflowStepExecutionCommandOutput;
  layers: string[];
}

/** Builds the recipe to a final state; the ApplyBuildComponents step, its log and the output's layer digests. */
async function build(setup: Setup, recipeArn: string, cancelAfterMs?: number): Promise<Built> {
  const { client } = setup.kiln;
  const arn = (await client.send(new CreateImageCommand({ containerRecipeArn: recipeArn, infrastructureConfigurationArn: setup.infra }))).imageBuildVersionArn!;
  if (cancelAfterMs !== undefined) {
    await waitForImage(client, arn, { until: (i) => i.state?.status === 'BUILDING' });
    await new Promise((r) => setTimeout(r, cancelAfterMs));
    await client.send(new CancelImageCreationCommand({ imageBuildVersionArn: arn }));
  }
  const image = await waitForImage(client, arn, { timeoutMs: 120_000 });
  const wfs = (await client.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: arn }))).workflowExecutions ?? [];
  const buildWf = wfs.find((w) => w.type === 'BUILD')!;
  const steps = (await client.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: buildWf.workflowExecutionId }))).steps ?? [];
  const applyStep = steps.find((s) => s.name === 'ApplyBuildComponents')!;
  const apply = await client.send(new GetWorkflowStepExecutionCommand({ stepExecutionId: applyStep.stepExecutionId }));
  let layers: string[] = [];
  const uri = image.outputResources?.containers?.[0]?.imageUris?.[0];
  if (uri) {
    const creds = `${setup.kiln.credentials.accessKeyId}:${setup.kiln.credentials.secretAccessKey}`;
    layers = (JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, `docker://${uri}`])) as { Layers: string[] }).Layers;
  }
  return { arn, status: image.state?.status ?? '', reason: image.state?.reason ?? '', apply, layers };
}

function outputs(built: Built): { cachedComponents?: number; ranComponents?: number } {
  return JSON.parse(built.apply.outputs ?? '{}') as { cachedComponents?: number; ranComponents?: number };
}

test('the step cache is off by default: every component runs again and makes new layers', { skip }, async (t) => {
  const setup = await setUp(t);
  const stamp = await component(setup, 'stamp', '1.0.0', ['echo $RANDOM$RANDOM$RANDOM > /stamp.txt']);
  const arn = await recipe(setup, [{ componentArn: stamp }]);
  const first = await build(setup, arn);
  const second = await build(setup, arn);
  assert.equal(first.status, 'AVAILABLE', first.reason);
  assert.equal(second.status, 'AVAILABLE', second.reason);
  assert.equal(outputs(second).cachedComponents, undefined);
  assert.equal(first.layers.length, 2, 'one layer for the build, on the base');
  assert.notEqual(first.layers.at(-1), second.layers.at(-1), 'the component ran again');
  assert.deepEqual(hostLeftovers(setup.kiln.dataDir), []);
});

test('with kiln:cache an unchanged rebuild runs no unit and keeps its layers; a new last component runs alone', { skip }, async (t) => {
  const setup = await setUp(t);
  const a = await component(setup, 'comp-a', '1.0.0', ['echo $RANDOM$RANDOM$RANDOM > /a.txt']);
  const b = await component(setup, 'comp-b', '1.0.0', ['echo $RANDOM$RANDOM$RANDOM > /b.txt'], { word: 'x' });
  const name = `cached-${++counter}`;
  const arn = await recipe(setup, [{ componentArn: a }, { componentArn: b }], { cache: 'true', name });

  const first = await build(setup, arn);
  assert.equal(first.status, 'AVAILABLE', first.reason);
  assert.deepEqual(outputs(first), { status: 'Success', cachedComponents: 0, ranComponents: 2, cachedUnits: 0, ranUnits: 3 });
  assert.equal(first.layers.length, 4, 'the base, the RUN line, and one layer per component');

  const again = await build(setup, arn);
  assert.equal(again.status, 'AVAILABLE', again.reason);
  assert.deepEqual(outputs(again), { status: 'Success', cachedComponents: 2, ranComponents: 0, cachedUnits: 3, ranUnits: 0 });
  assert.deepEqual(again.layers, first.layers, 'the same layers, byte for byte');
  assert.match(again.apply.message ?? '', /cached: 3 of 3/);

  // A new version of the last component: only it runs.
  const b2 = await component(setup, 'comp-b', '1.0.1', ['echo $RANDOM$RANDOM$RANDOM > /b.txt; echo two >> /b.txt'], { word: 'x' });
  const changed = await build(setup, await recipe(setup, [{ componentArn: a }, { componentArn: b2 }], { cache: 'true', name, version: '1.0.1' }));
  assert.equal(changed.status, 'AVAILABLE', changed.reason);
  assert.deepEqual([outputs(changed).cachedComponents, outputs(changed).ranComponents], [1, 1]);
  assert.deepEqual(changed.layers.slice(0, 3), first.layers.slice(0, 3));
  assert.notEqual(changed.layers[3], first.layers[3]);

  // Another parameter value misses from that component on.
  const param = await build(setup, await recipe(setup, [{ componentArn: a }, { componentArn: b, parameters: [{ name: 'word', value: ['y'] }] }], { cache: 'true', name, version: '1.0.2' }));
  assert.deepEqual([outputs(param).cachedComponents, outputs(param).ranComponents], [1, 1]);

  // Another parent (same files, another date: another digest) misses everything.
  const parent = await pushHostBase(t, setup.kiln, 'cache/base', '2', '2024-01-01T00:00:00Z');
  const moved = await build(setup, await recipe(setup, [{ componentArn: a }, { componentArn: b }], { cache: 'true', name, version: '1.0.3', parent }));
  assert.equal(moved.status, 'AVAILABLE', moved.reason);
  assert.deepEqual(outputs(moved), { status: 'Success', cachedComponents: 0, ranComponents: 2, cachedUnits: 0, ranUnits: 3 });
  assert.deepEqual(hostLeftovers(setup.kiln.dataDir), []);
});

test('a failed or cancelled component leaves no cache entry: the next build runs it again', { skip }, async (t) => {
  const setup = await setUp(t);
  const a = await component(setup, 'fine', '1.0.0', ['echo fine > /ok.txt']);
  const bad = await component(setup, 'bad', '1.0.0', ['echo partial > /partial.txt', 'exit 3']);
  const failing = await recipe(setup, [{ componentArn: a }, { componentArn: bad }], { cache: 'true' });
  const first = await build(setup, failing);
  assert.equal(first.status, 'FAILED');
  const second = await build(setup, failing);
  assert.equal(second.status, 'FAILED', 'the failed component was not cached');
  const steps = await setup.kiln.client.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: second.apply.workflowExecutionId }));
  assert.ok(steps.steps?.some((s) => s.name === 'ApplyBuildComponents' && s.status === 'FAILED'));

  const slow = await component(setup, 'slow', '1.0.0', ['sleep 4', 'echo slow > /slow.txt']);
  const slowRecipe = await recipe(setup, [{ componentArn: a }, { componentArn: slow }], { cache: 'true' });
  const cancelled = await build(setup, slowRecipe, 1500);
  assert.equal(cancelled.status, 'CANCELLED');
  const after = await build(setup, slowRecipe);
  assert.equal(after.status, 'AVAILABLE', after.reason);
  assert.deepEqual([outputs(after).cachedComponents, outputs(after).ranComponents], [1, 1], 'the cancelled component ran again');
  assert.deepEqual(hostLeftovers(setup.kiln.dataDir), []);
});
