import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateImageCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  DeleteComponentCommand,
  DeleteContainerRecipeCommand,
  DeleteImageRecipeCommand,
  GetContainerRecipeCommand,
  GetImageRecipeCommand,
  IdempotentParameterMismatchException,
  InvalidPaginationTokenException,
  InvalidParameterCombinationException,
  InvalidParameterValueException,
  ListContainerRecipesCommand,
  ListImageRecipesCommand,
  PutImagePolicyCommand,
  ResourceAlreadyExistsException,
  ResourceDependencyException,
  ResourceNotFoundException,
  type CreateContainerRecipeCommandInput,
  type CreateImageRecipeCommandInput,
  type ImagebuilderClient,
} from '@aws-sdk/client-imagebuilder';
import { openStore } from '../../src/app/server-start.js';
import { createAccount } from '../../src/service/accounts.js';
import { registerManagedBases } from '../../src/builder/bases/managed-bases.js';
import { registerMachineImage } from '../../src/builder/machine/machine-images.js';
import type { MachineDisk } from '../../src/builder/machine/machine-disk.js';
import { evaluate, readTemplate, templateNames, toSdkInput } from './cfn.js';
import { startFixture, type Fixture } from './fixture.js';
import { existsSync } from 'node:fs';
import { conformanceDir } from '../helpers/corpus.js';

const DEFINITIONS = path.join(conformanceDir() ?? '/nonexistent', 'definitions');

const DOC = `schemaVersion: 1.0
parameters:
  - greeting:
      type: string
      default: hi
  - port:
      type: string
phases:
  - name: build
    steps:
      - name: Say
        action: ExecuteBash
        inputs:
          commands: ['echo {{ greeting }} {{ port }}']
`;

const TEST_DOC = `schemaVersion: 1.0
phases:
  - name: test
    steps:
      - name: Check
        action: ExecuteBash
        inputs:
          commands: ['true']
`;

/** The Kiln-managed machine base, a parent every account may use (not looked up: the fixture does not list it). */
const MACHINE_BASE = 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x';

const DOCKERFILE = 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}\n';

/** Creates a component and returns its build-version ARN. */
async function component(ib: ImagebuilderClient, name = 'hello', version = '1.0.0', data = DOC, platform: 'Linux' | 'Windows' = 'Linux'): Promise<string> {
  return (await ib.send(new CreateComponentCommand({ name, semanticVersion: version, platform, data }))).componentBuildVersionArn!;
}

function imageRecipe(componentArn: string, overrides: Partial<CreateImageRecipeCommandInput> = {}): CreateImageRecipeCommandInput {
  return { name: 'My Recipe', semanticVersion: '1.0.0', parentImage: MACHINE_BASE, components: [{ componentArn }], ...overrides };
}

function containerRecipe(componentArn: string, overrides: Partial<CreateContainerRecipeCommandInput> = {}): CreateContainerRecipeCommandInput {
  return {
    containerType: 'DOCKER',
    name: 'My Container',
    semanticVersion: '1.0.0',
    parentImage: 'amazonlinux:latest',
    targetRepository: { service: 'ECR', repositoryName: 'team/app' },
    components: [{ componentArn }],
    dockerfileTemplateData: DOCKERFILE,
    ...overrides,
  };
}

/** Asserts an InvalidParameterValueException whose message names every given field path. */
function invalid(...paths: string[]) {
  return (e: Error) => {
    assert.ok(e instanceof InvalidParameterValueException, `${e.name}: ${e.message}`);
    for (const p of paths) assert.ok(e.message.includes(p), `message should name ${p}:\n${e.message}`);
    return true;
  };
}

async function secondAccount(f: Fixture): Promise<ImagebuilderClient> {
  const store = openStore(f.dataDir);
  const { key } = await createAccount(store, 'other');
  await store.close();
  return f.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
}

