import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateImagePipelineCommand,
  DeleteImagePipelineCommand,
  GetImagePipelineCommand,
  IdempotentParameterMismatchException,
  InvalidPaginationTokenException,
  InvalidParameterCombinationException,
  InvalidParameterValueException,
  ListImagePipelinesCommand,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  UpdateImagePipelineCommand,
  type CreateImagePipelineCommandInput,
  type ImagebuilderClient,
  type UpdateImagePipelineCommandInput,
} from '@aws-sdk/client-imagebuilder';
import { createAccount } from '../../src/service/accounts.js';
import { openStore } from '../../src/app/server-start.js';
import { nextRun, parseScheduleExpression } from '../../src/domain/schedule.js';
import type { Store } from '../../src/store/store.js';
import { startFixture, type Fixture } from './fixture.js';

/** ARNs of the resources a pipeline references, inserted straight into the store for one account. */
interface Refs {
  accountId: string;
  imageRecipeArn: string;
  containerRecipeArn: string;
  infrastructureConfigurationArn: string;
  distributionConfigurationArn: string;
  workflowArn: string;
}

async function insertRefs(store: Store, accountId: string): Promise<Refs> {
  const base = `arn:aws:imagebuilder:local:${accountId}`;
  const put = async (type: string, name: string, version: string, data: Record<string, unknown>, build: 'none' | 'first' = 'none') =>
    (await store.createResource({ accountId, region: 'local', type, name, version, arn: `${base}:${type}/${name}${version ? `/${version}` : ''}`, data, build })).record.arn;
  return {
    accountId,
    imageRecipeArn: await put('image-recipe', 'web', '1.0.0', { name: 'web', platform: 'Linux' }),
    containerRecipeArn: await put('container-recipe', 'app', '2.0.0', { name: 'app', platform: 'Linux' }),
    infrastructureConfigurationArn: await put('infrastructure-configuration', 'infra', '', { name: 'infra' }),
    distributionConfigurationArn: await put('distribution-configuration', 'dist', '', { name: 'dist' }),
    workflowArn: await put('workflow/build', 'my-build', '1.0.0', { name: 'my-build', parameters: [{ name: 'size', type: 'string', defaultValue: ['small'] }] }, 'first'),
  };
}

/** A running server plus the admin account's references, and a way to add accounts. */
async function setup(t: TestContext): Promise<{ f: Fixture; ib: ImagebuilderClient; refs: Refs; otherAccount(): Promise<{ ib: ImagebuilderClient; refs: Refs }> }> {
  const f = await startFixture(t);
  const store = openStore(f.dataDir);
  t.after(() => store.close());
  const admin = (await store.listAccounts()).find((a) => a.admin)!;
  const refs = await insertRefs(store, admin.accountId);
  return {
    f,
    ib: f.client(),
    refs,
    otherAccount: async () => {
      const { account, key } = await createAccount(store, 'other');
      return { ib: f.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey }), refs: await insertRefs(store, account.accountId) };
    },
  };
}

function input(refs: Refs, overrides: Partial<CreateImagePipelineCommandInput> = {}): CreateImagePipelineCommandInput {
  return { name: 'Nightly Web', imageRecipeArn: refs.imageRecipeArn, infrastructureConfigurationArn: refs.infrastructureConfigurationArn, ...overrides };
}

