import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateDistributionConfigurationCommand,
  CreateInfrastructureConfigurationCommand,
  DeleteDistributionConfigurationCommand,
  DeleteInfrastructureConfigurationCommand,
  GetDistributionConfigurationCommand,
  GetInfrastructureConfigurationCommand,
  IdempotentParameterMismatchException,
  InvalidPaginationTokenException,
  InvalidParameterValueException,
  ListDistributionConfigurationsCommand,
  ListInfrastructureConfigurationsCommand,
  ResourceAlreadyExistsException,
  ResourceDependencyException,
  ResourceNotFoundException,
  UpdateDistributionConfigurationCommand,
  UpdateInfrastructureConfigurationCommand,
  type CreateDistributionConfigurationCommandInput,
  type CreateInfrastructureConfigurationCommandInput,
  ImagebuilderClient,
} from '@aws-sdk/client-imagebuilder';
import { openStore, startServer } from '../../src/app/server-start.js';
import { isKilnError } from '../../src/domain/errors.js';
import { createAccount } from '../../src/service/accounts.js';
import { configurationHandlers } from '../../src/service/configurations.js';
import { readTemplate } from './cfn.js';
import { readCredentials, startFixture } from './fixture.js';
import { conformanceDir } from '../helpers/corpus.js';

const accountOf = (arn: string | undefined) => /:(\d{12}):/.exec(arn ?? '')?.[1] ?? '';

function infra(overrides: Partial<CreateInfrastructureConfigurationCommandInput> = {}): CreateInfrastructureConfigurationCommandInput {
  return { name: 'Build Infra', instanceProfileName: 'ImageBuilderProfile', ...overrides };
}

function dist(overrides: Partial<CreateDistributionConfigurationCommandInput> = {}): CreateDistributionConfigurationCommandInput {
  return { name: 'Ship It', distributions: [{ region: 'local', amiDistributionConfiguration: { name: 'app-{{ imagebuilder:buildDate }}' } }], ...overrides };
}

/** Asserts an InvalidParameterValueException whose message names every one of `fields`. */
function namesFields(...fields: string[]) {
  return (e: Error) => {
    assert.ok(e instanceof InvalidParameterValueException, `${e.name}: ${e.message}`);
    for (const f of fields) assert.ok(e.message.includes(f), `message names ${f}: ${e.message}`);
    return true;
  };
}