test('image recipes: create, get, versions, list, delete', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const comp = await component(ib);
  const account = /:(\d{12}):/.exec(comp)![1]!;
  const wildcard = comp.replace('/1.0.0/1', '/x.x.x');
  const created = await ib.send(
    new CreateImageRecipeCommand(
      imageRecipe(wildcard, {
        description: 'base image',
        components: [{ componentArn: wildcard, parameters: [{ name: 'port', value: ['8080'] }] }],
        blockDeviceMappings: [{ deviceName: '/dev/xvda', ebs: { volumeSize: 30, volumeType: 'gp3', deleteOnTermination: true } }],
        workingDirectory: '/opt/build',
        additionalInstanceConfiguration: { systemsManagerAgent: { uninstallAfterBuild: true }, userDataOverride: Buffer.from('#!/bin/sh\ntrue\n').toString('base64') },
        tags: { team: 'a' },
        amiTags: { purpose: 'test' },
      }),
    ),
  );
  const base = `arn:aws:imagebuilder:local:${account}:image-recipe`;
  assert.equal(created.imageRecipeArn, `${base}/my-recipe/1.0.0`);
  assert.deepEqual(created.latestVersionReferences, {
    latestVersionArn: `${base}/my-recipe/x.x.x`,
    latestMajorVersionArn: `${base}/my-recipe/1.x.x`,
    latestMinorVersionArn: `${base}/my-recipe/1.0.x`,
    latestPatchVersionArn: `${base}/my-recipe/1.0.0`,
  });
  assert.ok(created.clientToken);

  const got = (await ib.send(new GetImageRecipeCommand({ imageRecipeArn: created.imageRecipeArn }))).imageRecipe!;
  assert.match(got.dateCreated ?? '', /^\d{4}-\d\d-\d\dT.*Z$/);
  assert.deepEqual({ ...got, dateCreated: undefined }, {
    arn: created.imageRecipeArn,
    type: 'AMI',
    name: 'My Recipe',
    description: 'base image',
    platform: 'Linux',
    owner: account,
    version: '1.0.0',
    components: [{ componentArn: wildcard, parameters: [{ name: 'port', value: ['8080'] }] }],
    parentImage: MACHINE_BASE,
    blockDeviceMappings: [{ deviceName: '/dev/xvda', ebs: { volumeSize: 30, volumeType: 'gp3', deleteOnTermination: true } }],
    dateCreated: undefined,
    tags: { team: 'a' },
    workingDirectory: '/opt/build',
    additionalInstanceConfiguration: { systemsManagerAgent: { uninstallAfterBuild: true }, userDataOverride: Buffer.from('#!/bin/sh\ntrue\n').toString('base64') },
    amiTags: { purpose: 'test' },
  });

  await ib.send(new CreateImageRecipeCommand(imageRecipe(comp, { semanticVersion: '1.10.0' })));
  await ib.send(new CreateImageRecipeCommand(imageRecipe(comp, { semanticVersion: '1.2.0' })));
  const winParent = 'arn:aws:imagebuilder:local:aws:image/windows-server-2022-english-full-base-x86/x.x.x';
  await assert.rejects(ib.send(new CreateImageRecipeCommand(imageRecipe(comp, { name: 'win', parentImage: winParent }))), invalid('components', 'Linux components, but the parent image is Windows'));
  const winComp = await component(ib, 'win', '1.0.0', DOC, 'Windows');
  await ib.send(new CreateImageRecipeCommand(imageRecipe(winComp, { name: 'win', parentImage: winParent })));
  for (const [selector, version] of [['x.x.x', '1.10.0'], ['1.2.x', '1.2.0'], ['1.0.0', '1.0.0']] as const) {
    const r = await ib.send(new GetImageRecipeCommand({ imageRecipeArn: `${base}/my-recipe/${selector}` }));
    assert.equal(r.imageRecipe?.version, version, selector);
  }
  await assert.rejects(ib.send(new CreateImageRecipeCommand(imageRecipe(comp, { semanticVersion: '1.2.0' }))), ResourceAlreadyExistsException);
  await assert.rejects(ib.send(new CreateImageRecipeCommand(imageRecipe(comp, { name: 'my recipe', semanticVersion: '1.2.0' }))), ResourceAlreadyExistsException, 'names that share a slug collide');
  await assert.rejects(ib.send(new CreateImageRecipeCommand(imageRecipe(comp, { semanticVersion: '1.x.x' }))), invalid('semanticVersion'));
  await assert.rejects(ib.send(new GetImageRecipeCommand({ imageRecipeArn: `${base}/my-recipe/9.x.x` })), ResourceNotFoundException);
  await assert.rejects(ib.send(new GetImageRecipeCommand({ imageRecipeArn: `${base}/my-recipe/x.1.x` })), { name: 'InvalidVersionNumberException' });
  await assert.rejects(ib.send(new GetImageRecipeCommand({ imageRecipeArn: comp })), InvalidParameterValueException);

  const list = await ib.send(new ListImageRecipesCommand({}));
  assert.deepEqual(list.imageRecipeSummaryList?.map((r) => r.arn?.split(':image-recipe/')[1]), ['my-recipe/1.0.0', 'my-recipe/1.2.0', 'my-recipe/1.10.0', 'win/1.0.0']);
  const summary = list.imageRecipeSummaryList![0]!;
  assert.deepEqual({ ...summary, dateCreated: undefined }, { arn: created.imageRecipeArn, name: 'My Recipe', platform: 'Linux', owner: account, parentImage: MACHINE_BASE, dateCreated: undefined, tags: { team: 'a' } });
  const windows = await ib.send(new ListImageRecipesCommand({ filters: [{ name: 'platform', values: ['Windows'] }] }));
  assert.deepEqual(windows.imageRecipeSummaryList?.map((r) => r.name), ['win'], 'a Windows parent image gives a Windows recipe');
  const named = await ib.send(new ListImageRecipesCommand({ filters: [{ name: 'name', values: ['My Recipe'] }, { name: 'parentImage', values: [MACHINE_BASE] }] }));
  assert.equal(named.imageRecipeSummaryList?.length, 3);
  await assert.rejects(ib.send(new ListImageRecipesCommand({ filters: [{ name: 'containerType', values: ['DOCKER'] }] })), invalid('filters[0].name'));
  assert.deepEqual((await ib.send(new ListImageRecipesCommand({ owner: 'Amazon' }))).imageRecipeSummaryList, []);
  assert.deepEqual((await ib.send(new ListImageRecipesCommand({ owner: 'Shared' }))).imageRecipeSummaryList, []);

  assert.equal((await ib.send(new DeleteImageRecipeCommand({ imageRecipeArn: created.imageRecipeArn }))).imageRecipeArn, created.imageRecipeArn);
  await assert.rejects(ib.send(new GetImageRecipeCommand({ imageRecipeArn: created.imageRecipeArn })), ResourceNotFoundException);
  await assert.rejects(ib.send(new DeleteImageRecipeCommand({ imageRecipeArn: created.imageRecipeArn })), ResourceNotFoundException);
  await assert.rejects(ib.send(new DeleteImageRecipeCommand({ imageRecipeArn: `${base}/my-recipe/x.x.x` })), InvalidParameterValueException);
});