test('create, get, list, update and delete an image pipeline', async (t) => {
  const { ib, refs } = await setup(t);
  const before = new Date();
  const created = await ib.send(
    new CreateImagePipelineCommand(
      input(refs, {
        description: 'rebuilds nightly',
        distributionConfigurationArn: refs.distributionConfigurationArn,
        schedule: { scheduleExpression: 'cron(0 3 * * ? *)', timezone: 'America/New_York' },
        imageScanningConfiguration: { imageScanningEnabled: true },
        imageTags: { built: 'kiln' },
        workflows: [{ workflowArn: refs.workflowArn, parameters: [{ name: 'size', value: ['large'] }], onFailure: 'ABORT' }],
        executionRole: 'arn:aws:iam::123456789012:role/kiln-exec',
        tags: { team: 'web' },
      }),
    ),
  );
  const arn = `arn:aws:imagebuilder:local:${refs.accountId}:image-pipeline/nightly-web`;
  assert.equal(created.imagePipelineArn, arn);
  assert.ok(created.clientToken, 'the response echoes the token the SDK filled');

  const got = (await ib.send(new GetImagePipelineCommand({ imagePipelineArn: arn }))).imagePipeline!;
  assert.equal(got.arn, arn);
  assert.equal(got.name, 'Nightly Web');
  assert.equal(got.description, 'rebuilds nightly');
  assert.equal(got.platform, 'Linux', 'taken from the recipe');
  assert.equal(got.status, 'ENABLED');
  assert.equal(got.enhancedImageMetadataEnabled, true);
  assert.deepEqual(got.imageTestsConfiguration, { imageTestsEnabled: true, timeoutMinutes: 720 });
  assert.equal(got.imageRecipeArn, refs.imageRecipeArn);
  assert.equal(got.containerRecipeArn, undefined);
  assert.equal(got.infrastructureConfigurationArn, refs.infrastructureConfigurationArn);
  assert.equal(got.distributionConfigurationArn, refs.distributionConfigurationArn);
  assert.deepEqual(got.schedule, { scheduleExpression: 'cron(0 3 * * ? *)', timezone: 'America/New_York', pipelineExecutionStartCondition: 'EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE' });
  const expected = nextRun(parseScheduleExpression('cron(0 3 * * ? *)'), before, { timeZone: 'America/New_York' })!;
  assert.equal(got.dateNextRun, expected.toISOString());
  assert.deepEqual(got.tags, { team: 'web' });
  assert.deepEqual(got.imageTags, { built: 'kiln' });
  assert.deepEqual(got.imageScanningConfiguration, { imageScanningEnabled: true });
  assert.deepEqual(got.workflows, [{ workflowArn: refs.workflowArn, parameters: [{ name: 'size', value: ['large'] }], onFailure: 'ABORT' }]);
  assert.equal(got.executionRole, 'arn:aws:iam::123456789012:role/kiln-exec');
  assert.equal(got.consecutiveFailures, 0);
  assert.match(got.dateCreated ?? '', /^\d{4}-\d\d-\d\dT/);
  assert.equal(got.dateUpdated, undefined);

  await ib.send(new CreateImagePipelineCommand(input(refs, { name: 'containers', imageRecipeArn: undefined, containerRecipeArn: refs.containerRecipeArn, status: 'DISABLED', schedule: { scheduleExpression: 'rate(1 day)' } })));
  const list = await ib.send(new ListImagePipelinesCommand({}));
  assert.deepEqual(list.imagePipelineList?.map((p) => p.name), ['containers', 'Nightly Web']);
  assert.equal(list.imagePipelineList?.[0]?.dateNextRun, undefined, 'a disabled pipeline has no next run');
  assert.equal(list.imagePipelineList?.[1]?.dateNextRun, got.dateNextRun);

  const update: UpdateImagePipelineCommandInput = {
    imagePipelineArn: arn,
    imageRecipeArn: refs.imageRecipeArn,
    infrastructureConfigurationArn: refs.infrastructureConfigurationArn,
    description: 'weekly now',
    schedule: { scheduleExpression: 'cron(0 12 ? * MON *)', pipelineExecutionStartCondition: 'EXPRESSION_MATCH_ONLY' },
    imageTestsConfiguration: { imageTestsEnabled: false, timeoutMinutes: 60 },
    enhancedImageMetadataEnabled: false,
  };
  assert.equal((await ib.send(new UpdateImagePipelineCommand(update))).imagePipelineArn, arn);
  const updated = (await ib.send(new GetImagePipelineCommand({ imagePipelineArn: arn }))).imagePipeline!;
  assert.equal(updated.description, 'weekly now');
  assert.equal(updated.name, 'Nightly Web');
  assert.deepEqual(updated.tags, { team: 'web' }, 'tags are not part of an update');
  assert.equal(updated.dateCreated, got.dateCreated);
  assert.match(updated.dateUpdated ?? '', /^\d{4}-/);
  assert.equal(updated.distributionConfigurationArn, undefined, 'an update replaces every field');
  assert.equal(updated.workflows, undefined);
  assert.equal(updated.enhancedImageMetadataEnabled, false);
  assert.deepEqual(updated.imageTestsConfiguration, { imageTestsEnabled: false, timeoutMinutes: 60 });
  assert.equal(updated.schedule?.pipelineExecutionStartCondition, 'EXPRESSION_MATCH_ONLY');
  assert.equal(new Date(updated.dateNextRun ?? '').getUTCDay(), 1, 'next run on a Monday');
  assert.equal(new Date(updated.dateNextRun ?? '').getUTCHours(), 12);

  const filtered = await ib.send(new ListImagePipelinesCommand({ filters: [{ name: 'status', values: ['DISABLED'] }] }));
  assert.deepEqual(filtered.imagePipelineList?.map((p) => p.name), ['containers']);
  const byRecipe = await ib.send(new ListImagePipelinesCommand({ filters: [{ name: 'imageRecipeArn', values: [refs.imageRecipeArn] }, { name: 'description', values: ['weekly now'] }] }));
  assert.deepEqual(byRecipe.imagePipelineList?.map((p) => p.name), ['Nightly Web']);
  await assert.rejects(ib.send(new ListImagePipelinesCommand({ filters: [{ name: 'platform', values: ['Linux'] }] })), (e: Error) => {
    assert.ok(e instanceof InvalidParameterValueException);
    assert.match(e.message, /'platform' is not a filter of ListImagePipelines/);
    return true;
  });

  assert.equal((await ib.send(new DeleteImagePipelineCommand({ imagePipelineArn: arn }))).imagePipelineArn, arn);
  await assert.rejects(ib.send(new GetImagePipelineCommand({ imagePipelineArn: arn })), ResourceNotFoundException);
  await assert.rejects(ib.send(new DeleteImagePipelineCommand({ imagePipelineArn: arn })), ResourceNotFoundException);
  await assert.rejects(ib.send(new UpdateImagePipelineCommand(update)), ResourceNotFoundException);
  await assert.rejects(ib.send(new GetImagePipelineCommand({ imagePipelineArn: refs.imageRecipeArn })), InvalidParameterValueException);
});

