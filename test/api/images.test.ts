import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  CancelImageCreationCommand,
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateDistributionConfigurationCommand,
  CreateImageCommand,
  CreateImagePipelineCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  DeleteImageCommand,
  GetImageCommand,
  IdempotentParameterMismatchException,
  ImagebuilderClient,
  InvalidPaginationTokenException,
  InvalidParameterCombinationException,
  InvalidParameterValueException,
  InvalidVersionNumberException,
  ListImageBuildVersionsCommand,
  ListImagePipelineImagesCommand,
  ListImagesCommand,
  PutImagePolicyCommand,
  ResourceDependencyException,
  ResourceInUseException,
  ResourceNotFoundException,
  StartImagePipelineExecutionCommand,
  UpdateImagePipelineCommand,
  UpdateInfrastructureConfigurationCommand,
  type CreateImageCommandInput,
} from '@aws-sdk/client-imagebuilder';
import { openStore, startServer } from '../../src/app/server-start.js';
import { createAccount } from '../../src/service/accounts.js';
import type { Store } from '../../src/store/store.js';
import { SAY_HI_DOCUMENT, startFixture, type Fixture } from './fixture.js';

const DOCKERFILE = 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}\n';

/** ARNs of what an image is built from, created through the SDK in one account. */
interface Refs {
  accountId: string;
  componentArn: string;
  imageRecipeArn: string;
  containerRecipeArn: string;
  infrastructureConfigurationArn: string;
  distributionConfigurationArn: string;
}

async function createRefs(ib: ImagebuilderClient): Promise<Refs> {
  const componentArn = (await ib.send(new CreateComponentCommand({ name: 'hello', semanticVersion: '1.0.0', platform: 'Linux', data: SAY_HI_DOCUMENT }))).componentBuildVersionArn!;
  const imageRecipeArn = (
    await ib.send(new CreateImageRecipeCommand({ name: 'Web Server', semanticVersion: '1.0.0', parentImage: 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x', components: [{ componentArn }], description: 'the web tier' }))
  ).imageRecipeArn!;
  const containerRecipeArn = (
    await ib.send(
      new CreateContainerRecipeCommand({
        containerType: 'DOCKER',
        name: 'app',
        semanticVersion: '2.1.0',
        parentImage: 'debian:12',
        targetRepository: { service: 'ECR', repositoryName: 'team/app' },
        components: [{ componentArn }],
        dockerfileTemplateData: DOCKERFILE,
        imageOsVersionOverride: 'Debian 12',
      }),
    )
  ).containerRecipeArn!;
  const infrastructureConfigurationArn = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'Build Infra', instanceProfileName: 'Profile', instanceTypes: ['ns.small'] })))
    .infrastructureConfigurationArn!;
  const distributionConfigurationArn = (
    await ib.send(new CreateDistributionConfigurationCommand({ name: 'ship', distributions: [{ region: 'local', amiDistributionConfiguration: { name: 'web {{ imagebuilder:buildDate }}' } }] }))
  ).distributionConfigurationArn!;
  return { accountId: imageRecipeArn.split(':')[4]!, componentArn, imageRecipeArn, containerRecipeArn, infrastructureConfigurationArn, distributionConfigurationArn };
}

interface Setup {
  f: Fixture;
  ib: ImagebuilderClient;
  store: Store;
  refs: Refs;
  otherAccount(): Promise<{ ib: ImagebuilderClient; refs: Refs }>;
}

async function setup(t: TestContext): Promise<Setup> {
  const f = await startFixture(t);
  const store = openStore(f.dataDir);
  t.after(() => store.close());
  const ib = f.client();
  return {
    f,
    ib,
    store,
    refs: await createRefs(ib),
    otherAccount: async () => {
      const { key } = await createAccount(store, 'other');
      const other = f.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
      return { ib: other, refs: await createRefs(other) };
    },
  };
}

function input(refs: Refs, overrides: Partial<CreateImageCommandInput> = {}): CreateImageCommandInput {
  return { imageRecipeArn: refs.imageRecipeArn, infrastructureConfigurationArn: refs.infrastructureConfigurationArn, ...overrides };
}

/** Sets an image's state straight in the store, as the build engine will. */
async function setStatus(store: Store, arn: string, status: string): Promise<void> {
  await store.updateResource(arn, (current) => ({ ...current.data, state: { status } }));
}