test('container recipes: create, get, list, delete', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const comp = await component(ib);
  const account = /:(\d{12}):/.exec(comp)![1]!;
  const dockerfile = `${DOCKERFILE}ENV RUNNER_VERSION=latest\nRUN echo done \\\n  && true\n`;
  const created = await ib.send(
    new CreateContainerRecipeCommand(
      containerRecipe(comp, {
        description: 'app image',
        dockerfileTemplateData: dockerfile,
        instanceConfiguration: { image: 'ami-0123456789abcdef0', blockDeviceMappings: [{ deviceName: '/dev/xvda', ebs: { volumeSize: 50 } }] },
        workingDirectory: '/tmp',
        kmsKeyId: 'alias/app',
        imageOsVersionOverride: 'Amazon Linux 2',
        tags: { team: 'b' },
      }),
    ),
  );
  const arn = `arn:aws:imagebuilder:local:${account}:container-recipe/my-container/1.0.0`;
  assert.equal(created.containerRecipeArn, arn);
  assert.equal(created.latestVersionReferences?.latestVersionArn, `arn:aws:imagebuilder:local:${account}:container-recipe/my-container/x.x.x`);
  const got = (await ib.send(new GetContainerRecipeCommand({ containerRecipeArn: arn }))).containerRecipe!;
  assert.deepEqual({ ...got, dateCreated: undefined }, {
    arn,
    containerType: 'DOCKER',
    name: 'My Container',
    description: 'app image',
    platform: 'Linux',
    owner: account,
    version: '1.0.0',
    components: [{ componentArn: comp }],
    instanceConfiguration: { image: 'ami-0123456789abcdef0', blockDeviceMappings: [{ deviceName: '/dev/xvda', ebs: { volumeSize: 50 } }] },
    dockerfileTemplateData: dockerfile,
    kmsKeyId: 'alias/app',
    encrypted: true,
    parentImage: 'amazonlinux:latest',
    dateCreated: undefined,
    tags: { team: 'b' },
    workingDirectory: '/tmp',
    targetRepository: { service: 'ECR', repositoryName: 'team/app' },
  });

  const parents = [
    'mcr.microsoft.com/windows/servercore:ltsc2019-amd64',
    'public.ecr.aws/docker/library/alpine@sha256:' + 'a'.repeat(64),
    '123456789012.dkr.ecr.local.amazonaws.com/app:1.2',
    'localhost:5000/app',
    'arn:aws:imagebuilder:local:aws:image/debian-12-container-x86/x.x.x',
  ];
  const winComp = await component(ib, 'win', '1.0.0', DOC, 'Windows');
  for (const [i, parentImage] of parents.entries()) {
    await ib.send(new CreateContainerRecipeCommand(containerRecipe(i === 0 ? winComp : comp, { name: `parent-${i}`, parentImage, ...(i === 1 ? { platformOverride: 'Linux' } : {}) })));
  }
  await assert.rejects(ib.send(new CreateContainerRecipeCommand(containerRecipe(comp, { name: 'mixed', platformOverride: 'Windows' }))), invalid('components', 'parent image is Windows'));
  const list = await ib.send(new ListContainerRecipesCommand({ filters: [{ name: 'containerType', values: ['DOCKER'] }] }));
  assert.equal(list.containerRecipeSummaryList?.length, 6);
  const mine = list.containerRecipeSummaryList!.find((r) => r.arn === arn)!;
  assert.deepEqual({ ...mine, dateCreated: undefined }, {
    arn, containerType: 'DOCKER', name: 'My Container', platform: 'Linux', owner: account, parentImage: 'amazonlinux:latest', dateCreated: undefined, instanceImage: 'ami-0123456789abcdef0', tags: { team: 'b' },
  });
  const windows = await ib.send(new ListContainerRecipesCommand({ filters: [{ name: 'platform', values: ['Windows'] }] }));
  assert.deepEqual(windows.containerRecipeSummaryList?.map((r) => r.name), ['parent-0']);

  await assert.rejects(ib.send(new CreateContainerRecipeCommand(containerRecipe(comp))), ResourceAlreadyExistsException);
  await ib.send(new DeleteContainerRecipeCommand({ containerRecipeArn: arn }));
  await assert.rejects(ib.send(new GetContainerRecipeCommand({ containerRecipeArn: arn })), ResourceNotFoundException);
  await assert.rejects(ib.send(new GetContainerRecipeCommand({ containerRecipeArn: arn.replace('container-recipe', 'image-recipe') })), InvalidParameterValueException);
});