test('infrastructure configurations: create, get, list, update, delete', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const created = await ib.send(
    new CreateInfrastructureConfigurationCommand(
      infra({
        description: 'builds in a sandbox',
        instanceTypes: ['ns.medium', 't3.micro'],
        securityGroupIds: ['sg-1'],
        subnetId: 'subnet-1',
        keyPair: 'my-key',
        logging: { s3Logs: { s3BucketName: 'logs', s3KeyPrefix: 'ib/' } },
        snsTopicArn: 'arn:aws:sns:local:123456789012:builds',
        resourceTags: { purpose: 'build' },
        instanceMetadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2 },
        placement: { availabilityZone: 'local-a', tenancy: 'default' },
        tags: { team: 'a' },
      }),
    ),
  );
  const account = accountOf(created.infrastructureConfigurationArn);
  assert.equal(created.infrastructureConfigurationArn, `arn:aws:imagebuilder:local:${account}:infrastructure-configuration/build-infra`);
  assert.ok(created.clientToken);

  const got = (await ib.send(new GetInfrastructureConfigurationCommand({ infrastructureConfigurationArn: created.infrastructureConfigurationArn }))).infrastructureConfiguration;
  assert.equal(got?.name, 'Build Infra');
  assert.deepEqual(got?.instanceTypes, ['ns.medium', 't3.micro'], 'instance types are recorded as written');
  assert.equal(got?.terminateInstanceOnFailure, true, 'defaults to true');
  assert.deepEqual(got?.logging, { s3Logs: { s3BucketName: 'logs', s3KeyPrefix: 'ib/' } });
  assert.deepEqual(got?.instanceMetadataOptions, { httpTokens: 'required', httpPutResponseHopLimit: 2 });
  assert.deepEqual(got?.placement, { availabilityZone: 'local-a', tenancy: 'default' });
  assert.deepEqual(got?.tags, { team: 'a' });
  assert.deepEqual(got?.resourceTags, { purpose: 'build' });
  assert.equal(got?.snsTopicArn, 'arn:aws:sns:local:123456789012:builds');
  assert.deepEqual([got?.securityGroupIds, got?.subnetId, got?.keyPair, got?.instanceProfileName], [['sg-1'], 'subnet-1', 'my-key', 'ImageBuilderProfile']);
  assert.match(got?.dateCreated ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(got?.dateUpdated, undefined);

  await ib.send(new CreateInfrastructureConfigurationCommand(infra({ name: 'another', instanceTypes: ['vm.large'] })));
  const list = await ib.send(new ListInfrastructureConfigurationsCommand({}));
  assert.deepEqual(list.infrastructureConfigurationSummaryList?.map((s) => s.name), ['another', 'Build Infra']);
  const summary = list.infrastructureConfigurationSummaryList?.[1];
  assert.deepEqual([summary?.arn, summary?.instanceProfileName, summary?.description], [created.infrastructureConfigurationArn, 'ImageBuilderProfile', 'builds in a sandbox']);
  assert.deepEqual(summary?.instanceTypes, ['ns.medium', 't3.micro']);
  const filtered = await ib.send(new ListInfrastructureConfigurationsCommand({ filters: [{ name: 'name', values: ['another'] }] }));
  assert.deepEqual(filtered.infrastructureConfigurationSummaryList?.map((s) => s.name), ['another']);
  await assert.rejects(ib.send(new ListInfrastructureConfigurationsCommand({ filters: [{ name: 'platform', values: ['Linux'] }] })), namesFields('filters[0].name'));

  const updated = await ib.send(
    new UpdateInfrastructureConfigurationCommand({
      infrastructureConfigurationArn: created.infrastructureConfigurationArn,
      instanceProfileName: 'OtherProfile',
      instanceTypes: ['m5.large'],
      terminateInstanceOnFailure: false,
      clientToken: 'upd-1',
    }),
  );
  assert.deepEqual(updated.infrastructureConfigurationArn, created.infrastructureConfigurationArn);
  assert.equal(updated.clientToken, 'upd-1');
  const after = (await ib.send(new GetInfrastructureConfigurationCommand({ infrastructureConfigurationArn: created.infrastructureConfigurationArn }))).infrastructureConfiguration;
  assert.equal(after?.instanceProfileName, 'OtherProfile');
  assert.deepEqual(after?.instanceTypes, ['m5.large']);
  assert.equal(after?.terminateInstanceOnFailure, false);
  assert.equal(after?.description, undefined, 'update replaces every mutable field; omitted ones are cleared');
  assert.equal(after?.logging, undefined);
  assert.deepEqual(after?.tags, { team: 'a' }, 'tags are not changed by Update');
  assert.equal(after?.name, 'Build Infra');
  assert.equal(after?.dateCreated, got?.dateCreated);
  assert.match(after?.dateUpdated ?? '', /^\d{4}-/);

  const deleted = await ib.send(new DeleteInfrastructureConfigurationCommand({ infrastructureConfigurationArn: created.infrastructureConfigurationArn }));
  assert.equal(deleted.infrastructureConfigurationArn, created.infrastructureConfigurationArn);
  await assert.rejects(ib.send(new GetInfrastructureConfigurationCommand({ infrastructureConfigurationArn: created.infrastructureConfigurationArn })), ResourceNotFoundException);
  await assert.rejects(ib.send(new DeleteInfrastructureConfigurationCommand({ infrastructureConfigurationArn: created.infrastructureConfigurationArn })), ResourceNotFoundException);
  await assert.rejects(
    ib.send(new UpdateInfrastructureConfigurationCommand({ infrastructureConfigurationArn: created.infrastructureConfigurationArn, instanceProfileName: 'p' })),
    ResourceNotFoundException,
  );
});

