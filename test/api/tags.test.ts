import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateComponentCommand,
  CreateDistributionConfigurationCommand,
  CreateImagePipelineCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  CreateLifecyclePolicyCommand,
  CreateWorkflowCommand,
  GetComponentCommand,
  GetDistributionConfigurationCommand,
  GetImagePipelineCommand,
  GetImageRecipeCommand,
  GetInfrastructureConfigurationCommand,
  GetLifecyclePolicyCommand,
  GetWorkflowCommand,
  InvalidParameterException,
  ListTagsForResourceCommand,
  ResourceNotFoundException,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateInfrastructureConfigurationCommand,
  UpdateLifecyclePolicyCommand,
  type ImagebuilderClient,
} from '@aws-sdk/client-imagebuilder';
import { openStore } from '../../src/app/server-start.js';
import { createAccount } from '../../src/service/accounts.js';
import { startFixture } from './fixture.js';

const COMPONENT = 'schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Hello\n        action: ExecuteBash\n        inputs:\n          commands: [echo hello]\n';
const WORKFLOW = 'schemaVersion: 1.0\nsteps:\n  - name: Wait\n    action: WaitForAction\n';

/** One resource of every family the API can create today, each created with a `team` tag. */
async function createAll(ib: ImagebuilderClient): Promise<{ arn: string; get: () => Promise<Record<string, string> | undefined> }[]> {
  const tags = { team: 'a' };
  const component = (await ib.send(new CreateComponentCommand({ name: 'tagged', semanticVersion: '1.0.0', platform: 'Linux', data: COMPONENT, tags }))).componentBuildVersionArn!;
  const recipe = (await ib.send(new CreateImageRecipeCommand({ name: 'tagged', semanticVersion: '1.0.0', parentImage: 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x', components: [{ componentArn: component }], tags }))).imageRecipeArn!;
  const infra = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'tagged', instanceProfileName: 'Profile', tags }))).infrastructureConfigurationArn!;
  const dist = (await ib.send(new CreateDistributionConfigurationCommand({ name: 'tagged', distributions: [{ region: 'local', amiDistributionConfiguration: { name: 'x-{{ imagebuilder:buildDate }}' } }], tags }))).distributionConfigurationArn!;
  const pipeline = (await ib.send(new CreateImagePipelineCommand({ name: 'tagged', imageRecipeArn: recipe, infrastructureConfigurationArn: infra, tags }))).imagePipelineArn!;
  const workflow = (await ib.send(new CreateWorkflowCommand({ name: 'tagged', semanticVersion: '1.0.0', type: 'TEST', data: WORKFLOW, tags }))).workflowBuildVersionArn!;
  const policy = (
    await ib.send(
      new CreateLifecyclePolicyCommand({
        name: 'tagged',
        executionRole: 'LifecycleRole',
        resourceType: 'AMI_IMAGE',
        policyDetails: [{ action: { type: 'DELETE' }, filter: { type: 'COUNT', value: 3 } }],
        resourceSelection: { tagMap: { env: 'dev' } },
        tags,
      }),
    )
  ).lifecyclePolicyArn!;
  return [
    { arn: component, get: async () => (await ib.send(new GetComponentCommand({ componentBuildVersionArn: component }))).component?.tags },
    { arn: recipe, get: async () => (await ib.send(new GetImageRecipeCommand({ imageRecipeArn: recipe }))).imageRecipe?.tags },
    { arn: infra, get: async () => (await ib.send(new GetInfrastructureConfigurationCommand({ infrastructureConfigurationArn: infra }))).infrastructureConfiguration?.tags },
    { arn: dist, get: async () => (await ib.send(new GetDistributionConfigurationCommand({ distributionConfigurationArn: dist }))).distributionConfiguration?.tags },
    { arn: pipeline, get: async () => (await ib.send(new GetImagePipelineCommand({ imagePipelineArn: pipeline }))).imagePipeline?.tags },
    { arn: workflow, get: async () => (await ib.send(new GetWorkflowCommand({ workflowBuildVersionArn: workflow }))).workflow?.tags },
    { arn: policy, get: async () => (await ib.send(new GetLifecyclePolicyCommand({ lifecyclePolicyArn: policy }))).lifecyclePolicy?.tags },
  ];
}