test('bad recipes are refused with every issue and its field path', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const comp = await component(ib);
  const account = /:(\d{12}):/.exec(comp)![1]!;
  const tester = await component(ib, 'checks', '1.0.0', TEST_DOC);
  const win = await component(ib, 'win', '1.0.0', DOC, 'Windows');
  const missing = `arn:aws:imagebuilder:local:${account}:component/nope/1.0.0`;

  await assert.rejects(
    ib.send(
      new CreateImageRecipeCommand({
        name: 'x',
        semanticVersion: '1.0',
        parentImage: 'ubuntu:22.04',
        components: [
          { componentArn: comp, parameters: [{ name: 'port', value: ['1'] }, { name: 'colour', value: ['red'] }, { name: 'port', value: ['2'] }] },
          { componentArn: missing },
          { componentArn: comp.replace('/1.0.0/1', '/x.1.x') },
          { componentArn: win },
        ],
        blockDeviceMappings: [{ ebs: { volumeSize: 0, volumeType: 'gp9' as 'gp3', iops: 5 } }],
        additionalInstanceConfiguration: { userDataOverride: 'not base64!' },
        tags: { 'aws:reserved': 'x' },
      }),
    ),
    invalid(
      'name',
      'semanticVersion',
      'parentImage',
      'components[0].parameters[1].name',
      "'colour' is not a parameter",
      'components[0].parameters[2].name',
      'components[1].componentArn',
      'components[2].componentArn',
      'components[3].componentArn',
      'blockDeviceMappings[0].ebs.volumeSize',
      'blockDeviceMappings[0].ebs.volumeType',
      'blockDeviceMappings[0].ebs.iops',
      'additionalInstanceConfiguration.userDataOverride',
      'tags.aws:reserved',
    ),
  );
  await assert.rejects(ib.send(new CreateImageRecipeCommand(imageRecipe(tester))), invalid('components', 'build component'));
  await assert.rejects(ib.send(new CreateImageRecipeCommand(imageRecipe(comp, { components: [] }))), invalid('components'));
  for (const parentImage of ['ami-xyz', `arn:aws:imagebuilder:local:${account}:component/hello/1.0.0`, 'arn:aws:imagebuilder:local:aws:image/al2', 'ssm:']) {
    await assert.rejects(ib.send(new CreateImageRecipeCommand(imageRecipe(comp, { parentImage }))), invalid('parentImage'), parentImage);
  }
  await ib.send(new CreateImageRecipeCommand(imageRecipe(comp, { components: [{ componentArn: comp }, { componentArn: tester }], parentImage: 'ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64' })));

  await assert.rejects(
    ib.send(
      new CreateContainerRecipeCommand(
        containerRecipe(comp, {
          containerType: 'PODMAN' as 'DOCKER',
          parentImage: 'Not A Reference!',
          targetRepository: { service: 'GHCR' as 'ECR', repositoryName: 'UPPER' },
          platformOverride: 'macOS',
          instanceConfiguration: { image: 'ubuntu' },
          dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\nMAINTAINER me\n{{{ imagebuilder:component }}}\n',
        }),
      ),
    ),
    invalid(
      'containerType',
      'parentImage',
      'targetRepository.service',
      'targetRepository.repositoryName',
      'platformOverride',
      'instanceConfiguration.image',
      "dockerfileTemplateData: line 2: unsupported instruction 'MAINTAINER'",
      'dockerfileTemplateData: line 3: unknown placeholder',
    ),
  );
  await assert.rejects(ib.send(new CreateContainerRecipeCommand(containerRecipe(comp, { dockerfileTemplateUri: 's3://bucket/Dockerfile' }))), InvalidParameterCombinationException);
  await assert.rejects(ib.send(new CreateContainerRecipeCommand(containerRecipe(comp, { dockerfileTemplateData: undefined, dockerfileTemplateUri: 's3://bucket/Dockerfile' }))), invalid('dockerfileTemplateUri', 'inline'));
  await assert.rejects(ib.send(new CreateContainerRecipeCommand(containerRecipe(comp, { dockerfileTemplateData: undefined }))), invalid('dockerfileTemplateData'));
  assert.deepEqual((await ib.send(new ListContainerRecipesCommand({}))).containerRecipeSummaryList, [], 'nothing was half-written');
});