test('distribution configurations: create, get, list, update, delete', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const distributions = [
    {
      region: 'local',
      amiDistributionConfiguration: {
        name: 'golden (x86_64) {{ imagebuilder:buildDate }}',
        description: 'built {{ imagebuilder:buildDate }}',
        targetAccountIds: ['123456789012'],
        amiTags: { Name: 'golden', 'kiln:version': '{{ imagebuilder:buildVersion }}' },
        kmsKeyId: 'alias/kiln',
        launchPermission: { userIds: ['210987654321'], userGroups: ['all'], organizationArns: ['arn:aws:organizations::123456789012:organization/o-abcdefghij'] },
      },
      containerDistributionConfiguration: { targetRepository: { service: 'ECR' as const, repositoryName: 'apps/web' }, containerTags: ['latest', '1.0'], description: 'web' },
      s3ExportConfiguration: { roleName: 'vmimport', diskImageFormat: 'RAW' as const, s3Bucket: 'exports', s3Prefix: 'disks/' },
      launchTemplateConfigurations: [{ launchTemplateId: 'lt-0123456789abcdef0', setDefaultVersion: true }],
      fastLaunchConfigurations: [{ enabled: false }],
    },
  ];
  const created = await ib.send(new CreateDistributionConfigurationCommand({ name: 'Golden Ship', description: 'everywhere', distributions, tags: { team: 'b' } }));
  const account = accountOf(created.distributionConfigurationArn);
  assert.equal(created.distributionConfigurationArn, `arn:aws:imagebuilder:local:${account}:distribution-configuration/golden-ship`);

  const got = (await ib.send(new GetDistributionConfigurationCommand({ distributionConfigurationArn: created.distributionConfigurationArn }))).distributionConfiguration;
  assert.equal(got?.name, 'Golden Ship');
  assert.equal(got?.description, 'everywhere');
  assert.deepEqual(got?.distributions, distributions);
  assert.equal(got?.timeoutMinutes, 720);
  assert.deepEqual(got?.tags, { team: 'b' });
  assert.match(got?.dateCreated ?? '', /^\d{4}-/);

  await ib.send(new CreateDistributionConfigurationCommand(dist({ name: 'containers', distributions: [{ region: 'local', containerDistributionConfiguration: { targetRepository: { service: 'ECR', repositoryName: 'r' } } }] })));
  const list = await ib.send(new ListDistributionConfigurationsCommand({}));
  assert.deepEqual(list.distributionConfigurationSummaryList?.map((s) => [s.name, s.regions]), [['containers', ['local']], ['Golden Ship', ['local']]]);
  assert.deepEqual(list.distributionConfigurationSummaryList?.[1]?.tags, { team: 'b' });
  const filtered = await ib.send(new ListDistributionConfigurationsCommand({ filters: [{ name: 'name', values: ['Golden Ship'] }] }));
  assert.deepEqual(filtered.distributionConfigurationSummaryList?.map((s) => s.arn), [created.distributionConfigurationArn]);

  const replacement = [{ region: 'local', containerDistributionConfiguration: { targetRepository: { service: 'ECR' as const, repositoryName: 'only-this' } } }];
  const updated = await ib.send(new UpdateDistributionConfigurationCommand({ distributionConfigurationArn: created.distributionConfigurationArn, distributions: replacement }));
  assert.equal(updated.distributionConfigurationArn, created.distributionConfigurationArn);
  assert.ok(updated.clientToken);
  const after = (await ib.send(new GetDistributionConfigurationCommand({ distributionConfigurationArn: created.distributionConfigurationArn }))).distributionConfiguration;
  assert.deepEqual(after?.distributions, replacement, 'Update replaces the distributions wholesale');
  assert.equal(after?.description, undefined);
  assert.deepEqual(after?.tags, { team: 'b' });
  assert.equal(after?.dateCreated, got?.dateCreated);
  assert.match(after?.dateUpdated ?? '', /^\d{4}-/);

  await ib.send(new DeleteDistributionConfigurationCommand({ distributionConfigurationArn: created.distributionConfigurationArn }));
  await assert.rejects(ib.send(new GetDistributionConfigurationCommand({ distributionConfigurationArn: created.distributionConfigurationArn })), ResourceNotFoundException);
});

test('bad input is refused with every offending field named; duplicates and bad ARNs too', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  await assert.rejects(
    ib.send(
      new CreateInfrastructureConfigurationCommand(
        infra({
          name: 'x',
          instanceProfileName: 'bad profile!',
          instanceTypes: ['ns.small', 'banana'],
          snsTopicArn: 'arn:aws:sqs:local:123456789012:q',
          instanceMetadataOptions: { httpTokens: 'sometimes', httpPutResponseHopLimit: 65 },
          placement: { tenancy: 'shared' as 'default', hostId: 'h-1' },
          resourceTags: { 'aws:owner': 'me' },
        }),
      ),
    ),
    namesFields('name', 'instanceProfileName', 'instanceTypes[1]', 'snsTopicArn', 'instanceMetadataOptions.httpTokens', 'instanceMetadataOptions.httpPutResponseHopLimit', 'placement.tenancy', 'resourceTags.aws:owner'),
  );
  await assert.rejects(
    ib.send(
      new CreateDistributionConfigurationCommand(
        dist({
          distributions: [
            { region: 'local', amiDistributionConfiguration: { name: 'AmazonLinux2-EKS-1.27', targetAccountIds: ['42'], launchPermission: { userGroups: ['admins'] } } },
            { region: 'local', s3ExportConfiguration: { roleName: 'r', diskImageFormat: 'QCOW2' as 'RAW', s3Bucket: 'b' } },
            { region: 'Bad Region' },
          ],
        }),
      ),
    ),
    namesFields(
      'distributions[0].amiDistributionConfiguration.name',
      '{{ imagebuilder:buildDate }}',
      'distributions[0].amiDistributionConfiguration.targetAccountIds[0]',
      'distributions[0].amiDistributionConfiguration.launchPermission.userGroups[0]',
      'distributions[1].region',
      'distributions[1].s3ExportConfiguration.diskImageFormat',
      'distributions[2].region',
      'distributions[2]: one or more outputs',
    ),
  );
  await assert.rejects(ib.send(new CreateDistributionConfigurationCommand(dist({ distributions: [] }))), namesFields('distributions'));

  const first = await ib.send(new CreateInfrastructureConfigurationCommand(infra()));
  await assert.rejects(ib.send(new CreateInfrastructureConfigurationCommand(infra())), ResourceAlreadyExistsException);
  await assert.rejects(ib.send(new CreateInfrastructureConfigurationCommand(infra({ name: 'build infra' }))), ResourceAlreadyExistsException, 'names differing only in case share an ARN');
  await ib.send(new CreateDistributionConfigurationCommand(dist()));
  await assert.rejects(ib.send(new CreateDistributionConfigurationCommand(dist())), ResourceAlreadyExistsException);

  await assert.rejects(ib.send(new UpdateInfrastructureConfigurationCommand({ infrastructureConfigurationArn: first.infrastructureConfigurationArn, instanceProfileName: 'p', instanceTypes: ['huge'] })), namesFields('instanceTypes[0]'));
  for (const arn of ['not-an-arn', first.infrastructureConfigurationArn!.replace('infrastructure-configuration', 'distribution-configuration'), `${first.infrastructureConfigurationArn!}/1.0.0`]) {
    await assert.rejects(ib.send(new GetInfrastructureConfigurationCommand({ infrastructureConfigurationArn: arn })), (e: Error) => e.name !== 'ServiceException', arn);
  }
  await assert.rejects(ib.send(new GetInfrastructureConfigurationCommand({ infrastructureConfigurationArn: 'not-an-arn' })), namesFields('infrastructureConfigurationArn'));
  await assert.rejects(ib.send(new GetDistributionConfigurationCommand({ distributionConfigurationArn: first.infrastructureConfigurationArn })), namesFields('distributionConfigurationArn'));
});

