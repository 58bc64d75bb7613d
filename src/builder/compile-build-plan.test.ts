import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../app/server-start.js';
import { isKilnError } from '../domain/errors.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { compileBuildPlan } from './compile-build-plan.js';
import { planKey } from './stages/build-plan.js';
import type { BuildPlan } from './stages/image-record.js';

const ACCOUNT = '111122223333';
const REGION = 'local';
const arnOf = (type: string, name: string, version: string) => `arn:aws:imagebuilder:${REGION}:${ACCOUNT}:${type}/${name}/${version}`;
const DOC = 'name: hello\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: s\n        action: ExecuteBash\n        inputs:\n          commands: ["true"]\n';
const TEMPLATE = 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}\n';

function openTestStore(t: TestContext): Store {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-plan-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openStore(dir);
  t.after(() => store.close());
  return store;
}

async function component(store: Store, name: string, version: string, document: string): Promise<ResourceRecord> {
  const { record } = await store.createResource({ accountId: ACCOUNT, region: REGION, type: 'component', name, version, arn: arnOf('component', name, version), build: 'assign', data: { name, version, type: 'BUILD', platform: 'Linux', data: document } });
  return record;
}

async function image(store: Store, recipe: Record<string, unknown>): Promise<ResourceRecord> {
  const { record } = await store.createResource({
    accountId: ACCOUNT,
    region: REGION,
    type: 'image',
    name: 'web',
    version: '1.0.0',
    arn: arnOf('image', 'web', '1.0.0'),
    build: 'assign',
    data: {
      type: 'DOCKER',
      platform: 'Linux',
      state: { status: 'CREATING' },
      containerRecipe: { arn: arnOf('container-recipe', 'web', '1.0.0'), dockerfileTemplateData: TEMPLATE, ...recipe },
      infrastructureConfiguration: { instanceTypes: ['ns.small'] },
    },
  });
  return record;
}

test('compileBuildPlan resolves a wildcard component to its newest build and stores the plan, from store reads', async (t) => {
  const store = openTestStore(t);
  await component(store, 'hello', '1.0.0', 'old');
  const newest = await component(store, 'hello', '1.2.0', DOC);
  await component(store, 'hello', '2.0.0', 'another major');
  const built = await image(store, {
    parentImage: 'registry.example/base:12',
    components: [{ componentArn: arnOf('component', 'hello', '1.x.x'), parameters: [{ name: 'greeting', value: ['a', 'b'] }] }],
    workingDirectory: '/work',
  });

  const compiled = await compileBuildPlan(store, built);
  assert.equal(compiled.kind, 'container');
  const { plan } = compiled.compiled;
  assert.deepEqual(plan.components, [{ requested: arnOf('component', 'hello', '1.x.x'), arn: newest.arn, type: 'BUILD', sha256: createHash('sha256').update(DOC).digest('hex'), parameters: { greeting: 'a,b' } }]);
  assert.equal(compiled.compiled.components[0]!.document, DOC, 'the stages get the document with the plan');
  assert.deepEqual(plan.parent, { requested: 'registry.example/base:12', resolved: 'registry.example/base:12', manifestDigest: '', source: 'registry' }, 'a tag is pinned when the parent is materialized');
  assert.deepEqual(plan.recipe, { arn: arnOf('container-recipe', 'web', '1.0.0'), workingDirectory: '/work', dockerfileTemplateSha256: createHash('sha256').update(TEMPLATE).digest('hex') });
  assert.equal(plan.instanceType, 'ns.small');
  assert.deepEqual((await store.getResource(built.arn))!.data.buildPlan, plan, 'the plan is on the image before the build starts');
  assert.throws(() => planKey(plan), /not pinned/);
});

test('a missing component fails the compile with the field named, and no plan is stored', async (t) => {
  const store = openTestStore(t);
  await component(store, 'present', '1.0.0', DOC);
  const built = await image(store, {
    parentImage: 'registry.example/base:12',
    components: [{ componentArn: arnOf('component', 'present', '1.x.x') }, { componentArn: arnOf('component', 'absent', '1.x.x') }],
  });
  await assert.rejects(compileBuildPlan(store, built), (err: unknown) => {
    assert.ok(isKilnError(err) && err.kind === 'InvalidArgument', String(err));
    assert.match(err.message, /components\[1\]\.componentArn: .*component\/absent\/1\.x\.x names a component that does not exist/);
    assert.doesNotMatch(err.message, /components\[0\]/);
    return true;
  });
  assert.equal((await store.getResource(built.arn))!.data.buildPlan, undefined);
});