test('clientToken: the same input returns the first answer, another input is a mismatch', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const comp = await component(ib);
  const a = await ib.send(new CreateImageRecipeCommand(imageRecipe(comp, { clientToken: 'tok-1' })));
  const b = await ib.send(new CreateImageRecipeCommand(imageRecipe(comp, { clientToken: 'tok-1' })));
  assert.equal(b.imageRecipeArn, a.imageRecipeArn);
  assert.equal(b.clientToken, 'tok-1');
  await assert.rejects(ib.send(new CreateImageRecipeCommand(imageRecipe(comp, { clientToken: 'tok-1', semanticVersion: '2.0.0' }))), IdempotentParameterMismatchException);

  const results = await Promise.allSettled(Array.from({ length: 20 }, () => ib.send(new CreateContainerRecipeCommand(containerRecipe(comp, { clientToken: 'tok-c' })))));
  assert.ok(results.every((r) => r.status === 'fulfilled'), 'concurrent retries of one token all succeed');
  assert.equal(new Set(results.map((r) => (r as PromiseFulfilledResult<{ containerRecipeArn?: string }>).value.containerRecipeArn)).size, 1);
  await assert.rejects(ib.send(new CreateContainerRecipeCommand(containerRecipe(comp, { clientToken: 'tok-c', description: 'changed' }))), IdempotentParameterMismatchException);
});

test('pagination: 1-25 per page, opaque tokens, bad tokens rejected', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const comp = await component(ib);
  for (let i = 0; i < 7; i++) await ib.send(new CreateImageRecipeCommand(imageRecipe(comp, { semanticVersion: `1.0.${i}` })));
  const seen: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ib.send(new ListImageRecipesCommand({ maxResults: 3, nextToken }));
    assert.ok((page.imageRecipeSummaryList?.length ?? 0) <= 3);
    seen.push(...(page.imageRecipeSummaryList ?? []).map((r) => r.arn!.split('/').pop()!));
    nextToken = page.nextToken;
  } while (nextToken);
  assert.deepEqual(seen, ['1.0.0', '1.0.1', '1.0.2', '1.0.3', '1.0.4', '1.0.5', '1.0.6']);
  await assert.rejects(ib.send(new ListImageRecipesCommand({ maxResults: 26 })), InvalidParameterValueException);
  await assert.rejects(ib.send(new ListImageRecipesCommand({ maxResults: 0 })), InvalidParameterValueException);
  await assert.rejects(ib.send(new ListImageRecipesCommand({ nextToken: 'forged' })), InvalidPaginationTokenException);
  const first = await ib.send(new ListImageRecipesCommand({ maxResults: 3 }));
  await assert.rejects(ib.send(new ListContainerRecipesCommand({ nextToken: first.nextToken })), InvalidPaginationTokenException, 'a token belongs to its own list');
});

test('accounts are isolated: recipes, and the components a recipe may use', async (t) => {
  const f = await startFixture(t);
  const admin = f.client();
  const comp = await component(admin);
  const created = await admin.send(new CreateImageRecipeCommand(imageRecipe(comp)));
  const container = await admin.send(new CreateContainerRecipeCommand(containerRecipe(comp)));
  const other = await secondAccount(f);
  assert.deepEqual((await other.send(new ListImageRecipesCommand({}))).imageRecipeSummaryList, []);
  assert.deepEqual((await other.send(new ListContainerRecipesCommand({}))).containerRecipeSummaryList, []);
  await assert.rejects(other.send(new GetImageRecipeCommand({ imageRecipeArn: created.imageRecipeArn })), ResourceNotFoundException);
  await assert.rejects(other.send(new GetContainerRecipeCommand({ containerRecipeArn: container.containerRecipeArn })), ResourceNotFoundException);
  await assert.rejects(other.send(new DeleteImageRecipeCommand({ imageRecipeArn: created.imageRecipeArn })), ResourceNotFoundException);
  await assert.rejects(other.send(new CreateImageRecipeCommand(imageRecipe(comp))), invalid('components[0].componentArn', 'not visible'));
  const own = await component(other);
  const mine = await other.send(new CreateImageRecipeCommand(imageRecipe(own)));
  assert.notEqual(mine.imageRecipeArn, created.imageRecipeArn);
  assert.ok((await admin.send(new GetImageRecipeCommand({ imageRecipeArn: created.imageRecipeArn }))).imageRecipe);
});