test('tags: tag, list, untag on every resource family; Get shows the same tags', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  for (const { arn, get } of await createAll(ib)) {
    assert.deepEqual((await ib.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags, { team: 'a' }, `${arn}: tags from create`);
    await ib.send(new TagResourceCommand({ resourceArn: arn, tags: { env: 'dev', team: 'b', empty: '' } }));
    assert.deepEqual((await ib.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags, { team: 'b', env: 'dev', empty: '' }, `${arn}: merged, overwritten`);
    assert.deepEqual(await get(), { team: 'b', env: 'dev', empty: '' }, `${arn}: Get reads the same tags`);
    await ib.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['team', 'never-set'] }));
    assert.deepEqual((await ib.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags, { env: 'dev', empty: '' }, `${arn}: untagged; unknown keys are ignored`);
    await ib.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['env', 'empty'] }));
    assert.deepEqual((await ib.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags ?? {}, {}, `${arn}: no tags left`);
  }
});

test('tags survive updates of the resource', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const [, , infra, , , , policy] = await createAll(ib);
  await ib.send(new TagResourceCommand({ resourceArn: infra!.arn, tags: { extra: '1' } }));
  await ib.send(new UpdateInfrastructureConfigurationCommand({ infrastructureConfigurationArn: infra!.arn, instanceProfileName: 'Other' }));
  assert.deepEqual(await infra!.get(), { team: 'a', extra: '1' });
  await ib.send(new TagResourceCommand({ resourceArn: policy!.arn, tags: { extra: '1' } }));
  await ib.send(
    new UpdateLifecyclePolicyCommand({
      lifecyclePolicyArn: policy!.arn,
      executionRole: 'LifecycleRole',
      resourceType: 'AMI_IMAGE',
      policyDetails: [{ action: { type: 'DELETE' }, filter: { type: 'COUNT', value: 5 } }],
      resourceSelection: { tagMap: { env: 'prod' } },
    }),
  );
  assert.deepEqual(await policy!.get(), { team: 'a', extra: '1' });
});

test('tags: limits and parameter errors name the field', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const infra = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'limits', instanceProfileName: 'Profile' }))).infrastructureConfigurationArn!;
  const rejects = (p: Promise<unknown>, field: string) =>
    assert.rejects(p, (e: Error) => {
      assert.ok(e instanceof InvalidParameterException, `${e.name}: ${e.message}`);
      assert.ok(e.message.includes(field), `message names ${field}: ${e.message}`);
      return true;
    });
  const many = (n: number, prefix = 'k') => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, 'v']));

  await ib.send(new TagResourceCommand({ resourceArn: infra, tags: many(50) }));
  assert.equal(Object.keys((await ib.send(new ListTagsForResourceCommand({ resourceArn: infra }))).tags ?? {}).length, 50);
  await ib.send(new TagResourceCommand({ resourceArn: infra, tags: { k0: 'overwrite' } }));
  await rejects(ib.send(new TagResourceCommand({ resourceArn: infra, tags: { one: 'more' } })), 'tags');
  assert.equal(Object.keys((await ib.send(new ListTagsForResourceCommand({ resourceArn: infra }))).tags ?? {}).length, 50, 'a refused TagResource changes nothing');
  await ib.send(new UntagResourceCommand({ resourceArn: infra, tagKeys: Object.keys(many(50)) }));

  await rejects(ib.send(new TagResourceCommand({ resourceArn: infra, tags: many(51) })), 'tags');
  await rejects(ib.send(new TagResourceCommand({ resourceArn: infra, tags: {} })), 'tags');
  await rejects(ib.send(new TagResourceCommand({ resourceArn: infra, tags: { 'aws:owner': 'me' } })), 'tags.aws:owner');
  await rejects(ib.send(new TagResourceCommand({ resourceArn: infra, tags: { ['k'.repeat(129)]: 'v' } })), 'tags.kkk');
  await ib.send(new TagResourceCommand({ resourceArn: infra, tags: { ['k'.repeat(128)]: 'v'.repeat(256) } }));
  await rejects(ib.send(new TagResourceCommand({ resourceArn: infra, tags: { long: 'v'.repeat(257) } })), 'tags.long');
  await rejects(ib.send(new UntagResourceCommand({ resourceArn: infra, tagKeys: Object.keys(many(51)) })), 'tagKeys');
  await rejects(ib.send(new UntagResourceCommand({ resourceArn: infra, tagKeys: ['AWS:x'] })), 'tagKeys[0]');
  await rejects(ib.send(new ListTagsForResourceCommand({ resourceArn: 'arn:aws:s3:::bucket' })), 'resourceArn');
  await rejects(ib.send(new ListTagsForResourceCommand({ resourceArn: 'not-an-arn' })), 'resourceArn');
  assert.deepEqual((await ib.send(new ListTagsForResourceCommand({ resourceArn: infra }))).tags, { ['k'.repeat(128)]: 'v'.repeat(256) });
});