function expectError(type: new (...args: never[]) => Error, message?: RegExp) {
  return (e: Error) => {
    assert.ok(e instanceof type, `${e.name}: ${e.message}`);
    if (message) assert.match(e.message, message);
    return true;
  };
}

test('CreateImage stores a PENDING image with its recipe and configurations, and queues its build job durably', async (t) => {
  const { f, ib, store, refs } = await setup(t);
  const created = await ib.send(new CreateImageCommand(input(refs, { distributionConfigurationArn: refs.distributionConfigurationArn, tags: { team: 'web' }, clientToken: 'first' })));
  const base = `arn:aws:imagebuilder:local:${refs.accountId}:image/web-server`;
  assert.equal(created.imageBuildVersionArn, `${base}/1.0.0/1`);
  assert.equal(created.clientToken, 'first');
  assert.deepEqual(created.latestVersionReferences, {
    latestVersionArn: `${base}/x.x.x`,
    latestMajorVersionArn: `${base}/1.x.x`,
    latestMinorVersionArn: `${base}/1.0.x`,
    latestPatchVersionArn: `${base}/1.0.0`,
  });

  const image = (await ib.send(new GetImageCommand({ imageBuildVersionArn: created.imageBuildVersionArn }))).image!;
  assert.equal(image.arn, created.imageBuildVersionArn);
  assert.equal(image.name, 'Web Server');
  assert.equal(image.version, '1.0.0/1');
  assert.equal(image.type, 'AMI');
  assert.equal(image.platform, 'Linux');
  assert.deepEqual(image.state, { status: 'PENDING' });
  assert.equal(image.buildType, 'USER_INITIATED');
  // The recipe builds on a managed base.
  assert.equal(image.imageSource, 'AMAZON_MANAGED');
  assert.equal(image.enhancedImageMetadataEnabled, true);
  assert.deepEqual(image.imageTestsConfiguration, { imageTestsEnabled: true, timeoutMinutes: 720 });
  assert.deepEqual(image.outputResources, { amis: [] });
  assert.deepEqual(image.tags, { team: 'web' });
  assert.equal(image.sourcePipelineArn, undefined);
  assert.match(image.dateCreated ?? '', /^\d{4}-\d\d-\d\dT/);
  assert.equal(image.imageRecipe?.arn, refs.imageRecipeArn);
  assert.equal(image.imageRecipe?.description, 'the web tier');
  assert.deepEqual(image.imageRecipe?.components, [{ componentArn: refs.componentArn }]);
  assert.equal(image.containerRecipe, undefined);
  assert.equal(image.infrastructureConfiguration?.arn, refs.infrastructureConfigurationArn);
  assert.deepEqual(image.infrastructureConfiguration?.instanceTypes, ['ns.small']);
  assert.deepEqual(image.distributionConfiguration?.distributions, [{ region: 'local', amiDistributionConfiguration: { name: 'web {{ imagebuilder:buildDate }}' } }]);

  const jobs = await store.listJobs({ resourceArn: created.imageBuildVersionArn! });
  assert.deepEqual(
    jobs.map((j) => [j.kind, j.state]),
    [['build-image', 'queued']],
  );

  // The image shows the configuration it was built with, not a later edit of it.
  await ib.send(new UpdateInfrastructureConfigurationCommand({ infrastructureConfigurationArn: refs.infrastructureConfigurationArn, instanceProfileName: 'Profile', instanceTypes: ['vm.large'] }));
  const again = (await ib.send(new GetImageCommand({ imageBuildVersionArn: created.imageBuildVersionArn }))).image!;
  assert.deepEqual(again.infrastructureConfiguration?.instanceTypes, ['ns.small']);

  // A second server on the same data directory (as after a restart) sees the image and its queued job.
  const second = await startServer({ dataDir: f.dataDir, listen: '127.0.0.1:0', builds: false });
  t.after(() => second.close());
  const ib2 = new ImagebuilderClient({ endpoint: second.endpoint, region: 'local', credentials: f.credentials, maxAttempts: 1 });
  t.after(() => ib2.destroy());
  assert.deepEqual((await ib2.send(new GetImageCommand({ imageBuildVersionArn: created.imageBuildVersionArn }))).image?.state, { status: 'PENDING' });
  const reopened = openStore(f.dataDir);
  t.after(() => reopened.close());
  assert.equal((await reopened.listJobs({ resourceArn: created.imageBuildVersionArn!, state: 'queued' })).length, 1);
});