test('schedule errors name the field and what is wrong', async (t) => {
  const { ib, refs } = await setup(t);
  const cases: [CreateImagePipelineCommandInput['schedule'], RegExp][] = [
    [{ scheduleExpression: 'cron(0 0 ? * MON#6 *)' }, /schedule\.scheduleExpression: cron field 5 \(day-of-week\): "MON#6": the occurrence after '#' must be 1-5/],
    [{ scheduleExpression: 'cron(0 0 * * * *)' }, /schedule\.scheduleExpression: cron fields 3 \(day-of-month\) "\*" and 5 \(day-of-week\) "\*": exactly one of them must be '\?'/],
    [{ scheduleExpression: 'cron(0 10 * * ?)' }, /schedule\.scheduleExpression: cron expression has 5 fields; it needs 6/],
    [{ scheduleExpression: 'rate(1 hours)' }, /schedule\.scheduleExpression: rate expression "rate\(1 hours\)": use "hour" with the value 1/],
    [{ scheduleExpression: 'cron(0 10 * * ? *)', timezone: 'Mars/Olympus' }, /schedule\.timezone: "Mars\/Olympus" is not an IANA time zone/],
    [{ scheduleExpression: 'cron(0 10 * * ? *)', pipelineExecutionStartCondition: 'ALWAYS' as 'EXPRESSION_MATCH_ONLY' }, /schedule\.pipelineExecutionStartCondition: must be/],
    [{ scheduleExpression: 'cron(0 10 * * ? *)', autoDisablePolicy: { failureCount: 0 } }, /schedule\.autoDisablePolicy\.failureCount/],
  ];
  for (const [schedule, want] of cases) {
    await assert.rejects(ib.send(new CreateImagePipelineCommand(input(refs, { schedule }))), (e: Error) => {
      assert.ok(e instanceof InvalidParameterValueException, e.name);
      assert.match(e.message, want);
      return true;
    });
  }
  // Every problem at once, each under its own path.
  await assert.rejects(
    ib.send(new CreateImagePipelineCommand(input(refs, { name: 'x', status: 'ON' as 'ENABLED', schedule: { scheduleExpression: 'cron(60 24 * * ? *)', timezone: 'Nowhere' }, imageTestsConfiguration: { timeoutMinutes: 5 } }))),
    (e: Error) => {
      for (const field of ['name', 'status', 'cron field 1 \\(minutes\\)', 'cron field 2 \\(hours\\)', 'schedule.timezone', 'imageTestsConfiguration.timeoutMinutes']) assert.match(e.message, new RegExp(field), field);
      return true;
    },
  );
  assert.deepEqual((await ib.send(new ListImagePipelinesCommand({}))).imagePipelineList, [], 'nothing was created');
});