test('clientToken: replays answer the same, other input is a mismatch, concurrency makes one', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const a = await ib.send(new CreateInfrastructureConfigurationCommand(infra({ clientToken: 'tok-1' })));
  const b = await ib.send(new CreateInfrastructureConfigurationCommand(infra({ clientToken: 'tok-1' })));
  assert.equal(b.infrastructureConfigurationArn, a.infrastructureConfigurationArn);
  assert.equal(b.clientToken, 'tok-1');
  await assert.rejects(ib.send(new CreateInfrastructureConfigurationCommand(infra({ clientToken: 'tok-1', description: 'other' }))), IdempotentParameterMismatchException);

  const update = { infrastructureConfigurationArn: a.infrastructureConfigurationArn, instanceProfileName: 'P2', clientToken: 'upd' };
  await ib.send(new UpdateInfrastructureConfigurationCommand(update));
  const replay = await ib.send(new UpdateInfrastructureConfigurationCommand(update));
  assert.equal(replay.clientToken, 'upd');
  await assert.rejects(ib.send(new UpdateInfrastructureConfigurationCommand({ ...update, instanceProfileName: 'P3' })), IdempotentParameterMismatchException);
  const got = await ib.send(new GetInfrastructureConfigurationCommand({ infrastructureConfigurationArn: a.infrastructureConfigurationArn }));
  assert.equal(got.infrastructureConfiguration?.instanceProfileName, 'P2');

  const d = await ib.send(new CreateDistributionConfigurationCommand(dist({ clientToken: 'tok-d' })));
  assert.equal((await ib.send(new CreateDistributionConfigurationCommand(dist({ clientToken: 'tok-d' })))).distributionConfigurationArn, d.distributionConfigurationArn);
  await assert.rejects(ib.send(new CreateDistributionConfigurationCommand(dist({ clientToken: 'tok-d', description: 'x' }))), IdempotentParameterMismatchException);

  const many = await Promise.allSettled(Array.from({ length: 50 }, () => ib.send(new CreateDistributionConfigurationCommand(dist({ name: 'many', clientToken: 'tok-many' })))));
  assert.ok(many.every((r) => r.status === 'fulfilled'), 'all 50 answer success');
  const named = await ib.send(new ListDistributionConfigurationsCommand({ filters: [{ name: 'name', values: ['many'] }] }));
  assert.equal(named.distributionConfigurationSummaryList?.length, 1);

  // Retries of one update racing each other must leave the configuration in place, with the new data.
  const racing = { distributionConfigurationArn: d.distributionConfigurationArn, distributions: [{ region: 'local', containerDistributionConfiguration: { targetRepository: { service: 'ECR' as const, repositoryName: 'raced' } } }], clientToken: 'tok-race' };
  const raced = await Promise.allSettled(Array.from({ length: 20 }, () => ib.send(new UpdateDistributionConfigurationCommand(racing))));
  assert.ok(raced.some((r) => r.status === 'fulfilled'));
  const final = await ib.send(new GetDistributionConfigurationCommand({ distributionConfigurationArn: d.distributionConfigurationArn }));
  assert.equal(final.distributionConfiguration?.distributions?.[0]?.containerDistributionConfiguration?.targetRepository?.repositoryName, 'raced');
});