test('build numbers, version and wildcard ARNs resolve to the newest build', async (t) => {
  const { ib, refs } = await setup(t);
  const first = (await ib.send(new CreateImageCommand(input(refs)))).imageBuildVersionArn!;
  const second = (await ib.send(new CreateImageCommand(input(refs)))).imageBuildVersionArn!;
  assert.match(first, /\/web-server\/1\.0\.0\/1$/);
  assert.match(second, /\/web-server\/1\.0\.0\/2$/);
  const newer = (await ib.send(new CreateImageRecipeCommand({ name: 'Web Server', semanticVersion: '1.2.0', parentImage: 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x', components: [{ componentArn: refs.componentArn }] }))).imageRecipeArn!;
  const third = (await ib.send(new CreateImageCommand(input(refs, { imageRecipeArn: newer })))).imageBuildVersionArn!;
  assert.match(third, /\/web-server\/1\.2\.0\/1$/);

  const base = first.replace(/\/1\.0\.0\/1$/, '');
  const cases: [string, string][] = [
    [`${base}/1.0.0/1`, first],
    [`${base}/1.0.0`, second],
    [`${base}/1.0.x`, second],
    [`${base}/1.x.x`, third],
    [`${base}/x.x.x`, third],
  ];
  for (const [selector, want] of cases) {
    const got = await ib.send(new GetImageCommand({ imageBuildVersionArn: selector }));
    assert.equal(got.image?.arn, want, selector);
  }
  const refsOf = (await ib.send(new GetImageCommand({ imageBuildVersionArn: `${base}/1.0.0` }))).latestVersionReferences;
  assert.equal(refsOf?.latestPatchVersionArn, `${base}/1.0.0`);
  await assert.rejects(ib.send(new GetImageCommand({ imageBuildVersionArn: `${base}/x.1.x` })), expectError(InvalidVersionNumberException));
  await assert.rejects(ib.send(new GetImageCommand({ imageBuildVersionArn: `${base}/1.x.x/1` })), expectError(InvalidParameterValueException, /build number after a wildcard/));
  await assert.rejects(ib.send(new GetImageCommand({ imageBuildVersionArn: `${base}/1.0.0/9` })), expectError(ResourceNotFoundException));
  await assert.rejects(ib.send(new GetImageCommand({ imageBuildVersionArn: `${base}/3.x.x` })), expectError(ResourceNotFoundException));
  await assert.rejects(ib.send(new GetImageCommand({ imageBuildVersionArn: refs.imageRecipeArn })), expectError(InvalidParameterValueException, /imageBuildVersionArn/));
});

test('a container recipe makes a DOCKER image', async (t) => {
  const { ib, refs } = await setup(t);
  const arn = (await ib.send(new CreateImageCommand(input(refs, { imageRecipeArn: undefined, containerRecipeArn: refs.containerRecipeArn, enhancedImageMetadataEnabled: false })))).imageBuildVersionArn!;
  assert.match(arn, /:image\/app\/2\.1\.0\/1$/);
  const image = (await ib.send(new GetImageCommand({ imageBuildVersionArn: arn }))).image!;
  assert.equal(image.type, 'DOCKER');
  assert.equal(image.osVersion, 'Debian 12');
  assert.equal(image.enhancedImageMetadataEnabled, false);
  assert.deepEqual(image.outputResources, { containers: [] });
  assert.equal(image.containerRecipe?.arn, refs.containerRecipeArn);
  assert.deepEqual(image.containerRecipe?.targetRepository, { service: 'ECR', repositoryName: 'team/app' });
  assert.equal(image.imageRecipe, undefined);
});

test('CreateImage errors name the field, and nothing is half-written', async (t) => {
  const { ib, store, refs } = await setup(t);
  await assert.rejects(ib.send(new CreateImageCommand(input(refs, { containerRecipeArn: refs.containerRecipeArn }))), expectError(InvalidParameterCombinationException));
  await assert.rejects(ib.send(new CreateImageCommand(input(refs, { imageRecipeArn: undefined }))), expectError(InvalidParameterValueException, /imageRecipeArn: is required \(or 'containerRecipeArn'\)/));
  const gone = refs.infrastructureConfigurationArn.replace('/build-infra', '/gone');
  await assert.rejects(ib.send(new CreateImageCommand(input(refs, { infrastructureConfigurationArn: gone }))), expectError(InvalidParameterValueException, /infrastructureConfigurationArn: .*gone does not exist/));
  await assert.rejects(ib.send(new CreateImageCommand(input(refs, { imageRecipeArn: refs.containerRecipeArn }))), expectError(InvalidParameterValueException, /imageRecipeArn: .*not a valid image recipe ARN/));
  await assert.rejects(ib.send(new CreateImageCommand(input(refs, { imageRecipeArn: refs.imageRecipeArn.replace('1.0.0', '9.0.0') }))), expectError(InvalidParameterValueException, /imageRecipeArn: .*does not exist/));
  await assert.rejects(ib.send(new CreateImageCommand(input(refs, { distributionConfigurationArn: 'ship' }))), expectError(InvalidParameterValueException, /distributionConfigurationArn: /));
  // Every problem at once, each under its own path.
  await assert.rejects(
    ib.send(
      new CreateImageCommand(
        input(refs, {
          infrastructureConfigurationArn: gone,
          imageTestsConfiguration: { timeoutMinutes: 5 },
          workflows: [{ workflowArn: `arn:aws:imagebuilder:local:${refs.accountId}:workflow/build/mine/1.0.0` }],
          loggingConfiguration: { logGroupName: 'bad name!' },
          tags: { 'aws:reserved': 'x' },
        }),
      ),
    ),
    (e: Error) => {
      for (const path of ['infrastructureConfigurationArn', 'imageTestsConfiguration.timeoutMinutes', 'workflows\\[0\\]\\.workflowArn', 'executionRole: is required', 'loggingConfiguration.logGroupName', 'tags.aws:reserved']) {
        assert.match(e.message, new RegExp(path), path);
      }
      return true;
    },
  );
  assert.deepEqual((await ib.send(new ListImagesCommand({}))).imageVersionList, []);
  assert.deepEqual(await store.listJobs({}), []);
  // Kiln-managed workflows need no execution role.
  await ib.send(new CreateImageCommand(input(refs, { workflows: [{ workflowArn: 'arn:aws:imagebuilder:local:aws:workflow/build/build-image/x.x.x' }] })));
});

test('clientToken: a retry returns the first image; 20 concurrent requests make one image and one job', async (t) => {
  const { ib, store, refs } = await setup(t);
  const a = await ib.send(new CreateImageCommand(input(refs, { clientToken: 'tok-1' })));
  const b = await ib.send(new CreateImageCommand(input(refs, { clientToken: 'tok-1' })));
  assert.equal(b.imageBuildVersionArn, a.imageBuildVersionArn);
  await assert.rejects(ib.send(new CreateImageCommand(input(refs, { clientToken: 'tok-1', tags: { changed: 'yes' } }))), expectError(IdempotentParameterMismatchException));

  const results = await Promise.allSettled(Array.from({ length: 20 }, () => ib.send(new CreateImageCommand(input(refs, { containerRecipeArn: refs.containerRecipeArn, imageRecipeArn: undefined, clientToken: 'tok-many' })))));
  assert.ok(
    results.every((r) => r.status === 'fulfilled'),
    'every retry succeeds',
  );
  const arns = new Set(results.map((r) => (r as PromiseFulfilledResult<{ imageBuildVersionArn?: string }>).value.imageBuildVersionArn));
  assert.equal(arns.size, 1);
  const [arn] = [...arns];
  assert.match(arn ?? '', /:image\/app\/2\.1\.0\/1$/);
  assert.equal((await ib.send(new ListImageBuildVersionsCommand({ imageVersionArn: arn!.replace(/\/1$/, '') }))).imageSummaryList?.length, 1);
  assert.equal((await store.listJobs({ resourceArn: arn! })).length, 1);
  assert.equal((await store.listJobs({})).length, 2, 'one job per image, no more');
});

test('StartImagePipelineExecution builds the pipeline recipe; ListImagePipelineImages lists what it made', async (t) => {
  const { ib, store, refs, otherAccount } = await setup(t);
  const pipelineArn = (
    await ib.send(
      new CreateImagePipelineCommand({
        name: 'Nightly',
        imageRecipeArn: refs.imageRecipeArn,
        infrastructureConfigurationArn: refs.infrastructureConfigurationArn,
        distributionConfigurationArn: refs.distributionConfigurationArn,
        imageTestsConfiguration: { imageTestsEnabled: false, timeoutMinutes: 60 },
        imageTags: { built: 'kiln', stage: 'dev' },
        loggingConfiguration: { imageLogGroupName: '/kiln/nightly' },
      }),
    )
  ).imagePipelineArn!;
  const started = await ib.send(new StartImagePipelineExecutionCommand({ imagePipelineArn: pipelineArn, tags: { stage: 'prod' }, clientToken: 'run-1' }));
  assert.match(started.imageBuildVersionArn ?? '', /:image\/web-server\/1\.0\.0\/1$/);
  assert.equal(started.clientToken, 'run-1');
  const retried = await ib.send(new StartImagePipelineExecutionCommand({ imagePipelineArn: pipelineArn, tags: { stage: 'prod' }, clientToken: 'run-1' }));
  assert.equal(retried.imageBuildVersionArn, started.imageBuildVersionArn);

  const image = (await ib.send(new GetImageCommand({ imageBuildVersionArn: started.imageBuildVersionArn }))).image!;
  assert.equal(image.sourcePipelineArn, pipelineArn);
  assert.equal(image.sourcePipelineName, 'Nightly');
  assert.equal(image.buildType, 'USER_INITIATED');
  assert.deepEqual(image.state, { status: 'PENDING' });
  assert.deepEqual(image.tags, { built: 'kiln', stage: 'prod' }, "the execution's tags override the pipeline's imageTags");
  assert.deepEqual(image.imageTestsConfiguration, { imageTestsEnabled: false, timeoutMinutes: 60 });
  assert.deepEqual(image.loggingConfiguration, { logGroupName: '/kiln/nightly' });
  assert.equal(image.distributionConfiguration?.arn, refs.distributionConfigurationArn);
  assert.deepEqual(
    (await store.listJobs({ resourceArn: started.imageBuildVersionArn! })).map((j) => j.kind),
    ['build-image'],
  );

  // One run at a time: another start is refused until the first run ends.
  await assert.rejects(ib.send(new StartImagePipelineExecutionCommand({ imagePipelineArn: pipelineArn })), expectError(ResourceInUseException, /has a run under way/));
  await setStatus(store, started.imageBuildVersionArn!, 'AVAILABLE');
  const second = (await ib.send(new StartImagePipelineExecutionCommand({ imagePipelineArn: pipelineArn }))).imageBuildVersionArn!;
  await ib.send(new CreateImageCommand(input(refs))); // same recipe, not from the pipeline
  const listed = await ib.send(new ListImagePipelineImagesCommand({ imagePipelineArn: pipelineArn }));
  assert.deepEqual(
    listed.imageSummaryList?.map((s) => s.arn),
    [second, started.imageBuildVersionArn],
  );
  assert.equal(listed.imageSummaryList?.[0]?.version, '1.0.0/2');
  assert.equal(listed.imageSummaryList?.[0]?.owner, refs.accountId);
  const byVersion = await ib.send(new ListImagePipelineImagesCommand({ imagePipelineArn: pipelineArn, filters: [{ name: 'version', values: ['1.0.0/1'] }] }));
  assert.deepEqual(
    byVersion.imageSummaryList?.map((s) => s.arn),
    [started.imageBuildVersionArn],
  );
  assert.equal((await ib.send(new ListImagePipelineImagesCommand({ imagePipelineArn: pipelineArn, filters: [{ name: 'name', values: ['Other'] }] }))).imageSummaryList?.length, 0);
  await assert.rejects(ib.send(new ListImagePipelineImagesCommand({ imagePipelineArn: pipelineArn, filters: [{ name: 'platform', values: ['Linux'] }] })), expectError(InvalidParameterValueException, /'platform' is not a filter of ListImagePipelineImages/));
  await assert.rejects(ib.send(new ListImagePipelineImagesCommand({ imagePipelineArn: `${pipelineArn}-gone` })), expectError(ResourceNotFoundException));

  await ib.send(new UpdateImagePipelineCommand({ imagePipelineArn: pipelineArn, imageRecipeArn: refs.imageRecipeArn, infrastructureConfigurationArn: refs.infrastructureConfigurationArn, status: 'DISABLED' }));
  await assert.rejects(ib.send(new StartImagePipelineExecutionCommand({ imagePipelineArn: pipelineArn })), expectError(ResourceInUseException, /DISABLED/));
  await assert.rejects(ib.send(new StartImagePipelineExecutionCommand({ imagePipelineArn: `${pipelineArn}-gone` })), expectError(ResourceNotFoundException));
  await assert.rejects(ib.send(new StartImagePipelineExecutionCommand({ imagePipelineArn: refs.imageRecipeArn })), expectError(InvalidParameterValueException, /imagePipelineArn/));

  const other = await otherAccount();
  await assert.rejects(other.ib.send(new StartImagePipelineExecutionCommand({ imagePipelineArn: pipelineArn })), expectError(ResourceNotFoundException));
  await assert.rejects(other.ib.send(new ListImagePipelineImagesCommand({ imagePipelineArn: pipelineArn })), expectError(ResourceNotFoundException));
});

test('ListImages and ListImageBuildVersions: versions, builds, filters, byName, deprecated, pagination', async (t) => {
  const { ib, store, refs } = await setup(t);
  const web1 = (await ib.send(new CreateImageCommand(input(refs)))).imageBuildVersionArn!;
  const web2 = (await ib.send(new CreateImageCommand(input(refs)))).imageBuildVersionArn!;
  const newer = (await ib.send(new CreateImageRecipeCommand({ name: 'Web Server', semanticVersion: '1.2.0', parentImage: 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x', components: [{ componentArn: refs.componentArn }] }))).imageRecipeArn!;
  const web3 = (await ib.send(new CreateImageCommand(input(refs, { imageRecipeArn: newer })))).imageBuildVersionArn!;
  const app = (await ib.send(new CreateImageCommand(input(refs, { imageRecipeArn: undefined, containerRecipeArn: refs.containerRecipeArn })))).imageBuildVersionArn!;
  const base = `arn:aws:imagebuilder:local:${refs.accountId}:image`;

  const all = (await ib.send(new ListImagesCommand({}))).imageVersionList!;
  assert.deepEqual(
    all.map((v) => [v.arn, v.name, v.version, v.type]),
    [
      [`${base}/app/2.1.0`, 'app', '2.1.0', 'DOCKER'],
      [`${base}/web-server/1.0.0`, 'Web Server', '1.0.0', 'AMI'],
      [`${base}/web-server/1.2.0`, 'Web Server', '1.2.0', 'AMI'],
    ],
  );
  assert.equal(all[1]?.owner, refs.accountId);
  assert.equal(all[1]?.platform, 'Linux');
  assert.equal(all[1]?.buildType, 'USER_INITIATED');
  assert.equal(all[0]?.osVersion, 'Debian 12');

  const names = async (filters: { name: string; values: string[] }[], extra: object = {}) => ((await ib.send(new ListImagesCommand({ filters, ...extra }))).imageVersionList ?? []).map((v) => `${v.name}@${v.version}`);
  assert.deepEqual(await names([{ name: 'type', values: ['DOCKER'] }]), ['app@2.1.0']);
  assert.deepEqual(await names([{ name: 'name', values: ['Web Server'] }, { name: 'version', values: ['1.2.0'] }]), ['Web Server@1.2.0']);
  // The container recipe overrides its OS version; the machine images take theirs from the managed base they build on.
  assert.deepEqual(await names([{ name: 'osVersion', values: ['Debian 12'] }]), ['app@2.1.0', 'Web Server@1.0.0', 'Web Server@1.2.0']);
  assert.deepEqual(await names([{ name: 'osVersion', values: ['Ubuntu 22.04'] }]), []);
  assert.deepEqual(await names([{ name: 'platform', values: ['Windows'] }]), []);
  await assert.rejects(ib.send(new ListImagesCommand({ filters: [{ name: 'parentImage', values: ['x'] }] })), expectError(InvalidParameterValueException, /'parentImage' is not a filter of ListImages/));

  const byName = (await ib.send(new ListImagesCommand({ byName: true }))).imageVersionList!;
  assert.deepEqual(
    byName.map((v) => [v.arn, v.version]),
    [
      [`${base}/app/x.x.x`, '2.1.0'],
      [`${base}/web-server/x.x.x`, '1.2.0'],
    ],
  );
  assert.deepEqual(
    (await ib.send(new ListImagesCommand({ owner: 'Amazon' }))).imageVersionList?.map((i) => [i.name, i.owner, i.type]),
    [
      ['debian-12-container-x86', 'aws', 'DOCKER'],
      ['debian-12-x86', 'aws', 'AMI'],
    ],
    'only the Kiln-managed bases are listed as Amazon',
  );
  assert.deepEqual((await ib.send(new ListImagesCommand({ owner: 'Shared' }))).imageVersionList, []);
  await assert.rejects(ib.send(new ListImagesCommand({ owner: 'Everyone' as 'Self' })), expectError(InvalidParameterValueException, /owner/));

  // A deprecated build drops out of ListImages unless includeDeprecated is set.
  await setStatus(store, web3, 'DEPRECATED');
  assert.deepEqual(await names([{ name: 'name', values: ['Web Server'] }]), ['Web Server@1.0.0']);
  assert.deepEqual(await names([{ name: 'name', values: ['Web Server'] }], { includeDeprecated: true }), ['Web Server@1.0.0', 'Web Server@1.2.0']);

  const builds = (await ib.send(new ListImageBuildVersionsCommand({ imageVersionArn: `${base}/web-server/1.0.0` }))).imageSummaryList!;
  assert.deepEqual(
    builds.map((s) => [s.arn, s.version, s.state?.status]),
    [
      [web2, '1.0.0/2', 'PENDING'],
      [web1, '1.0.0/1', 'PENDING'],
    ],
  );
  assert.deepEqual(builds[0]?.outputResources, { amis: [] });
  const everything = (await ib.send(new ListImageBuildVersionsCommand({}))).imageSummaryList!.map((s) => s.arn);
  assert.deepEqual(everything, [app, web3, web2, web1]);
  await assert.rejects(ib.send(new ListImageBuildVersionsCommand({ imageVersionArn: `${base}/web-server/1.x.x` })), expectError(InvalidParameterValueException, /imageVersionArn/));

  const seen: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ib.send(new ListImageBuildVersionsCommand({ maxResults: 1, nextToken }));
    assert.ok((page.imageSummaryList?.length ?? 0) <= 1);
    seen.push(...(page.imageSummaryList ?? []).map((s) => s.arn!));
    nextToken = page.nextToken;
  } while (nextToken);
  assert.deepEqual(seen, everything);
  await assert.rejects(ib.send(new ListImagesCommand({ nextToken: 'forged' })), expectError(InvalidPaginationTokenException));
  await assert.rejects(ib.send(new ListImagesCommand({ maxResults: 26 })), expectError(InvalidParameterValueException));
});

test('CancelImageCreation and DeleteImage follow the image state', async (t) => {
  const { ib, store, refs } = await setup(t);
  const pending = (await ib.send(new CreateImageCommand(input(refs)))).imageBuildVersionArn!;
  await assert.rejects(ib.send(new DeleteImageCommand({ imageBuildVersionArn: pending })), expectError(ResourceDependencyException, /PENDING/));

  const cancelled = await ib.send(new CancelImageCreationCommand({ imageBuildVersionArn: pending, clientToken: 'stop-1' }));
  assert.equal(cancelled.imageBuildVersionArn, pending);
  assert.equal(cancelled.clientToken, 'stop-1');
  const state = (await ib.send(new GetImageCommand({ imageBuildVersionArn: pending }))).image?.state;
  assert.equal(state?.status, 'CANCELLED');
  assert.match(state?.reason ?? '', /cancelled/);
  assert.deepEqual(
    (await store.listJobs({ resourceArn: pending })).map((j) => j.state),
    ['cancelled'],
  );
  assert.equal((await ib.send(new CancelImageCreationCommand({ imageBuildVersionArn: pending, clientToken: 'stop-1' }))).imageBuildVersionArn, pending, 'a retry answers as the first call');
  await assert.rejects(ib.send(new CancelImageCreationCommand({ imageBuildVersionArn: pending })), expectError(ResourceInUseException, /CANCELLED/));

  for (const status of ['CREATING', 'BUILDING', 'TESTING', 'DISTRIBUTING', 'INTEGRATING']) {
    const running = (await ib.send(new CreateImageCommand(input(refs)))).imageBuildVersionArn!;
    await setStatus(store, running, status);
    await assert.rejects(ib.send(new DeleteImageCommand({ imageBuildVersionArn: running })), expectError(ResourceDependencyException, new RegExp(status)));
    await ib.send(new CancelImageCreationCommand({ imageBuildVersionArn: running }));
    assert.equal((await ib.send(new GetImageCommand({ imageBuildVersionArn: running }))).image?.state?.status, 'CANCELLED', `a ${status} build can be cancelled`);
  }
  const building = (await ib.send(new CreateImageCommand(input(refs)))).imageBuildVersionArn!;
  await setStatus(store, building, 'AVAILABLE');
  await assert.rejects(ib.send(new CancelImageCreationCommand({ imageBuildVersionArn: building })), expectError(ResourceInUseException, /AVAILABLE/));
  assert.equal((await ib.send(new DeleteImageCommand({ imageBuildVersionArn: building }))).imageBuildVersionArn, building);
  await assert.rejects(ib.send(new GetImageCommand({ imageBuildVersionArn: building })), expectError(ResourceNotFoundException));
  await assert.rejects(ib.send(new DeleteImageCommand({ imageBuildVersionArn: building })), expectError(ResourceNotFoundException));

  assert.equal((await ib.send(new DeleteImageCommand({ imageBuildVersionArn: pending }))).imageBuildVersionArn, pending, 'a cancelled image can be deleted');
  await assert.rejects(ib.send(new DeleteImageCommand({ imageBuildVersionArn: pending.replace(/\/1$/, '') })), expectError(InvalidParameterValueException, /build version ARN/));
  await assert.rejects(ib.send(new CancelImageCreationCommand({ imageBuildVersionArn: pending.replace(/\/1$/, '/x') })), expectError(InvalidParameterValueException));
});

test('accounts are isolated: images and the resources they are built from', async (t) => {
  const { ib, refs, otherAccount } = await setup(t);
  const mine = (await ib.send(new CreateImageCommand(input(refs)))).imageBuildVersionArn!;
  const other = await otherAccount();
  assert.deepEqual((await other.ib.send(new ListImagesCommand({}))).imageVersionList, []);
  assert.deepEqual((await other.ib.send(new ListImageBuildVersionsCommand({ imageVersionArn: mine.replace(/\/1$/, '') }))).imageSummaryList, []);
  await assert.rejects(other.ib.send(new GetImageCommand({ imageBuildVersionArn: mine })), expectError(ResourceNotFoundException));
  await assert.rejects(other.ib.send(new GetImageCommand({ imageBuildVersionArn: mine.replace(/1\.0\.0\/1$/, 'x.x.x') })), expectError(ResourceNotFoundException));
  await assert.rejects(other.ib.send(new DeleteImageCommand({ imageBuildVersionArn: mine })), expectError(ResourceNotFoundException));
  await assert.rejects(other.ib.send(new CancelImageCreationCommand({ imageBuildVersionArn: mine })), expectError(ResourceNotFoundException));
  await assert.rejects(other.ib.send(new CreateImageCommand(input(other.refs, { imageRecipeArn: refs.imageRecipeArn }))), expectError(InvalidParameterValueException, /imageRecipeArn: .*not visible/));
  await assert.rejects(
    other.ib.send(new CreateImageCommand(input(other.refs, { infrastructureConfigurationArn: refs.infrastructureConfigurationArn }))),
    expectError(InvalidParameterValueException, /infrastructureConfigurationArn: .*does not exist/),
  );
  const theirs = (await other.ib.send(new CreateImageCommand(input(other.refs)))).imageBuildVersionArn!;
  assert.match(theirs, /:image\/web-server\/1\.0\.0\/1$/, 'build numbers count per account');
  assert.notEqual(theirs, mine);
  assert.deepEqual((await ib.send(new GetImageCommand({ imageBuildVersionArn: mine }))).image?.state, { status: 'PENDING' });
});

test('an image shared by a resource policy is readable and listed under Shared, and only there', async (t) => {
  const { ib, refs, otherAccount } = await setup(t);
  const mine = (await ib.send(new CreateImageCommand(input(refs)))).imageBuildVersionArn!;
  const other = await otherAccount();
  const otherId = /:(\d{12}):/.exec(other.refs.infrastructureConfigurationArn)![1]!;
  const policy = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: [otherId] }, Action: ['imagebuilder:GetImage', 'imagebuilder:ListImages'], Resource: [mine] }],
  });
  await ib.send(new PutImagePolicyCommand({ imageArn: mine, policy }));
  assert.equal((await other.ib.send(new GetImageCommand({ imageBuildVersionArn: mine }))).image?.arn, mine);
  assert.equal((await other.ib.send(new GetImageCommand({ imageBuildVersionArn: mine.replace(/1\.0\.0\/1$/, 'x.x.x') }))).image?.arn, mine);
  const shared = (await other.ib.send(new ListImagesCommand({ owner: 'Shared' }))).imageVersionList ?? [];
  assert.deepEqual(shared.map((v) => v.owner), [/:(\d{12}):/.exec(mine)![1]]);
  assert.deepEqual((await other.ib.send(new ListImagesCommand({}))).imageVersionList, [], 'Self lists only its own');
  // Sharing grants reading, never deleting.
  await assert.rejects(other.ib.send(new DeleteImageCommand({ imageBuildVersionArn: mine })), expectError(ResourceNotFoundException));
});