test('DeleteComponent refuses while a recipe uses the build, directly or through a wildcard', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const v1 = await component(ib, 'hello', '1.0.0');
  const v2 = await component(ib, 'hello', '2.0.0');
  const unused = await component(ib, 'hello', '0.9.0');
  const direct = await ib.send(new CreateImageRecipeCommand(imageRecipe(v1)));
  const viaWildcard = await ib.send(new CreateContainerRecipeCommand(containerRecipe(v2.replace('/2.0.0/1', '/x.x.x'))));

  await assert.rejects(ib.send(new DeleteComponentCommand({ componentBuildVersionArn: v1 })), (e: Error) => {
    assert.ok(e instanceof ResourceDependencyException, e.name);
    assert.ok(e.message.includes(direct.imageRecipeArn!), e.message);
    return true;
  });
  await assert.rejects(ib.send(new DeleteComponentCommand({ componentBuildVersionArn: v2 })), ResourceDependencyException);
  await ib.send(new DeleteComponentCommand({ componentBuildVersionArn: unused }));

  await ib.send(new DeleteImageRecipeCommand({ imageRecipeArn: direct.imageRecipeArn }));
  await ib.send(new DeleteComponentCommand({ componentBuildVersionArn: v1 }));
  await ib.send(new DeleteContainerRecipeCommand({ containerRecipeArn: viaWildcard.containerRecipeArn }));
  await ib.send(new DeleteComponentCommand({ componentBuildVersionArn: v2 }));

  const other = await secondAccount(f);
  const theirs = await component(other);
  await other.send(new CreateImageRecipeCommand(imageRecipe(theirs)));
  const mine = await component(ib);
  await ib.send(new DeleteComponentCommand({ componentBuildVersionArn: mine }));
});

/** Builds an image through the SDK as `ib` and marks it AVAILABLE in the store, as a finished build does. */
async function availableImage(f: Fixture, ib: ImagebuilderClient, kind: 'machine' | 'container', name: string): Promise<string> {
  const comp = await component(ib, `${name}-c`);
  const recipe =
    kind === 'machine'
      ? { imageRecipeArn: (await ib.send(new CreateImageRecipeCommand(imageRecipe(comp, { name })))).imageRecipeArn! }
      : { containerRecipeArn: (await ib.send(new CreateContainerRecipeCommand(containerRecipe(comp, { name, parentImage: 'debian:12' })))).containerRecipeArn! };
  const infra = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: `${name}-infra`, instanceProfileName: 'Profile', instanceTypes: ['ns.small'] }))).infrastructureConfigurationArn!;
  const arn = (await ib.send(new CreateImageCommand({ ...recipe, infrastructureConfigurationArn: infra }))).imageBuildVersionArn!;
  const store = openStore(f.dataDir);
  await store.updateResource(arn, (current) => ({ ...current.data, state: { status: 'AVAILABLE' } }));
  await store.close();
  return arn;
}