test('pagination: 1-25 per page, opaque tokens, bad tokens rejected', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const names = Array.from({ length: 7 }, (_, i) => `infra-${i}`);
  for (const name of names) await ib.send(new CreateInfrastructureConfigurationCommand(infra({ name })));
  for (const name of names) await ib.send(new CreateDistributionConfigurationCommand(dist({ name })));
  const seen: string[] = [];
  const seenDist: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ib.send(new ListInfrastructureConfigurationsCommand({ maxResults: 3, nextToken }));
    assert.ok((page.infrastructureConfigurationSummaryList?.length ?? 0) <= 3);
    seen.push(...(page.infrastructureConfigurationSummaryList ?? []).map((s) => s.name ?? ''));
    nextToken = page.nextToken;
  } while (nextToken);
  do {
    const page = await ib.send(new ListDistributionConfigurationsCommand({ maxResults: 2, nextToken }));
    seenDist.push(...(page.distributionConfigurationSummaryList ?? []).map((s) => s.name ?? ''));
    nextToken = page.nextToken;
  } while (nextToken);
  assert.deepEqual(seen, names);
  assert.deepEqual(seenDist, names);
  await assert.rejects(ib.send(new ListInfrastructureConfigurationsCommand({ maxResults: 26 })), namesFields('maxResults'));
  await assert.rejects(ib.send(new ListDistributionConfigurationsCommand({ maxResults: 0 })), InvalidParameterValueException);
  await assert.rejects(ib.send(new ListInfrastructureConfigurationsCommand({ nextToken: 'forged' })), InvalidPaginationTokenException);
  const first = await ib.send(new ListInfrastructureConfigurationsCommand({ maxResults: 1 }));
  await assert.rejects(ib.send(new ListDistributionConfigurationsCommand({ nextToken: first.nextToken })), InvalidPaginationTokenException, 'a token belongs to its own list');
});

test('accounts are isolated', async (t) => {
  const f = await startFixture(t);
  const admin = f.client();
  const i = await admin.send(new CreateInfrastructureConfigurationCommand(infra()));
  const d = await admin.send(new CreateDistributionConfigurationCommand(dist()));
  const store = openStore(f.dataDir);
  const { key } = await createAccount(store, 'other');
  await store.close();
  const other = f.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
  assert.deepEqual((await other.send(new ListInfrastructureConfigurationsCommand({}))).infrastructureConfigurationSummaryList, []);
  assert.deepEqual((await other.send(new ListDistributionConfigurationsCommand({}))).distributionConfigurationSummaryList, []);
  await assert.rejects(other.send(new GetInfrastructureConfigurationCommand({ infrastructureConfigurationArn: i.infrastructureConfigurationArn })), ResourceNotFoundException);
  await assert.rejects(other.send(new GetDistributionConfigurationCommand({ distributionConfigurationArn: d.distributionConfigurationArn })), ResourceNotFoundException);
  await assert.rejects(other.send(new UpdateInfrastructureConfigurationCommand({ infrastructureConfigurationArn: i.infrastructureConfigurationArn, instanceProfileName: 'mine' })), ResourceNotFoundException);
  await assert.rejects(other.send(new UpdateDistributionConfigurationCommand({ distributionConfigurationArn: d.distributionConfigurationArn, distributions: dist().distributions })), ResourceNotFoundException);
  await assert.rejects(other.send(new DeleteInfrastructureConfigurationCommand({ infrastructureConfigurationArn: i.infrastructureConfigurationArn })), ResourceNotFoundException);
  await assert.rejects(other.send(new DeleteDistributionConfigurationCommand({ distributionConfigurationArn: d.distributionConfigurationArn })), ResourceNotFoundException);
  const mine = await other.send(new CreateInfrastructureConfigurationCommand(infra()));
  assert.notEqual(mine.infrastructureConfigurationArn, i.infrastructureConfigurationArn, 'the same name is free in another account');
  assert.equal((await admin.send(new GetInfrastructureConfigurationCommand({ infrastructureConfigurationArn: i.infrastructureConfigurationArn }))).infrastructureConfiguration?.instanceProfileName, 'ImageBuilderProfile');
});

test('a configuration an image pipeline uses cannot be deleted', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const i = await ib.send(new CreateInfrastructureConfigurationCommand(infra()));
  const d = await ib.send(new CreateDistributionConfigurationCommand(dist()));
  const spare = await ib.send(new CreateInfrastructureConfigurationCommand(infra({ name: 'spare' })));
  const account = accountOf(i.infrastructureConfigurationArn);
  const pipelineArn = `arn:aws:imagebuilder:local:${account}:image-pipeline/nightly`;
  const store = openStore(f.dataDir);
  t.after(() => store.close());
  await store.createResource({
    accountId: account,
    region: 'local',
    type: 'image-pipeline',
    name: 'nightly',
    version: '',
    arn: pipelineArn,
    data: { name: 'nightly', infrastructureConfigurationArn: i.infrastructureConfigurationArn, distributionConfigurationArn: d.distributionConfigurationArn },
    build: 'none',
  });
  await assert.rejects(ib.send(new DeleteInfrastructureConfigurationCommand({ infrastructureConfigurationArn: i.infrastructureConfigurationArn })), (e: Error) => {
    assert.ok(e instanceof ResourceDependencyException, e.name);
    assert.match(e.message, /image-pipeline\/nightly/);
    return true;
  });
  await assert.rejects(ib.send(new DeleteDistributionConfigurationCommand({ distributionConfigurationArn: d.distributionConfigurationArn })), ResourceDependencyException);
  await ib.send(new DeleteInfrastructureConfigurationCommand({ infrastructureConfigurationArn: spare.infrastructureConfigurationArn }));
  // Updating a used configuration is fine: the pipeline keeps pointing at the same ARN.
  await ib.send(new UpdateInfrastructureConfigurationCommand({ infrastructureConfigurationArn: i.infrastructureConfigurationArn, instanceProfileName: 'Changed' }));

  await store.deleteResource(pipelineArn);
  await ib.send(new DeleteInfrastructureConfigurationCommand({ infrastructureConfigurationArn: i.infrastructureConfigurationArn }));
  await ib.send(new DeleteDistributionConfigurationCommand({ distributionConfigurationArn: d.distributionConfigurationArn }));
});