test('tags: unknown and foreign ARNs are not found, and foreign tags stay untouched', async (t) => {
  const f = await startFixture(t);
  const admin = f.client();
  const infra = (await admin.send(new CreateInfrastructureConfigurationCommand({ name: 'mine', instanceProfileName: 'Profile', tags: { owner: 'admin' } }))).infrastructureConfigurationArn!;
  const account = /:(\d{12}):/.exec(infra)![1]!;
  const missing = `arn:aws:imagebuilder:local:${account}:infrastructure-configuration/nope`;
  await assert.rejects(admin.send(new ListTagsForResourceCommand({ resourceArn: missing })), ResourceNotFoundException);
  await assert.rejects(admin.send(new TagResourceCommand({ resourceArn: missing, tags: { a: 'b' } })), ResourceNotFoundException);
  await assert.rejects(admin.send(new UntagResourceCommand({ resourceArn: missing, tagKeys: ['a'] })), ResourceNotFoundException);
  await assert.rejects(admin.send(new ListTagsForResourceCommand({ resourceArn: infra.replace(':local:', ':elsewhere:') })), ResourceNotFoundException, 'another region');
  await assert.rejects(admin.send(new ListTagsForResourceCommand({ resourceArn: `arn:aws:imagebuilder:local:${account}:component/mine/1.0.0/1` })), ResourceNotFoundException);

  const store = openStore(f.dataDir);
  const { key } = await createAccount(store, 'other');
  await store.close();
  const other = f.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
  await assert.rejects(other.send(new ListTagsForResourceCommand({ resourceArn: infra })), ResourceNotFoundException);
  await assert.rejects(other.send(new TagResourceCommand({ resourceArn: infra, tags: { owner: 'other' } })), ResourceNotFoundException);
  await assert.rejects(other.send(new UntagResourceCommand({ resourceArn: infra, tagKeys: ['owner'] })), ResourceNotFoundException);
  assert.deepEqual((await admin.send(new ListTagsForResourceCommand({ resourceArn: infra }))).tags, { owner: 'admin' });
});

test('tags: concurrent TagResource calls all land', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const infra = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'busy', instanceProfileName: 'Profile' }))).infrastructureConfigurationArn!;
  await Promise.all(Array.from({ length: 20 }, (_, i) => ib.send(new TagResourceCommand({ resourceArn: infra, tags: { [`k${i}`]: String(i) } }))));
  assert.equal(Object.keys((await ib.send(new ListTagsForResourceCommand({ resourceArn: infra }))).tags ?? {}).length, 20);
});