test('references: exactly one recipe, every referenced resource must exist, workflows need a role', async (t) => {
  const { ib, refs } = await setup(t);
  await assert.rejects(ib.send(new CreateImagePipelineCommand(input(refs, { containerRecipeArn: refs.containerRecipeArn }))), InvalidParameterCombinationException);
  await assert.rejects(ib.send(new CreateImagePipelineCommand(input(refs, { imageRecipeArn: undefined }))), /imageRecipeArn: is required \(or 'containerRecipeArn'\)/);
  const missing = refs.infrastructureConfigurationArn.replace('/infra', '/gone');
  await assert.rejects(ib.send(new CreateImagePipelineCommand(input(refs, { infrastructureConfigurationArn: missing }))), (e: Error) => {
    assert.ok(e instanceof InvalidParameterValueException);
    assert.match(e.message, /infrastructureConfigurationArn: an infrastructure configuration .*gone does not exist/);
    return true;
  });
  await assert.rejects(ib.send(new CreateImagePipelineCommand(input(refs, { imageRecipeArn: refs.containerRecipeArn }))), /imageRecipeArn: is not an image recipe ARN/);
  await assert.rejects(ib.send(new CreateImagePipelineCommand(input(refs, { distributionConfigurationArn: 'dist' }))), /distributionConfigurationArn: is not a distribution configuration ARN/);
  await assert.rejects(ib.send(new CreateImagePipelineCommand(input(refs, { workflows: [{ workflowArn: refs.workflowArn }] }))), /executionRole: is required/);
  await assert.rejects(
    ib.send(new CreateImagePipelineCommand(input(refs, { executionRole: 'role', workflows: [{ workflowArn: refs.workflowArn.replace('1.0.0/1', '2.x.x') }] }))),
    /workflows\[0\]\.workflowArn: workflow .* does not exist/,
  );
  await assert.rejects(
    ib.send(new CreateImagePipelineCommand(input(refs, { executionRole: 'role', workflows: [{ workflowArn: refs.workflowArn, parallelGroup: 'a', onFailure: 'MAYBE' as 'ABORT' }] }))),
    (e: Error) => /workflows\[0\]\.onFailure/.test(e.message) && /workflows\[0\]\.parallelGroup: applies to test workflows only/.test(e.message),
  );
  // Kiln-managed workflows need no role; a wildcard version of the caller's own workflow resolves.
  await ib.send(new CreateImagePipelineCommand(input(refs, { name: 'managed', workflows: [{ workflowArn: 'arn:aws:imagebuilder:local:aws:workflow/build/build-image/x.x.x' }] })));
  await ib.send(new CreateImagePipelineCommand(input(refs, { name: 'custom', executionRole: 'role', workflows: [{ workflowArn: refs.workflowArn.replace('1.0.0/1', '1.x.x') }] })));

  await ib.send(new CreateImagePipelineCommand(input(refs)));
  await assert.rejects(ib.send(new CreateImagePipelineCommand(input(refs, { name: 'nightly web' }))), (e: Error) => {
    assert.ok(e instanceof ResourceAlreadyExistsException, e.name);
    assert.match(e.message, /image-pipeline\/nightly-web already exists/);
    return true;
  });
});

test('clientToken: creates and updates answer a retry with the first result; other input is a mismatch', async (t) => {
  const { ib, refs } = await setup(t);
  const a = await ib.send(new CreateImagePipelineCommand(input(refs, { clientToken: 'tok-1' })));
  const b = await ib.send(new CreateImagePipelineCommand(input(refs, { clientToken: 'tok-1' })));
  assert.equal(b.imagePipelineArn, a.imagePipelineArn);
  assert.equal(b.clientToken, 'tok-1');
  await assert.rejects(ib.send(new CreateImagePipelineCommand(input(refs, { clientToken: 'tok-1', description: 'changed' }))), IdempotentParameterMismatchException);

  const results = await Promise.allSettled(Array.from({ length: 30 }, () => ib.send(new CreateImagePipelineCommand(input(refs, { name: 'concurrent', clientToken: 'tok-many' })))));
  assert.ok(results.every((r) => r.status === 'fulfilled'), 'every retry succeeds');
  assert.equal(new Set(results.map((r) => (r as PromiseFulfilledResult<{ imagePipelineArn?: string }>).value.imagePipelineArn)).size, 1);
  assert.equal((await ib.send(new ListImagePipelinesCommand({ filters: [{ name: 'name', values: ['concurrent'] }] }))).imagePipelineList?.length, 1);

  const update: UpdateImagePipelineCommandInput = { imagePipelineArn: a.imagePipelineArn, imageRecipeArn: refs.imageRecipeArn, infrastructureConfigurationArn: refs.infrastructureConfigurationArn, description: 'v2', clientToken: 'up-1' };
  await ib.send(new UpdateImagePipelineCommand(update));
  const first = (await ib.send(new GetImagePipelineCommand({ imagePipelineArn: a.imagePipelineArn }))).imagePipeline!;
  assert.equal((await ib.send(new UpdateImagePipelineCommand(update))).clientToken, 'up-1');
  const again = (await ib.send(new GetImagePipelineCommand({ imagePipelineArn: a.imagePipelineArn }))).imagePipeline!;
  assert.equal(again.dateUpdated, first.dateUpdated, 'a retried update is not applied twice');
  await assert.rejects(ib.send(new UpdateImagePipelineCommand({ ...update, description: 'v3' })), IdempotentParameterMismatchException);
});