test('distribution regions are checked against the configured regions when the handler is given them', async (t: TestContext) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-config-'));
  const store = openStore(dir);
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const handlers = configurationHandlers(store, { regions: new Set(['local', 'eu']) });
  const ctx = { operation: 'CreateDistributionConfiguration', accountId: '111111111111', region: 'local', requestId: 'r' };
  const output = { amiDistributionConfiguration: { name: 'a-{{ imagebuilder:buildDate }}' } };
  await assert.rejects(handlers.CreateDistributionConfiguration!({ name: 'far', distributions: [{ region: 'us-east-1', ...output }] }, ctx), (e: unknown) => {
    assert.ok(isKilnError(e, 'InvalidArgument'));
    assert.deepEqual(e.issues.map((i) => i.path), ['distributions[0].region']);
    assert.match(e.message, /configured: local, eu/);
    return true;
  });
  const ok = await handlers.CreateDistributionConfiguration!({ name: 'near', distributions: [{ region: 'local', ...output }, { region: 'eu', ...output }] }, ctx);
  assert.equal(ok.distributionConfigurationArn, 'arn:aws:imagebuilder:local:111111111111:distribution-configuration/near');
});

// ---- Definitions real users send (CloudFormation templates, read in place, never copied). cfn.ts reads them;
// evaluating them here also covers Fn::If, Fn::GetAtt, list parameters and tag maps, which configurations use. ----

const DEFINITIONS = path.join(conformanceDir() ?? '/nonexistent', 'definitions');
/** Properties whose values are tag maps: their keys are the user's, not CloudFormation property names. */
const MAP_PROPERTIES = new Set(['Tags', 'AmiTags', 'ResourceTags']);
/** CloudFormation property names that differ from the API member beyond the first letter's case. */
const RENAMED: Record<string, string> = { LaunchPermissionConfiguration: 'launchPermission' };

type Template = { Parameters?: Record<string, { Type?: string; Default?: unknown }>; Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

/** A stand-in for a value only a deployed stack knows, chosen by the property it lands in. */
function placeholder(property: string, ref: string): unknown {
  const byProperty: Record<string, unknown> = {
    LaunchTemplateId: 'lt-0123456789abcdef0',
    SnsTopicArn: 'arn:aws:sns:local:123456789012:builds',
    'UserIds[]': '123456789012',
    InstanceTypes: ['t3.medium'],
    'InstanceTypes[]': 't3.medium',
    SecurityGroupIds: ['sg-0123456789abcdef0'],
    'SecurityGroupIds[]': 'sg-0123456789abcdef0',
  };
  return byProperty[property] ?? ref.replace(/[^A-Za-z0-9-_]/g, '-');
}

/** Evaluates CloudFormation intrinsics with parameter defaults and placeholders; AWS::NoValue drops the value. */
function evaluate(value: unknown, template: Template, property: string): unknown {
  // A list parameter inside a list contributes its items.
  if (Array.isArray(value)) return value.flatMap((v) => evaluate(v, template, `${property}[]`) ?? []);
  if (typeof value !== 'object' || value === null) return value;
  const obj = value as Record<string, unknown>;
  const [fn] = Object.keys(obj);
  const arg = obj[fn ?? ''];
  const pseudo: Record<string, unknown> = { 'AWS::Region': 'local', 'AWS::AccountId': '123456789012', 'AWS::StackName': 'stack', 'AWS::Partition': 'aws', 'AWS::NoValue': undefined };
  const ref = (name: string): unknown => {
    if (name in pseudo) return pseudo[name];
    const param = template.Parameters?.[name];
    // CloudFormation trims each member of a CommaDelimitedList.
    if (param && typeof param.Default === 'string' && param.Default !== '') return param.Type === 'CommaDelimitedList' ? param.Default.split(',').map((s) => s.trim()) : param.Default;
    if (param && typeof param.Default === 'number') return param.Default;
    return placeholder(property, name);
  };
  if (Object.keys(obj).length === 1 && fn === 'Ref') return ref(String(arg));
  if (Object.keys(obj).length === 1 && fn === 'Fn::GetAtt') return placeholder(property, Array.isArray(arg) ? arg.join('-') : String(arg));
  if (Object.keys(obj).length === 1 && fn === 'Fn::Sub') {
    const text = Array.isArray(arg) ? String(arg[0]) : String(arg);
    return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => String(ref(name) ?? ''));
  }
  if (Object.keys(obj).length === 1 && fn === 'Fn::Join' && Array.isArray(arg)) {
    return (evaluate(arg[1], template, property) as unknown[]).join(String(arg[0]));
  }
  if (Object.keys(obj).length === 1 && fn === 'Fn::If' && Array.isArray(arg)) {
    // Conditions need a deployed stack; take the branch that yields something.
    const first = evaluate(arg[1], template, property);
    return first === undefined || first === '' || (Array.isArray(first) && first.length === 0) ? evaluate(arg[2], template, property) : first;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const resolved = evaluate(v, template, MAP_PROPERTIES.has(property) ? property : k);
    if (resolved !== undefined) out[k] = resolved;
  }
  return out;
}

