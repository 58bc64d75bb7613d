import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateImagePipelineCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  DeleteComponentCommand,
  ForbiddenException,
  GetComponentCommand,
  GetComponentPolicyCommand,
  GetContainerRecipeCommand,
  GetContainerRecipePolicyCommand,
  GetImagePolicyCommand,
  GetImageRecipeCommand,
  GetImageRecipePolicyCommand,
  InvalidParameterValueException,
  ListComponentBuildVersionsCommand,
  ListComponentsCommand,
  ListContainerRecipesCommand,
  ListImageRecipesCommand,
  PutComponentPolicyCommand,
  PutContainerRecipePolicyCommand,
  PutImagePolicyCommand,
  PutImageRecipePolicyCommand,
  ResourceDependencyException,
  ResourceNotFoundException,
  type ImagebuilderClient,
} from '@aws-sdk/client-imagebuilder';
import { openStore } from '../../src/app/server-start.js';
import { MANAGED_COMPONENTS, managedComponentArn } from '../../src/domain/managed-components.js';
import { createAccount } from '../../src/service/accounts.js';
import { MAX_URI_DOCUMENT_BYTES } from '../../src/service/component-uri.js';
import { startLocalS3 } from '../helpers/s3rver.js';
import { startFixture, type Fixture } from './fixture.js';

const DOC = `schemaVersion: 1.0
parameters:
  - greeting:
      type: string
      default: hi
phases:
  - name: build
    steps:
      - name: Say
        action: ExecuteBash
        inputs:
          commands: ['echo {{ greeting }}']
`;

const DOCKERFILE = 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}\n';

interface Account {
  id: string;
  ib: ImagebuilderClient;
}

/** Creates accounts while the server runs, each with its own SDK client. */
async function accounts(f: Fixture, ...names: string[]): Promise<Account[]> {
  const store = openStore(f.dataDir);
  const out: Account[] = [];
  for (const name of names) {
    const { account, key } = await createAccount(store, name);
    out.push({ id: account.accountId, ib: f.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey }) });
  }
  await store.close();
  return out;
}

/** A RAM-style policy granting the given principals the given actions. */
function policy(principals: string | string[], actions: string[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: principals }, Action: actions, ...extra }] });
}

const COMPONENT_ACTIONS = ['imagebuilder:GetComponent', 'imagebuilder:ListComponents'];

/** Asserts an InvalidParameterValueException whose message names every given field path. */
function invalid(...paths: string[]) {
  return (e: Error) => {
    assert.ok(e instanceof InvalidParameterValueException, `${e.name}: ${e.message}`);
    for (const p of paths) assert.ok(e.message.includes(p), `message should name ${p}:\n${e.message}`);
    return true;
  };
}