test('pagination: 1-25 per page, opaque tokens, bad tokens rejected', async (t) => {
  const { ib, refs } = await setup(t);
  for (let i = 0; i < 7; i++) await ib.send(new CreateImagePipelineCommand(input(refs, { name: `pipe-${i}` })));
  const seen: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ib.send(new ListImagePipelinesCommand({ maxResults: 3, nextToken }));
    assert.ok((page.imagePipelineList?.length ?? 0) <= 3);
    seen.push(...(page.imagePipelineList ?? []).map((p) => p.name ?? ''));
    nextToken = page.nextToken;
  } while (nextToken);
  assert.deepEqual(seen, ['pipe-0', 'pipe-1', 'pipe-2', 'pipe-3', 'pipe-4', 'pipe-5', 'pipe-6']);
  await assert.rejects(ib.send(new ListImagePipelinesCommand({ maxResults: 26 })), InvalidParameterValueException);
  await assert.rejects(ib.send(new ListImagePipelinesCommand({ nextToken: 'forged' })), InvalidPaginationTokenException);
  const first = await ib.send(new ListImagePipelinesCommand({ maxResults: 2 }));
  await assert.rejects(ib.send(new ListImagePipelinesCommand({ maxResults: 2, nextToken: first.nextToken, filters: [{ name: 'status', values: ['ENABLED'] }] })), InvalidPaginationTokenException);
});

test('accounts are isolated: pipelines and the resources they reference', async (t) => {
  const { ib, refs, otherAccount } = await setup(t);
  const mine = await ib.send(new CreateImagePipelineCommand(input(refs)));
  const other = await otherAccount();
  assert.deepEqual((await other.ib.send(new ListImagePipelinesCommand({}))).imagePipelineList, []);
  await assert.rejects(other.ib.send(new GetImagePipelineCommand({ imagePipelineArn: mine.imagePipelineArn })), ResourceNotFoundException);
  await assert.rejects(other.ib.send(new DeleteImagePipelineCommand({ imagePipelineArn: mine.imagePipelineArn })), ResourceNotFoundException);
  await assert.rejects(
    other.ib.send(new UpdateImagePipelineCommand({ imagePipelineArn: mine.imagePipelineArn, imageRecipeArn: other.refs.imageRecipeArn, infrastructureConfigurationArn: other.refs.infrastructureConfigurationArn })),
    ResourceNotFoundException,
  );
  // Another account's recipe or configuration reads as missing, the same as one that does not exist.
  await assert.rejects(other.ib.send(new CreateImagePipelineCommand(input(other.refs, { imageRecipeArn: refs.imageRecipeArn }))), /imageRecipeArn: an image recipe .* does not exist or is not visible/);
  await assert.rejects(other.ib.send(new CreateImagePipelineCommand(input(other.refs, { infrastructureConfigurationArn: refs.infrastructureConfigurationArn }))), /infrastructureConfigurationArn: .* does not exist or is not visible/);
  const theirs = await other.ib.send(new CreateImagePipelineCommand(input(other.refs)));
  assert.notEqual(theirs.imagePipelineArn, mine.imagePipelineArn);
  assert.equal((await ib.send(new GetImagePipelineCommand({ imagePipelineArn: mine.imagePipelineArn }))).imagePipeline?.infrastructureConfigurationArn, refs.infrastructureConfigurationArn);
});