/** CloudFormation properties (PascalCase) to API members (camelCase), leaving tag maps as written. */
function toApi(value: unknown, property = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => toApi(v, property));
  if (typeof value !== 'object' || value === null) {
    if (property === 'TerminateInstanceOnFailure' && typeof value === 'string') return value === 'true';
    if (property === 'HttpPutResponseHopLimit' && typeof value === 'string') return Number(value);
    return value;
  }
  if (MAP_PROPERTIES.has(property)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const member = RENAMED[k] ?? k[0]!.toLowerCase() + k.slice(1);
    const converted = toApi(v, k);
    out[member] = k === 'InstanceTypes' && !Array.isArray(converted) ? [converted] : converted;
  }
  return out;
}

function loadTemplate(file: string): Template {
  const full = path.join(DEFINITIONS, file);
  return (file.endsWith('.json') ? JSON.parse(readFileSync(full, 'utf8')) : readTemplate(full)) as Template;
}

test('the configurations in the CloudFormation definitions real users write are accepted', { skip: existsSync(DEFINITIONS) ? false : `no definitions at ${DEFINITIONS}` }, async (t) => {
  const f = await startFixture(t);
  const ib: ImagebuilderClient = f.client();
  const files = readdirSync(DEFINITIONS).filter((n) => /\.(ya?ml|template\.json)$/.test(n));
  let infraCount = 0;
  let distCount = 0;
  for (const file of files) {
    const template = loadTemplate(file);
    for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
      const props = toApi(evaluate(resource.Properties ?? {}, template, '')) as Record<string, unknown>;
      const where = `${file} ${logicalId}`;
      if (resource.Type === 'AWS::ImageBuilder::InfrastructureConfiguration') {
        const out = await ib.send(new CreateInfrastructureConfigurationCommand(props as unknown as CreateInfrastructureConfigurationCommandInput)).catch((e: Error) => assert.fail(`${where}: ${e.message}`));
        const got = await ib.send(new GetInfrastructureConfigurationCommand({ infrastructureConfigurationArn: out.infrastructureConfigurationArn }));
        assert.deepEqual(got.infrastructureConfiguration?.instanceTypes, props.instanceTypes, `${where}: instance types recorded as written`);
        infraCount++;
      } else if (resource.Type === 'AWS::ImageBuilder::DistributionConfiguration') {
        const out = await ib.send(new CreateDistributionConfigurationCommand(props as unknown as CreateDistributionConfigurationCommandInput)).catch((e: Error) => assert.fail(`${where}: ${e.message}`));
        const got = await ib.send(new GetDistributionConfigurationCommand({ distributionConfigurationArn: out.distributionConfigurationArn }));
        assert.deepEqual(got.distributionConfiguration?.distributions, props.distributions, `${where}: distributions recorded as written`);
        distCount++;
      }
    }
  }
  assert.ok(infraCount >= 5, `infrastructure configurations found: ${infraCount}`);
  assert.ok(distCount >= 3, `distribution configurations found: ${distCount}`);
});

// ---- The same for plain Terraform: a line reader for the simple HCL of the chosen files, not an HCL parser ----

/** Terraform blocks that repeat and become lists, and attribute names that differ beyond snake_case. */
const TF_LISTS = new Set(['distribution', 'launch_template_configuration', 'fast_launch_configuration']);
const TF_RENAMED: Record<string, string> = { distribution: 'distributions', launch_template_configuration: 'launchTemplateConfigurations', fast_launch_configuration: 'fastLaunchConfigurations' };
const TF_MAPS = new Set(['tags', 'ami_tags', 'resource_tags']);
/** Stand-ins for Terraform expressions (variables, resource attributes), by the attribute they feed. */
const TF_PLACEHOLDERS: Record<string, unknown> = {
  region: 'local',
  instance_types: ['t3.medium'],
  security_group_ids: ['sg-0123456789abcdef0'],
  target_account_ids: ['123456789012'],
  user_ids: ['123456789012'],
  instance_profile_name: 'ImageBuilderProfile',
};