function recipeInput(componentArn: string, name = 'Consumer Recipe') {
  return { name, semanticVersion: '1.0.0', parentImage: 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x', components: [{ componentArn }] };
}

test('a component shared with one account: it reads, lists under Shared and builds recipes; others cannot', async (t) => {
  const f = await startFixture(t);
  const owner = f.client();
  const [b, c] = await accounts(f, 'consumer', 'outsider');
  const shared = (await owner.send(new CreateComponentCommand({ name: 'Shared Tool', semanticVersion: '1.0.0', platform: 'Linux', data: DOC }))).componentBuildVersionArn!;
  const ownerId = /:(\d{12}):/.exec(shared)![1]!;
  const wildcard = shared.replace('/1.0.0/1', '/x.x.x');

  await assert.rejects(owner.send(new GetComponentPolicyCommand({ componentArn: shared })), ResourceNotFoundException);
  const text = policy([b!.id], COMPONENT_ACTIONS, { Resource: [shared] });
  assert.equal((await owner.send(new PutComponentPolicyCommand({ componentArn: shared, policy: text }))).componentArn, shared);
  assert.equal((await owner.send(new GetComponentPolicyCommand({ componentArn: shared }))).policy, text);
  // A newer version the owner did not share: the consumer's wildcards must not reach it.
  await owner.send(new CreateComponentCommand({ name: 'Shared Tool', semanticVersion: '2.0.0', platform: 'Linux', data: DOC }));

  const got = (await b!.ib.send(new GetComponentCommand({ componentBuildVersionArn: shared }))).component!;
  assert.equal(got.owner, ownerId);
  assert.equal(got.data, DOC);
  assert.equal((await b!.ib.send(new GetComponentCommand({ componentBuildVersionArn: wildcard }))).component?.version, '1.0.0');
  await assert.rejects(b!.ib.send(new GetComponentCommand({ componentBuildVersionArn: shared.replace('/1.0.0/1', '/2.0.0/1') })), ResourceNotFoundException);
  const sharedList = (await b!.ib.send(new ListComponentsCommand({ owner: 'Shared' }))).componentVersionList!;
  assert.deepEqual(sharedList.map((v) => [v.arn, v.owner]), [[shared.replace(/\/1$/, ''), ownerId]]);
  assert.deepEqual((await b!.ib.send(new ListComponentsCommand({}))).componentVersionList, []);
  assert.deepEqual((await b!.ib.send(new ListComponentBuildVersionsCommand({ componentVersionArn: shared.replace(/\/1$/, '') }))).componentSummaryList?.map((s) => s.arn), [shared]);
  const recipe = (await b!.ib.send(new CreateImageRecipeCommand(recipeInput(wildcard)))).imageRecipeArn!;
  assert.match(recipe, new RegExp(`:${b!.id}:image-recipe/consumer-recipe/1.0.0$`));

  // The outsider sees nothing and cannot use it.
  await assert.rejects(c!.ib.send(new GetComponentCommand({ componentBuildVersionArn: shared })), ResourceNotFoundException);
  assert.deepEqual((await c!.ib.send(new ListComponentsCommand({ owner: 'Shared' }))).componentVersionList, []);
  await assert.rejects(c!.ib.send(new CreateImageRecipeCommand(recipeInput(shared))), invalid('components[0].componentArn', 'not visible'));

  // Sharing grants reads only: writes stay with the owner.
  await assert.rejects(b!.ib.send(new PutComponentPolicyCommand({ componentArn: shared, policy: policy('*', COMPONENT_ACTIONS) })), ForbiddenException);
  await assert.rejects(b!.ib.send(new GetComponentPolicyCommand({ componentArn: shared })), ForbiddenException);
  await assert.rejects(c!.ib.send(new PutComponentPolicyCommand({ componentArn: shared, policy: policy('*', COMPONENT_ACTIONS) })), ResourceNotFoundException);
  await assert.rejects(b!.ib.send(new DeleteComponentCommand({ componentBuildVersionArn: shared })), ResourceNotFoundException);
  // The consumer's recipe depends on the shared build, so the owner cannot delete it from under them.
  await assert.rejects(owner.send(new DeleteComponentCommand({ componentBuildVersionArn: shared })), (e: Error) => {
    assert.ok(e instanceof ResourceDependencyException, e.name);
    assert.ok(e.message.includes(recipe), e.message);
    return true;
  });

  // Replacing the policy revokes the first grant.
  await owner.send(new PutComponentPolicyCommand({ componentArn: shared, policy: policy(`arn:aws:iam::${c!.id}:root`, ['imagebuilder:getcomponent']) }));
  await assert.rejects(b!.ib.send(new GetComponentCommand({ componentBuildVersionArn: shared })), ResourceNotFoundException);
  assert.deepEqual((await b!.ib.send(new ListComponentsCommand({ owner: 'Shared' }))).componentVersionList, []);
  assert.equal((await c!.ib.send(new GetComponentCommand({ componentBuildVersionArn: shared }))).component?.arn, shared);

  // `*` shares with every account.
  await owner.send(new PutComponentPolicyCommand({ componentArn: shared, policy: JSON.stringify({ Version: '2012-10-17', Statement: { Effect: 'Allow', Principal: '*', Action: COMPONENT_ACTIONS } }) }));
  for (const who of [b!, c!]) {
    assert.equal((await who.ib.send(new GetComponentCommand({ componentBuildVersionArn: shared }))).component?.owner, ownerId);
    assert.equal((await who.ib.send(new ListComponentsCommand({ owner: 'Shared' }))).componentVersionList?.length, 1);
  }
  assert.equal((await c!.ib.send(new CreateImageRecipeCommand(recipeInput(shared)))).imageRecipeArn?.includes(`:${c!.id}:`), true);
});

test('Put*Policy refuses malformed and unenforceable policies, naming the field, and keeps the old policy', async (t) => {
  const f = await startFixture(t);
  const owner = f.client();
  const [b, c] = await accounts(f, 'b', 'c');
  const arn = (await owner.send(new CreateComponentCommand({ name: 'tool', semanticVersion: '1.0.0', platform: 'Linux', data: DOC }))).componentBuildVersionArn!;
  const good = policy([b!.id], COMPONENT_ACTIONS);
  await owner.send(new PutComponentPolicyCommand({ componentArn: arn, policy: good }));
  const statement = (s: Record<string, unknown>) => JSON.stringify({ Version: '2012-10-17', Statement: [s] });
  const allow = { Effect: 'Allow', Principal: { AWS: b!.id }, Action: COMPONENT_ACTIONS };
  const cases: [string, string[]][] = [
    ['{"Version": "2012-10-17", "Statement": [', ['policy: is not valid JSON']],
    ['[]', ['policy: must be a JSON object']],
    [JSON.stringify({ Version: '2012-10-17' }), ['policy.Statement']],
    [JSON.stringify({ Version: '2020-01-01', Statement: [allow] }), ['policy.Version']],
    [statement({ ...allow, Effect: 'Maybe' }), ['policy.Statement[0].Effect']],
    [statement({ ...allow, Principal: { Service: 'ec2.amazonaws.com' } }), ['policy.Statement[0].Principal.Service', 'policy.Statement[0].Principal.AWS']],
    [statement({ ...allow, Principal: { AWS: ['123', b!.id, '999999999999'] } }), ['policy.Statement[0].Principal.AWS[0]', 'policy.Statement[0].Principal.AWS[2]', 'not a Kiln account']],
    [statement({ ...allow, Principal: { AWS: `arn:aws:iam::${b!.id}:role/builder` } }), ['policy.Statement[0].Principal.AWS', 'whole accounts']],
    [statement({ ...allow, Action: ['imagebuilder:GetComponent', 'imagebuilder:GetImage', 'imagebuilder:*'] }), ['policy.Statement[0].Action[1]', 'policy.Statement[0].Action[2]']],
    [statement({ ...allow, Action: 'imagebuilder:DeleteComponent' }), ['policy.Statement[0].Action']],
    [statement({ ...allow, Resource: arn.replace('tool', 'other') }), ['policy.Statement[0].Resource']],
    [statement({ ...allow, Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-123' } } }), ['policy.Statement[0].Condition']],
    [statement({ ...allow, NotPrincipal: { AWS: c!.id } }), ['policy.Statement[0].NotPrincipal']],
    [statement({ ...allow, Principal: { AWS: c!.id }, Effect: 'Deny', Action: 'imagebuilder:ListComponents' }), ['policy.Statement[0].Action', 'a Deny must name every action']],
    [JSON.stringify({ Statement: [{ ...allow, Principal: { AWS: '*' } }, { ...allow, Effect: 'Deny' }] }), ['policy.Statement', 'no exceptions']],
  ];
  for (const [text, paths] of cases) {
    await assert.rejects(owner.send(new PutComponentPolicyCommand({ componentArn: arn, policy: text })), invalid(...paths), text);
  }
  assert.equal((await owner.send(new GetComponentPolicyCommand({ componentArn: arn }))).policy, good, 'a refused policy changes nothing');
  assert.equal((await b!.ib.send(new GetComponentCommand({ componentBuildVersionArn: arn }))).component?.arn, arn);

  // A Deny Kiln can enforce exactly: every action, for accounts an Allow listed.
  const withDeny = JSON.stringify({ Version: '2012-10-17', Statement: [{ ...allow, Principal: { AWS: [b!.id, c!.id] } }, { ...allow, Effect: 'Deny' }] });
  await owner.send(new PutComponentPolicyCommand({ componentArn: arn, policy: withDeny }));
  await assert.rejects(b!.ib.send(new GetComponentCommand({ componentBuildVersionArn: arn })), ResourceNotFoundException);
  assert.equal((await c!.ib.send(new GetComponentCommand({ componentBuildVersionArn: arn }))).component?.arn, arn);

  // ARN shapes: components are shared per build version.
  await assert.rejects(owner.send(new PutComponentPolicyCommand({ componentArn: arn.replace('/1.0.0/1', '/1.0.0'), policy: good })), invalid('componentArn'));
  await assert.rejects(owner.send(new PutComponentPolicyCommand({ componentArn: arn.replace('/1.0.0/1', '/1.0.0/9'), policy: good })), ResourceNotFoundException);
  await assert.rejects(owner.send(new GetImagePolicyCommand({ imageArn: arn.replace(':component/', ':image/') })), ResourceNotFoundException);
  await assert.rejects(owner.send(new PutImagePolicyCommand({ imageArn: 'arn:aws:imagebuilder:local:aws:image/x', policy: good })), invalid('imageArn'));
});

test('image and container recipes are shared by policy and listed under Shared', async (t) => {
  const f = await startFixture(t);
  const owner = f.client();
  const [b, c] = await accounts(f, 'b', 'c');
  const comp = (await owner.send(new CreateComponentCommand({ name: 'tool', semanticVersion: '1.0.0', platform: 'Linux', data: DOC }))).componentBuildVersionArn!;
  const image = (await owner.send(new CreateImageRecipeCommand(recipeInput(comp, 'Golden')))).imageRecipeArn!;
  const container = (
    await owner.send(
      new CreateContainerRecipeCommand({
        containerType: 'DOCKER',
        name: 'Golden Container',
        semanticVersion: '1.0.0',
        parentImage: 'debian:12',
        targetRepository: { service: 'ECR', repositoryName: 'team/app' },
        components: [{ componentArn: comp }],
        dockerfileTemplateData: DOCKERFILE,
      }),
    )
  ).containerRecipeArn!;

  await assert.rejects(owner.send(new GetImageRecipePolicyCommand({ imageRecipeArn: image })), ResourceNotFoundException);
  await assert.rejects(owner.send(new PutImageRecipePolicyCommand({ imageRecipeArn: image, policy: policy(b!.id, COMPONENT_ACTIONS) })), invalid('policy.Statement[0].Action[0]', 'imagebuilder:GetImageRecipe'));
  await assert.rejects(owner.send(new PutImageRecipePolicyCommand({ imageRecipeArn: image.replace('/1.0.0', '/x.x.x'), policy: '{}' })), invalid('imageRecipeArn'));
  const imagePolicy = policy(b!.id, ['imagebuilder:GetImageRecipe', 'imagebuilder:ListImageRecipes'], { Resource: image });
  await owner.send(new PutImageRecipePolicyCommand({ imageRecipeArn: image, policy: imagePolicy }));
  assert.equal((await owner.send(new GetImageRecipePolicyCommand({ imageRecipeArn: image }))).policy, imagePolicy);
  await owner.send(new PutContainerRecipePolicyCommand({ containerRecipeArn: container, policy: policy('*', ['imagebuilder:GetContainerRecipe', 'imagebuilder:ListContainerRecipes']) }));
  assert.match((await owner.send(new GetContainerRecipePolicyCommand({ containerRecipeArn: container }))).policy ?? '', /GetContainerRecipe/);

  assert.equal((await b!.ib.send(new GetImageRecipeCommand({ imageRecipeArn: image.replace('/1.0.0', '/x.x.x') }))).imageRecipe?.arn, image);
  assert.deepEqual((await b!.ib.send(new ListImageRecipesCommand({ owner: 'Shared' }))).imageRecipeSummaryList?.map((r) => r.arn), [image]);
  assert.deepEqual((await b!.ib.send(new ListImageRecipesCommand({}))).imageRecipeSummaryList, []);
  await assert.rejects(c!.ib.send(new GetImageRecipeCommand({ imageRecipeArn: image })), ResourceNotFoundException);
  assert.deepEqual((await c!.ib.send(new ListImageRecipesCommand({ owner: 'Shared' }))).imageRecipeSummaryList, []);
  for (const who of [b!, c!]) {
    assert.equal((await who.ib.send(new GetContainerRecipeCommand({ containerRecipeArn: container }))).containerRecipe?.arn, container);
    assert.deepEqual((await who.ib.send(new ListContainerRecipesCommand({ owner: 'Shared' }))).containerRecipeSummaryList?.map((r) => r.arn), [container]);
  }
  await assert.rejects(b!.ib.send(new PutImageRecipePolicyCommand({ imageRecipeArn: image, policy: imagePolicy })), ForbiddenException);
  for (const owner_ of ['ThirdParty', 'AWSMarketplace'] as const) {
    assert.deepEqual((await b!.ib.send(new ListImageRecipesCommand({ owner: owner_ }))).imageRecipeSummaryList, []);
    assert.deepEqual((await b!.ib.send(new ListComponentsCommand({ owner: owner_ }))).componentVersionList, []);
  }
});

test('the Amazon view lists Kiln-managed resources, readable by every account and shareable by none', async (t) => {
  const f = await startFixture(t);
  const owner = f.client();
  const [b] = await accounts(f, 'b');
  const store = openStore(f.dataDir);
  // Kiln registers its managed components at start (src/domain/managed-components.ts); update-linux is one.
  const managed = managedComponentArn('local', MANAGED_COMPONENTS.find((c) => c.name === 'update-linux')!).replace(/\/1$/, '');
  await store.createResource({
    accountId: 'aws',
    region: 'local',
    type: 'image-recipe',
    name: 'debian-base',
    version: '2024.1.1',
    arn: 'arn:aws:imagebuilder:local:aws:image-recipe/debian-base/2024.1.1',
    data: { name: 'debian-base', platform: 'Linux', parentImage: 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x', components: [{ componentArn: `${managed}/1` }], dateCreated: new Date().toISOString() },
    build: 'none',
  });
  await store.close();

  for (const ib of [owner, b!.ib]) {
    const amazon = (await ib.send(new ListComponentsCommand({ owner: 'Amazon' }))).componentVersionList ?? [];
    assert.equal(amazon.length, MANAGED_COMPONENTS.length);
    assert.deepEqual(amazon.filter((v) => v.arn === managed).map((v) => [v.arn, v.owner]), [[managed, 'aws']]);
    assert.deepEqual((await ib.send(new ListImageRecipesCommand({ owner: 'Amazon' }))).imageRecipeSummaryList?.map((r) => r.name), ['debian-base']);
    assert.deepEqual((await ib.send(new ListComponentsCommand({}))).componentVersionList, []);
    assert.equal((await ib.send(new GetComponentCommand({ componentBuildVersionArn: `${managed}/1` }))).component?.owner, 'aws');
  }
  await assert.rejects(owner.send(new PutComponentPolicyCommand({ componentArn: `${managed}/1`, policy: policy('*', COMPONENT_ACTIONS) })), ForbiddenException);
  await assert.rejects(owner.send(new GetComponentPolicyCommand({ componentArn: `${managed}/1` })), ForbiddenException);
});

test('CreateComponent reads the document from an s3:// uri, and names uri in every refusal', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-s3rver-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s3 = await startLocalS3(dir, ['components']);
  t.after(() => s3.stop());
  const put = (key: string, body: string) => s3.client.send(new PutObjectCommand({ Bucket: 'components', Key: key, Body: body }));
  await put('hello.yaml', DOC);
  await put('broken.yaml', 'phases: [\n');
  await put('huge.yaml', `# ${'x'.repeat(MAX_URI_DOCUMENT_BYTES)}\n${DOC}`);

  // The server runs in this process and reads the S3 settings AWSTOE uses, from the environment, per request.
  const env = { KILN_S3_ENDPOINT: s3.settings.endpoint, KILN_S3_FORCE_PATH_STYLE: 'true', KILN_S3_REGION: s3.settings.region, AWS_ACCESS_KEY_ID: s3.settings.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.settings.secretAccessKey };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  t.after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  const f = await startFixture(t);
  const ib = f.client();
  const input = (uri: string) => ({ name: 'from-s3', semanticVersion: '1.0.0', platform: 'Linux' as const, uri });
  const arn = (await ib.send(new CreateComponentCommand(input('s3://components/hello.yaml')))).componentBuildVersionArn!;
  const got = (await ib.send(new GetComponentCommand({ componentBuildVersionArn: arn }))).component!;
  assert.equal(got.data, DOC);
  assert.deepEqual(got.parameters?.map((p) => p.name), ['greeting']);

  await assert.rejects(ib.send(new CreateComponentCommand(input('s3://components/missing.yaml'))), invalid('uri: s3://components/missing.yaml does not exist'));
  await assert.rejects(ib.send(new CreateComponentCommand(input('s3://no-such-bucket/a.yaml'))), invalid('uri:', 'no-such-bucket'));
  await assert.rejects(ib.send(new CreateComponentCommand(input('https://example.com/a.yaml'))), invalid('uri: https://example.com/a.yaml is not an S3 object URI'));
  await assert.rejects(ib.send(new CreateComponentCommand(input('s3://components/'))), invalid('uri:'));
  await assert.rejects(ib.send(new CreateComponentCommand(input('s3://components/broken.yaml'))), invalid('uri'));
  await assert.rejects(ib.send(new CreateComponentCommand(input('s3://components/huge.yaml'))), invalid('uri:', `the limit is ${MAX_URI_DOCUMENT_BYTES}`));
  await assert.rejects(ib.send(new CreateComponentCommand({ ...input('s3://components/hello.yaml'), name: 'x' })), invalid('name'));
  assert.equal((await ib.send(new ListComponentsCommand({}))).componentVersionList?.length, 1, 'refused requests created nothing');
});

test('a pipeline of one account may build a recipe another account shared with it, not an unshared one', async (t) => {
  const f = await startFixture(t);
  const owner = f.client();
  const [b, c] = await accounts(f, 'b', 'c');
  const comp = (await owner.send(new CreateComponentCommand({ name: 'tool', semanticVersion: '1.0.0', platform: 'Linux', data: DOC }))).componentBuildVersionArn!;
  const recipe = (await owner.send(new CreateImageRecipeCommand(recipeInput(comp, 'Golden')))).imageRecipeArn!;
  await owner.send(new PutImageRecipePolicyCommand({ imageRecipeArn: recipe, policy: policy(b!.id, ['imagebuilder:GetImageRecipe', 'imagebuilder:ListImageRecipes']) }));
  for (const [who, allowed] of [[b!, true], [c!, false]] as const) {
    const infra = (await who.ib.send(new CreateInfrastructureConfigurationCommand({ name: 'infra', instanceProfileName: 'kiln', instanceTypes: ['ns.small'] }))).infrastructureConfigurationArn!;
    const create = who.ib.send(new CreateImagePipelineCommand({ name: 'consumer', imageRecipeArn: recipe, infrastructureConfigurationArn: infra }));
    if (allowed) assert.match((await create).imagePipelineArn!, new RegExp(`:${who.id}:image-pipeline/consumer$`));
    else await assert.rejects(create, invalid('imageRecipeArn'));
  }
});