test('a parent image is looked up at create: it must exist, be of the recipe\'s kind and be readable by the caller in its region', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const other = await secondAccount(f);
  const comp = await component(ib);
  const mine = /:(\d{12}):/.exec(comp)![1]!;
  const theirs = /:(\d{12}):/.exec(await component(other, 'theirs'))![1]!;

  const myMachine = await availableImage(f, ib, 'machine', 'golden');
  const myContainer = await availableImage(f, ib, 'container', 'app-base');
  const pending = (await ib.send(new GetImageRecipeCommand({ imageRecipeArn: myMachine.replace(':image/', ':image-recipe/').replace('/1.0.0/1', '/1.0.0') }))).imageRecipe!.arn!;
  const infra = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'later', instanceProfileName: 'Profile', instanceTypes: ['ns.small'] }))).infrastructureConfigurationArn!;
  const building = (await ib.send(new CreateImageCommand({ imageRecipeArn: pending, infrastructureConfigurationArn: infra }))).imageBuildVersionArn!;
  const unshared = await availableImage(f, other, 'machine', 'private');
  const shared = await availableImage(f, other, 'machine', 'public');
  await other.send(new PutImagePolicyCommand({ imageArn: shared, policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: [mine] }, Action: ['imagebuilder:GetImage', 'imagebuilder:ListImages'] }] }) }));

  // Machine images (ami- ids): the other account's, one launchable by the caller and one not; the managed bases listed.
  const store = openStore(f.dataDir);
  const disk: MachineDisk = { format: 'raw', digest: `sha256:${'0'.repeat(64)}`, sizeBytes: 1, rootPartUuid: 'u', kernelVersion: 'k' };
  const launchable = (await registerMachineImage(store, { accountId: theirs, region: 'local', name: 'launchable', sourceImageArn: shared, disk, launchPermission: { userIds: [mine] } })).name;
  const hidden = (await registerMachineImage(store, { accountId: theirs, region: 'local', name: 'hidden', sourceImageArn: unshared, disk })).name;
  await registerManagedBases(store, ['local']);
  await store.close();

  let n = 0;
  const machine = (parentImage: string) => ib.send(new CreateImageRecipeCommand(imageRecipe(comp, { name: `m${n++}`, parentImage })));
  const container = (parentImage: string) => ib.send(new CreateContainerRecipeCommand(containerRecipe(comp, { name: `c${n++}`, parentImage })));
  const refused = (...words: string[]) => invalid('parentImage', ...words);

  const refusedMachine: [string, string][] = [
    [`arn:aws:imagebuilder:local:${mine}:image/made-up/x.x.x`, 'names no AVAILABLE image'],
    [myMachine.replace('/1.0.0/1', '/2.x.x'), 'names no AVAILABLE image'],
    [building, 'names no AVAILABLE image'],
    [myMachine.replace(':local:', ':us-east-1:'), 'names no AVAILABLE image'],
    [unshared, 'names no AVAILABLE image'],
    [unshared.replace('/1.0.0/1', '/x.x.x'), 'names no AVAILABLE image'],
    [myContainer, 'is a container image, not a machine image'],
    ['arn:aws:imagebuilder:local:aws:image/debian-12-container-x86/x.x.x', 'is a container image'],
    ['arn:aws:imagebuilder:local:aws:image/debian-12-x86/1.0.0', 'names no AVAILABLE image'],
    ['ami-0123456789abcdef0', 'is not a machine image that account'],
    ['ami-12345678', 'is not a machine image that account'],
    [hidden, 'is not a machine image that account'],
  ];
  for (const [parent, why] of refusedMachine) await assert.rejects(machine(parent), refused(parent, why), parent);
  const acceptedMachine = [
    myMachine,
    myMachine.replace('/1.0.0/1', '/x.x.x'),
    shared,
    shared.replace('/1.0.0/1', '/1.x.x'),
    launchable,
    MACHINE_BASE,
    // Amazon's own images that Kiln does not list (real definitions name them) and SSM parameters are taken as written.
    'arn:aws:imagebuilder:local:aws:image/amazon-linux-2023-x86/x.x.x',
    'ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
  ];
  for (const parent of acceptedMachine) await machine(parent);

  for (const [parent, why] of [
    [`arn:aws:imagebuilder:local:${mine}:image/made-up/1.0.0`, 'names no AVAILABLE image'],
    [myMachine, 'is a machine image, not a container image'],
    [MACHINE_BASE, 'is a machine image'],
    [myContainer.replace(':local:', ':us-east-1:'), 'names no AVAILABLE image'],
    ['Team/App:1', 'must be a container image reference'],
    ['registry.example:5000/app@sha256:abc', 'must be a container image reference'],
  ]) {
    await assert.rejects(container(parent!), refused(parent!, why!), parent);
  }
  for (const parent of [myContainer, myContainer.replace('/1.0.0/1', '/x.x.x'), 'arn:aws:imagebuilder:local:aws:image/debian-12-container-x86/x.x.x', 'debian:12', `registry.example:5000/team/app@sha256:${'a'.repeat(64)}`]) {
    await container(parent);
  }
  const message = await machine(`arn:aws:imagebuilder:local:${mine}:image/made-up/x.x.x`).catch((e: Error) => e.message);
  assert.equal(message, `The image recipe is invalid:\n  parentImage: arn:aws:imagebuilder:local:${mine}:image/made-up/x.x.x names no AVAILABLE image visible to account ${mine} in local`);
});