const tfMember = (key: string) => TF_RENAMED[key] ?? key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function tfValue(key: string, text: string): unknown {
  const interpolate = (s: string) => s.replace(/\$\{[^}]*\}/g, 'kiln');
  if (/^"[^"]*"$/.test(text)) return interpolate(text.slice(1, -1));
  if (/^-?\d+$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  if (/^\[.*\]$/.test(text)) {
    const items = text.slice(1, -1).split(',').map((s) => s.trim()).filter(Boolean);
    return items.every((s) => /^"[^"]*"$/.test(s)) ? items.map((s) => interpolate(s.slice(1, -1))) : TF_PLACEHOLDERS[key];
  }
  if (/^\{.*\}$/.test(text)) {
    return Object.fromEntries([...text.matchAll(/"?([\w:.-]+)"?\s*=\s*"([^"]*)"/g)].map((m) => [m[1]!, interpolate(m[2]!)]));
  }
  return TF_PLACEHOLDERS[key] ?? 'kiln-placeholder';
}

/** The arguments of every `resource "<type>"` in a Terraform file, as API input (camelCase, lists for repeated blocks). */
function readTerraform(text: string, type: string): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  let stack: { obj: Record<string, unknown>; raw: boolean }[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\s+#.*$/, '').trim();
    if (stack.length === 0) {
      if (line.startsWith(`resource "${type}"`)) {
        const obj = {};
        found.push(obj);
        stack = [{ obj, raw: false }];
      }
      continue;
    }
    const top = stack[stack.length - 1]!;
    let m: RegExpExecArray | null;
    if (line === '}') stack.pop();
    else if ((m = /^(\w+)\s*\{$/.exec(line))) {
      const obj = {};
      const member = tfMember(m[1]!);
      if (TF_LISTS.has(m[1]!)) ((top.obj[member] ??= []) as unknown[]).push(obj);
      else top.obj[member] = obj;
      stack.push({ obj, raw: false });
    } else if ((m = /^(\w+)\s*=\s*\{$/.exec(line))) {
      const obj = {};
      top.obj[tfMember(m[1]!)] = obj;
      stack.push({ obj, raw: true });
    } else if ((m = /^"?([\w:.-]+)"?\s*=\s*(.+)$/.exec(line))) {
      if (top.raw) top.obj[m[1]!] = tfValue(m[1]!, m[2]!);
      else if (m[1] !== 'count') top.obj[tfMember(m[1]!)] = TF_MAPS.has(m[1]!) && !/^\{/.test(m[2]!) ? { Name: 'kiln' } : tfValue(m[1]!, m[2]!);
    }
  }
  return found;
}

test('the configurations in plain Terraform definitions are accepted', { skip: existsSync(DEFINITIONS) ? false : `no definitions at ${DEFINITIONS}` }, async (t) => {
  // A server configured with the regions the definitions distribute to.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-tf-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const configPath = path.join(dataDir, 'kiln.yaml');
  writeFileSync(configPath, 'regions: [local, eu-west-1]\n');
  const server = await startServer({ dataDir, listen: '127.0.0.1:0', configPath, builds: false });
  t.after(() => server.close());
  const ib = new ImagebuilderClient({ endpoint: server.endpoint, region: 'local', credentials: readCredentials(server.credentialsPath), maxAttempts: 1 });
  t.after(() => ib.destroy());

  const files = ['ppabis__infrastructure.tf', 'ppabis__distribution.tf', 'eunyuljo__image-builder.tf'];
  let infraCount = 0;
  let distCount = 0;
  for (const file of files) {
    const text = readFileSync(path.join(DEFINITIONS, file), 'utf8');
    for (const props of readTerraform(text, 'aws_imagebuilder_infrastructure_configuration')) {
      const out = await ib.send(new CreateInfrastructureConfigurationCommand(props as unknown as CreateInfrastructureConfigurationCommandInput)).catch((e: Error) => assert.fail(`${file}: ${e.message}`));
      const got = await ib.send(new GetInfrastructureConfigurationCommand({ infrastructureConfigurationArn: out.infrastructureConfigurationArn }));
      assert.deepEqual(got.infrastructureConfiguration?.instanceTypes, props.instanceTypes, file);
      infraCount++;
    }
    for (const props of readTerraform(text, 'aws_imagebuilder_distribution_configuration')) {
      const out = await ib.send(new CreateDistributionConfigurationCommand(props as unknown as CreateDistributionConfigurationCommandInput)).catch((e: Error) => assert.fail(`${file}: ${e.message}`));
      const got = await ib.send(new GetDistributionConfigurationCommand({ distributionConfigurationArn: out.distributionConfigurationArn }));
      assert.deepEqual(got.distributionConfiguration?.distributions, props.distributions, file);
      distCount++;
    }
  }
  assert.deepEqual([infraCount, distCount], [2, 2]);
});