test('an image parent is pinned from its record at compile time, and the plan key depends on content, not field order', async (t) => {
  const store = openTestStore(t);
  const digest = `sha256:${'a'.repeat(64)}`;
  const { record: parent } = await store.createResource({
    accountId: ACCOUNT,
    region: REGION,
    type: 'image',
    name: 'base',
    version: '1.0.0',
    arn: arnOf('image', 'base', '1.0.0'),
    build: 'assign',
    data: { type: 'DOCKER', state: { status: 'AVAILABLE' }, containerImage: { manifestDigest: digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', configDigest: digest } },
  });
  const built = await image(store, { parentImage: arnOf('image', 'base', 'x.x.x'), components: [] });
  const { plan } = (await compileBuildPlan(store, built)).compiled;
  assert.deepEqual(plan.parent, { requested: arnOf('image', 'base', 'x.x.x'), resolved: parent.arn, manifestDigest: digest, source: 'image' });
  const reordered = Object.fromEntries(Object.entries(plan).reverse()) as unknown as BuildPlan;
  assert.match(planKey(plan), /^[0-9a-f]{64}$/);
  assert.equal(planKey(reordered), planKey(plan));
  assert.notEqual(planKey({ ...plan, instanceType: 'ns.large' }), planKey(plan));
});

test('an unknown instance type, or a vm type for a container build, fails the compile naming instanceTypes[0]', async (t) => {
  const store = openTestStore(t);
  const built = await image(store, { parentImage: 'registry.example/base:12', components: [] });
  await store.updateResource(built.arn, (c) => ({ ...c.data, infrastructureConfiguration: { instanceTypes: ['m9.gigantic'] } }));
  await assert.rejects(compileBuildPlan(store, (await store.getResource(built.arn))!), /instanceTypes\[0\] m9\.gigantic/);
  await store.updateResource(built.arn, (c) => ({ ...c.data, infrastructureConfiguration: { instanceTypes: ['vm.small'] } }));
  await assert.rejects(compileBuildPlan(store, (await store.getResource(built.arn))!), /instanceTypes\[0\] vm\.small needs the vm driver, which does not build container images/);
});

test('the step cache is on when the recipe or the pipeline says kiln:cache=true; the pipeline\'s tag wins', async (t) => {
  const store = openTestStore(t);
  const plain = await image(store, { parentImage: 'registry.example/base:12', components: [] });
  assert.equal((await compileBuildPlan(store, plain)).compiled.plan.stepCache, undefined, 'off by default');

  const tagged = await image(store, { parentImage: 'registry.example/base:12', components: [], tags: { 'kiln:cache': 'True' } });
  assert.equal((await compileBuildPlan(store, tagged)).compiled.plan.stepCache, true);
  const off = await image(store, { parentImage: 'registry.example/base:12', components: [], tags: { 'kiln:cache': 'false' } });
  assert.equal((await compileBuildPlan(store, off)).compiled.plan.stepCache, undefined);

  const pipelineArn = `arn:aws:imagebuilder:${REGION}:${ACCOUNT}:image-pipeline/nightly`;
  await store.createResource({ accountId: ACCOUNT, region: REGION, type: 'image-pipeline', name: 'nightly', version: '', arn: pipelineArn, data: { name: 'nightly', tags: { 'kiln:cache': 'false' } }, build: 'none' });
  const run = await image(store, { parentImage: 'registry.example/base:12', components: [], tags: { 'kiln:cache': 'true' } });
  const fromPipeline = await store.updateResource(run.arn, (r) => ({ ...r.data, sourcePipelineArn: pipelineArn }));
  assert.equal((await compileBuildPlan(store, fromPipeline)).compiled.plan.stepCache, undefined, 'the pipeline turned it off');
});