test('recipes from the conformance definitions (CloudFormation samples) are accepted, Amazon-managed components included; one naming a component Kiln lacks is refused', { skip: existsSync(DEFINITIONS) ? false : `no definitions at ${DEFINITIONS}` }, async (t) => {
  const f = await startFixture(t);
  const ib = f.client();

  // A component and a container recipe that refers to it by !Ref, as CloudFormation would resolve it.
  const containerTemplate = readTemplate(path.join(DEFINITIONS, 'ib-samples__amazon-linux-2-container-image.yml'));
  const names = templateNames(containerTemplate, 'local');
  const componentProps = toSdkInput(evaluate(containerTemplate.Resources.Component!.Properties, names));
  const componentArn = (await ib.send(new CreateComponentCommand(componentProps as never))).componentBuildVersionArn!;
  const recipeProps = toSdkInput(evaluate(containerTemplate.Resources.Recipe!.Properties, { ...names, Component: componentArn }));
  const container = await ib.send(new CreateContainerRecipeCommand(recipeProps as CreateContainerRecipeCommandInput));
  const got = (await ib.send(new GetContainerRecipeCommand({ containerRecipeArn: container.containerRecipeArn }))).containerRecipe!;
  assert.equal(got.parentImage, 'amazonlinux:latest');
  assert.deepEqual(got.targetRepository, { service: 'ECR', repositoryName: 'sample-repository' });
  assert.equal(got.platform, 'Linux');

  // Image recipes on Amazon-managed (`aws`-owned) images and Kiln's managed components, with base64 user data.
  const replay = (file: string, resource: string, extra: Record<string, string> = {}) => {
    const template = readTemplate(path.join(DEFINITIONS, file));
    const props = toSdkInput(evaluate(template.Resources[resource]!.Properties, templateNames(template, 'local', extra)));
    return ib.send(new CreateImageRecipeCommand(props as CreateImageRecipeCommandInput));
  };
  const image = await replay('ib-samples__amazon-linux-2-with-latest-ssm-agent.yml', 'AmazonLinux2ImageRecipe');
  const recipe = (await ib.send(new GetImageRecipeCommand({ imageRecipeArn: image.imageRecipeArn }))).imageRecipe!;
  assert.equal(recipe.name, 'Amazon-Linux-2-with-latest-SSM-Agent');
  assert.deepEqual(recipe.components, [{ componentArn: 'arn:aws:imagebuilder:local:aws:component/update-linux/x.x.x' }]);
  assert.match(Buffer.from(recipe.additionalInstanceConfiguration?.userDataOverride ?? '', 'base64').toString(), /amazon-ssm-agent\.rpm/);
  const ubuntu = await replay('ib-samples__ubuntu-2004-with-latest-ssm-agent.yml', 'Ubuntu2004ImageRecipe');
  assert.ok(ubuntu.imageRecipeArn);
  // A recipe naming an Amazon component Kiln does not provide is still refused, naming that one only.
  await assert.rejects(replay('ib-samples__image-pipeline-shared-account-sample.yml', 'AmznLinuxImageRecipe', { ImageEncryptionKMSKey: 'alias/kiln-test' }), (e: Error) => {
    invalid('components[3].componentArn', 'stig-build-linux-high/x.x.x')(e);
    assert.doesNotMatch(e.message, /components\[[012]\]/, 'aws-cli-version-2-linux, python-3-linux and update-linux are Kiln-managed');
    return true;
  });
  await assert.rejects(replay('ib-samples__windows-server-with-latest-ssm-agent.yml', 'WindowsServer2019ImageRecipe'), invalid('components[0].componentArn', 'update-windows/x.x.x'));
});

test('DeleteImageRecipe and DeleteContainerRecipe refuse while a pipeline builds the recipe', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const comp = await component(ib);
  const account = /:(\d{12}):/.exec(comp)![1]!;
  const image = (await ib.send(new CreateImageRecipeCommand(imageRecipe(comp)))).imageRecipeArn!;
  const container = (await ib.send(new CreateContainerRecipeCommand(containerRecipe(comp)))).containerRecipeArn!;
  // Pipelines are another family's handlers; a stored pipeline record is all this check reads.
  const store = openStore(f.dataDir);
  for (const [name, data] of [['a', { imageRecipeArn: image }], ['b', { containerRecipeArn: container }]] as const) {
    const arn = `arn:aws:imagebuilder:local:${account}:image-pipeline/${name}`;
    await store.createResource({ accountId: account, region: 'local', type: 'image-pipeline', name, version: '', arn, data: { name, ...data }, build: 'none' });
  }
  await assert.rejects(ib.send(new DeleteImageRecipeCommand({ imageRecipeArn: image })), (e: Error) => {
    assert.ok(e instanceof ResourceDependencyException, e.name);
    assert.ok(e.message.includes(':image-pipeline/a'), e.message);
    return true;
  });
  await assert.rejects(ib.send(new DeleteContainerRecipeCommand({ containerRecipeArn: container })), ResourceDependencyException);
  await store.deleteResource(`arn:aws:imagebuilder:local:${account}:image-pipeline/a`);
  await store.close();
  await ib.send(new DeleteImageRecipeCommand({ imageRecipeArn: image }));
});
