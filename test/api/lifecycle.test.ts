import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  CancelLifecycleExecutionCommand,
  CreateLifecyclePolicyCommand,
  DeleteLifecyclePolicyCommand,
  GetImageCommand,
  GetLifecycleExecutionCommand,
  GetLifecyclePolicyCommand,
  IdempotentParameterMismatchException,
  InvalidPaginationTokenException,
  InvalidParameterValueException,
  InvalidRequestException,
  ListLifecycleExecutionResourcesCommand,
  ListLifecycleExecutionsCommand,
  ListLifecyclePoliciesCommand,
  ResourceAlreadyExistsException,
  ResourceInUseException,
  ResourceNotFoundException,
  StartResourceStateUpdateCommand,
  UpdateLifecyclePolicyCommand,
  type CreateLifecyclePolicyCommandInput,
  type UpdateLifecyclePolicyCommandInput,
} from '@aws-sdk/client-imagebuilder';
import { FsBlobStore } from '../../src/artifacts/blob-store.js';
import { openStore } from '../../src/app/server-start.js';
import { startLifecycleRunner } from '../../src/lifecycle/runner.js';
import { addImageRecord } from '../../src/lifecycle/testing.js';
import { systemClock } from '../../src/domain/clock.js';
import { createAccount } from '../../src/service/accounts.js';
import { startFixture } from './fixture.js';

function policy(overrides: Partial<CreateLifecyclePolicyCommandInput> = {}): CreateLifecyclePolicyCommandInput {
  return {
    name: 'Keep Recent',
    executionRole: 'arn:aws:iam::123456789012:role/LifecycleRole',
    resourceType: 'AMI_IMAGE',
    policyDetails: [{ action: { type: 'DELETE', includeResources: { amis: true, snapshots: true } }, filter: { type: 'AGE', value: 6, unit: 'MONTHS', retainAtLeast: 2 } }],
    resourceSelection: { recipes: [{ name: 'web', semanticVersion: '1.x.x' }] },
    ...overrides,
  };
}

/** Asserts an InvalidParameterValueException whose message names every one of `paths`. */
function names(...paths: string[]) {
  return (e: Error) => {
    assert.ok(e instanceof InvalidParameterValueException, `${e.name}: ${e.message}`);
    for (const p of paths) assert.ok(e.message.includes(p), `message names ${p}: ${e.message}`);
    return true;
  };
}

test('lifecycle policies: create, get, list, update, delete', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const before = Date.now();
  const created = await ib.send(
    new CreateLifecyclePolicyCommand(
      policy({
        description: 'six months, keep two',
        tags: { team: 'a' },
        policyDetails: [
          { action: { type: 'DEPRECATE', includeResources: { amis: true } }, filter: { type: 'AGE', value: 1, unit: 'MONTHS' } },
          {
            action: { type: 'DELETE', includeResources: { amis: true, snapshots: true } },
            filter: { type: 'AGE', value: 6, unit: 'MONTHS', retainAtLeast: 2 },
            exclusionRules: { tagMap: { keep: 'true' }, amis: { isPublic: true, regions: ['local'], lastLaunched: { value: 30, unit: 'DAYS' } } },
          },
        ],
      }),
    ),
  );
  const account = /:(\d{12}):/.exec(created.lifecyclePolicyArn ?? '')?.[1];
  assert.equal(created.lifecyclePolicyArn, `arn:aws:imagebuilder:local:${account}:lifecycle-policy/keep-recent`);
  assert.ok(created.clientToken, 'the SDK fills and Kiln echoes the client token');

  const got = (await ib.send(new GetLifecyclePolicyCommand({ lifecyclePolicyArn: created.lifecyclePolicyArn }))).lifecyclePolicy!;
  assert.equal(got.name, 'Keep Recent');
  assert.equal(got.description, 'six months, keep two');
  assert.equal(got.status, 'ENABLED', 'status defaults to ENABLED');
  assert.equal(got.resourceType, 'AMI_IMAGE');
  assert.equal(got.executionRole, 'arn:aws:iam::123456789012:role/LifecycleRole');
  assert.deepEqual(got.policyDetails?.[1]?.exclusionRules?.amis?.lastLaunched, { value: 30, unit: 'DAYS' });
  assert.deepEqual(got.policyDetails?.[1]?.filter, { type: 'AGE', value: 6, unit: 'MONTHS', retainAtLeast: 2 });
  assert.deepEqual(got.resourceSelection, { recipes: [{ name: 'web', semanticVersion: '1.x.x' }] });
  assert.deepEqual(got.tags, { team: 'a' });
  assert.ok(got.dateCreated instanceof Date, 'dates are real timestamps on the wire');
  assert.ok(got.dateCreated.getTime() >= before - 1000 && got.dateCreated.getTime() <= Date.now() + 1000);
  assert.equal(got.dateLastRun, undefined, 'never run');

  await ib.send(new CreateLifecyclePolicyCommand(policy({ name: 'containers', resourceType: 'CONTAINER_IMAGE', status: 'DISABLED', policyDetails: [{ action: { type: 'DELETE', includeResources: { containers: true } }, filter: { type: 'COUNT', value: 10 } }], resourceSelection: { tagMap: { env: 'dev' } } })));
  const list = (await ib.send(new ListLifecyclePoliciesCommand({}))).lifecyclePolicySummaryList!;
  assert.deepEqual(list.map((p) => [p.name, p.status, p.resourceType]), [['containers', 'DISABLED', 'CONTAINER_IMAGE'], ['Keep Recent', 'ENABLED', 'AMI_IMAGE']]);
  assert.deepEqual(list[1]?.tags, { team: 'a' });
  assert.ok(list[0]?.dateCreated instanceof Date);
  assert.equal((list[0] as Record<string, unknown>).policyDetails, undefined, 'summaries leave out the rules');

  const byStatus = (await ib.send(new ListLifecyclePoliciesCommand({ filters: [{ name: 'Status', values: ['ENABLED'] }] }))).lifecyclePolicySummaryList!;
  assert.deepEqual(byStatus.map((p) => p.name), ['Keep Recent']);
  const byName = (await ib.send(new ListLifecyclePoliciesCommand({ filters: [{ name: 'Name', values: ['containers'] }] }))).lifecyclePolicySummaryList!;
  assert.deepEqual(byName.map((p) => p.name), ['containers']);
  await assert.rejects(ib.send(new ListLifecyclePoliciesCommand({ filters: [{ name: 'resourceType', values: ['AMI_IMAGE'] }] })), names('filters[0].name'));

  const update: UpdateLifecyclePolicyCommandInput = {
    lifecyclePolicyArn: created.lifecyclePolicyArn,
    executionRole: 'OtherRole',
    resourceType: 'AMI_IMAGE',
    status: 'DISABLED',
    policyDetails: [{ action: { type: 'DISABLE' }, filter: { type: 'COUNT', value: 4 } }],
    resourceSelection: { tagMap: { env: 'prod' } },
  };
  const updated = await ib.send(new UpdateLifecyclePolicyCommand(update));
  assert.equal(updated.lifecyclePolicyArn, created.lifecyclePolicyArn);
  const after = (await ib.send(new GetLifecyclePolicyCommand({ lifecyclePolicyArn: created.lifecyclePolicyArn }))).lifecyclePolicy!;
  assert.equal(after.name, 'Keep Recent');
  assert.equal(after.executionRole, 'OtherRole');
  assert.equal(after.status, 'DISABLED');
  assert.equal(after.description, undefined, 'update replaces every mutable field, absent ones included');
  assert.deepEqual(after.policyDetails, [{ action: { type: 'DISABLE' }, filter: { type: 'COUNT', value: 4 } }]);
  assert.deepEqual(after.resourceSelection, { tagMap: { env: 'prod' } });
  assert.deepEqual(after.tags, { team: 'a' }, 'tags stay');
  assert.equal(after.dateCreated?.getTime(), got.dateCreated.getTime());
  assert.ok(after.dateUpdated!.getTime() >= got.dateUpdated!.getTime());

  const deleted = await ib.send(new DeleteLifecyclePolicyCommand({ lifecyclePolicyArn: created.lifecyclePolicyArn }));
  assert.equal(deleted.lifecyclePolicyArn, created.lifecyclePolicyArn);
  await assert.rejects(ib.send(new GetLifecyclePolicyCommand({ lifecyclePolicyArn: created.lifecyclePolicyArn })), ResourceNotFoundException);
  await assert.rejects(ib.send(new DeleteLifecyclePolicyCommand({ lifecyclePolicyArn: created.lifecyclePolicyArn })), ResourceNotFoundException);
  await assert.rejects(ib.send(new UpdateLifecyclePolicyCommand(update)), ResourceNotFoundException);
  await assert.rejects(ib.send(new GetLifecyclePolicyCommand({ lifecyclePolicyArn: 'arn:aws:imagebuilder:local:123456789012:image-pipeline/x' })), names('lifecyclePolicyArn'));
});

test('lifecycle policies: validation errors name every path', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const cases: [Partial<CreateLifecyclePolicyCommandInput>, string[]][] = [
    [{ name: 'x' }, ['name']],
    [{ resourceType: 'VM_IMAGE' as 'AMI_IMAGE' }, ['resourceType']],
    [{ executionRole: 'not a role!' }, ['executionRole']],
    [{ status: 'PAUSED' as 'ENABLED' }, ['status']],
    [{ policyDetails: [] }, ['policyDetails']],
    [{ policyDetails: [{ action: { type: 'DELETE' }, filter: { type: 'AGE', value: 6 } }] }, ['policyDetails[0].filter.unit']],
    [{ policyDetails: [{ action: { type: 'DELETE' }, filter: { type: 'COUNT', value: 6, unit: 'DAYS' } }] }, ['policyDetails[0].filter.unit']],
    [{ policyDetails: [{ action: { type: 'DELETE' }, filter: { type: 'COUNT', value: 6, retainAtLeast: 2 } }] }, ['policyDetails[0].filter.retainAtLeast']],
    [{ policyDetails: [{ action: { type: 'DELETE' }, filter: { type: 'COUNT', value: 1001 } }] }, ['policyDetails[0].filter.value']],
    [{ resourceType: 'CONTAINER_IMAGE', policyDetails: [{ action: { type: 'DEPRECATE' }, filter: { type: 'COUNT', value: 1 } }] }, ['policyDetails[0].action.type']],
    [{ policyDetails: [{ action: { type: 'DISABLE', includeResources: { snapshots: true } }, filter: { type: 'COUNT', value: 1 } }] }, ['policyDetails[0].action.includeResources.snapshots']],
    [{ resourceSelection: { recipes: [{ name: 'web', semanticVersion: '1.0.0' }], tagMap: { a: 'b' } } }, ['resourceSelection']],
    [{ resourceSelection: {} }, ['resourceSelection']],
    [{ resourceSelection: { recipes: [{ name: 'web', semanticVersion: 'x.1.x' }] } }, ['resourceSelection.recipes[0].semanticVersion']],
    [{ tags: { 'aws:reserved': 'x' } }, ['tags.aws:reserved']],
    [{ name: 'x', status: 'NOPE' as 'ENABLED', policyDetails: [{ action: { type: 'DELETE' }, filter: { type: 'AGE', value: 0 } }] }, ['name', 'status', 'policyDetails[0].filter.value', 'policyDetails[0].filter.unit']],
  ];
  for (const [overrides, paths] of cases) await assert.rejects(ib.send(new CreateLifecyclePolicyCommand(policy(overrides))), names(...paths));
  assert.deepEqual((await ib.send(new ListLifecyclePoliciesCommand({}))).lifecyclePolicySummaryList, [], 'nothing half-written');

  const { lifecyclePolicyArn } = await ib.send(new CreateLifecyclePolicyCommand(policy()));
  await assert.rejects(
    ib.send(new UpdateLifecyclePolicyCommand({ lifecyclePolicyArn, executionRole: 'Role', resourceType: 'CONTAINER_IMAGE', policyDetails: [{ action: { type: 'DISABLE' }, filter: { type: 'COUNT', value: 1 } }], resourceSelection: { tagMap: { a: 'b' } } })),
    names('policyDetails[0].action.type'),
  );
  assert.equal((await ib.send(new GetLifecyclePolicyCommand({ lifecyclePolicyArn }))).lifecyclePolicy?.resourceType, 'AMI_IMAGE', 'a refused update changes nothing');
  await assert.rejects(ib.send(new CreateLifecyclePolicyCommand(policy({ name: 'keep recent' }))), ResourceAlreadyExistsException, 'names map to one slug');
});

test('lifecycle policies: clientToken idempotency on create and update', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const first = await ib.send(new CreateLifecyclePolicyCommand(policy({ clientToken: 'create-1' })));
  const again = await ib.send(new CreateLifecyclePolicyCommand(policy({ clientToken: 'create-1' })));
  assert.equal(again.lifecyclePolicyArn, first.lifecyclePolicyArn);
  assert.equal(again.clientToken, 'create-1');
  await assert.rejects(ib.send(new CreateLifecyclePolicyCommand(policy({ clientToken: 'create-1', description: 'changed' }))), IdempotentParameterMismatchException);

  const concurrent = await Promise.all(Array.from({ length: 20 }, () => ib.send(new CreateLifecyclePolicyCommand(policy({ name: 'racy', clientToken: 'race' })))));
  assert.equal(new Set(concurrent.map((r) => r.lifecyclePolicyArn)).size, 1);
  assert.equal((await ib.send(new ListLifecyclePoliciesCommand({}))).lifecyclePolicySummaryList?.length, 2);

  const update = (description: string): UpdateLifecyclePolicyCommandInput => ({ ...policy(), name: undefined, tags: undefined, lifecyclePolicyArn: first.lifecyclePolicyArn, description, clientToken: 'update-1' }) as UpdateLifecyclePolicyCommandInput;
  await ib.send(new UpdateLifecyclePolicyCommand(update('one')));
  const stamp = (await ib.send(new GetLifecyclePolicyCommand({ lifecyclePolicyArn: first.lifecyclePolicyArn }))).lifecyclePolicy?.dateUpdated;
  await new Promise((r) => setTimeout(r, 20));
  await ib.send(new UpdateLifecyclePolicyCommand(update('one')));
  assert.equal((await ib.send(new GetLifecyclePolicyCommand({ lifecyclePolicyArn: first.lifecyclePolicyArn }))).lifecyclePolicy?.dateUpdated?.getTime(), stamp?.getTime(), 'a retried update is not applied twice');
  await assert.rejects(ib.send(new UpdateLifecyclePolicyCommand(update('two'))), IdempotentParameterMismatchException);
});

test('lifecycle policies: pagination and isolation', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const names = Array.from({ length: 7 }, (_, i) => `policy-${i}`);
  for (const name of names) await ib.send(new CreateLifecyclePolicyCommand(policy({ name })));
  const seen: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ib.send(new ListLifecyclePoliciesCommand({ maxResults: 3, nextToken }));
    assert.ok((page.lifecyclePolicySummaryList?.length ?? 0) <= 3);
    seen.push(...(page.lifecyclePolicySummaryList ?? []).map((p) => p.name!));
    nextToken = page.nextToken;
  } while (nextToken);
  assert.deepEqual(seen, names);
  await assert.rejects(ib.send(new ListLifecyclePoliciesCommand({ maxResults: 26 })), InvalidParameterValueException);
  await assert.rejects(ib.send(new ListLifecyclePoliciesCommand({ nextToken: 'forged' })), InvalidPaginationTokenException);
  const filtered = await ib.send(new ListLifecyclePoliciesCommand({ maxResults: 1, filters: [{ name: 'Status', values: ['ENABLED'] }] }));
  await assert.rejects(ib.send(new ListLifecyclePoliciesCommand({ nextToken: filtered.nextToken })), InvalidPaginationTokenException, 'a token belongs to its own query');

  const store = openStore(f.dataDir);
  const { key } = await createAccount(store, 'other');
  await store.close();
  const other = f.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
  const arn = (await ib.send(new ListLifecyclePoliciesCommand({ maxResults: 1 }))).lifecyclePolicySummaryList![0]!.arn!;
  assert.deepEqual((await other.send(new ListLifecyclePoliciesCommand({}))).lifecyclePolicySummaryList, []);
  await assert.rejects(other.send(new GetLifecyclePolicyCommand({ lifecyclePolicyArn: arn })), ResourceNotFoundException);
  await assert.rejects(other.send(new DeleteLifecyclePolicyCommand({ lifecyclePolicyArn: arn })), ResourceNotFoundException);
  await assert.rejects(other.send(new UpdateLifecyclePolicyCommand({ ...policy(), name: undefined, lifecyclePolicyArn: arn } as UpdateLifecyclePolicyCommandInput)), ResourceNotFoundException);
  const mine = await other.send(new CreateLifecyclePolicyCommand(policy({ name: 'policy-0' })));
  assert.notEqual(mine.lifecyclePolicyArn, arn, 'the same name is free in another account');
});

test('lifecycle executions: StartResourceStateUpdate records a pending execution; Get, List, Cancel; the runner performs it', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const store = openStore(f.dataDir);
  t.after(() => store.close());
  const accountId = (await store.listAccounts()).find((a) => a.admin)!.accountId;
  const ami = (status = 'AVAILABLE') => addImageRecord(store, { accountId, name: 'web', type: 'AMI', status, dateCreated: new Date() });
  const image = await ami();
  const failed = await ami('FAILED');
  const building = await ami('BUILDING');
  const container = await addImageRecord(store, { accountId, name: 'api', dateCreated: new Date() });

  const start = (resourceArn: string, status: string, more: Record<string, unknown> = {}) => ib.send(new StartResourceStateUpdateCommand({ resourceArn, state: { status: status as 'DEPRECATED' }, ...more }));
  await assert.rejects(start(image.arn, 'DELETED'), names('includeResources'));
  await assert.rejects(start(image.arn, 'DELETED', { includeResources: { containers: true } }), names('includeResources.containers'));
  await assert.rejects(start(container.arn, 'DEPRECATED', { includeResources: { amis: true } }), names('includeResources.amis'));
  await assert.rejects(start(image.arn, 'PAUSED'), names('state.status'));
  await assert.rejects(start(image.arn, 'DEPRECATED', { exclusionRules: { amis: { regions: [] } } }), names('exclusionRules.amis.regions'));
  await assert.rejects(start(failed.arn, 'DEPRECATED'), (e: Error) => e instanceof InvalidRequestException && /FAILED cannot become DEPRECATED/.test(e.message));
  await assert.rejects(start(building.arn, 'DELETED', { includeResources: { amis: true } }), ResourceInUseException);
  await assert.rejects(start(image.arn.replace('/1.0.0/1', '/1.0.0/99'), 'DEPRECATED'), ResourceNotFoundException);
  await assert.rejects(start('arn:aws:imagebuilder:local:123456789012:image/web/1.0.0', 'DEPRECATED'), names('resourceArn'));

  const first = await start(image.arn, 'DEPRECATED', { includeResources: { amis: true }, clientToken: 'dep-1' });
  assert.match(first.lifecycleExecutionId!, /^lce-[0-9a-f-]{36}$/);
  assert.equal(first.resourceArn, image.arn);
  assert.equal((await start(image.arn, 'DEPRECATED', { includeResources: { amis: true }, clientToken: 'dep-1' })).lifecycleExecutionId, first.lifecycleExecutionId, 'a retried request is the same execution');
  await assert.rejects(start(image.arn, 'DISABLED', { clientToken: 'dep-1' }), IdempotentParameterMismatchException);
  const pending = (await ib.send(new GetLifecycleExecutionCommand({ lifecycleExecutionId: first.lifecycleExecutionId }))).lifecycleExecution!;
  assert.equal(pending.state?.status, 'PENDING');
  assert.equal(pending.lifecyclePolicyArn, undefined);
  assert.ok(pending.startTime instanceof Date);

  const later = await start(failed.arn, 'DELETED', { includeResources: { amis: true }, updateAt: new Date(Date.now() + 3_600_000) });
  const listed = await ib.send(new ListLifecycleExecutionsCommand({ resourceArn: failed.arn }));
  assert.deepEqual(listed.lifecycleExecutions?.map((e) => e.lifecycleExecutionId), [later.lifecycleExecutionId]);
  assert.equal((await ib.send(new CancelLifecycleExecutionCommand({ lifecycleExecutionId: later.lifecycleExecutionId }))).lifecycleExecutionId, later.lifecycleExecutionId);
  const cancelled = (await ib.send(new GetLifecycleExecutionCommand({ lifecycleExecutionId: later.lifecycleExecutionId }))).lifecycleExecution!;
  assert.equal(cancelled.state?.status, 'CANCELLED');
  assert.ok(cancelled.endTime instanceof Date);
  await assert.rejects(ib.send(new CancelLifecycleExecutionCommand({ lifecycleExecutionId: later.lifecycleExecutionId })), (e: Error) => e instanceof InvalidRequestException && /is CANCELLED/.test(e.message));
  await assert.rejects(ib.send(new GetLifecycleExecutionCommand({ lifecycleExecutionId: 'lce-00000000-0000-0000-0000-000000000000' })), ResourceNotFoundException);
  await assert.rejects(ib.send(new GetLifecycleExecutionCommand({ lifecycleExecutionId: 'nope' })), names('lifecycleExecutionId'));
  await assert.rejects(ib.send(new ListLifecycleExecutionsCommand({ resourceArn: 'arn:aws:imagebuilder:local:123456789012:image-recipe/web/1.0.0' })), names('resourceArn'));

  const { key } = await createAccount(store, 'other');
  const other = f.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
  await assert.rejects(other.send(new GetLifecycleExecutionCommand({ lifecycleExecutionId: first.lifecycleExecutionId })), ResourceNotFoundException);
  await assert.rejects(other.send(new CancelLifecycleExecutionCommand({ lifecycleExecutionId: first.lifecycleExecutionId })), ResourceNotFoundException);
  assert.deepEqual((await other.send(new ListLifecycleExecutionsCommand({ resourceArn: image.arn }))).lifecycleExecutions, []);
  await assert.rejects(other.send(new StartResourceStateUpdateCommand({ resourceArn: image.arn, state: { status: 'DEPRECATED' } })), ResourceNotFoundException);

  // The server of this fixture runs no background work: a runner on the same data directory performs the execution.
  const runner = await startLifecycleRunner({ store, clock: systemClock, blobs: new FsBlobStore(path.join(f.dataDir, 'blobs')), registryHost: () => f.server.registryHost, pollMs: 3_600_000 });
  t.after(() => runner.stop());
  await runner.settle();
  const done = (await ib.send(new GetLifecycleExecutionCommand({ lifecycleExecutionId: first.lifecycleExecutionId }))).lifecycleExecution!;
  assert.equal(done.state?.status, 'SUCCESS');
  assert.equal(done.resourcesImpactedSummary?.hasImpactedResources, true);
  assert.ok(done.endTime! >= done.startTime!);
  const deprecated = (await ib.send(new GetImageCommand({ imageBuildVersionArn: image.arn }))).image!;
  assert.equal(deprecated.state?.status, 'DEPRECATED');
  assert.equal(deprecated.lifecycleExecutionId, first.lifecycleExecutionId);
  assert.ok(deprecated.deprecationTime instanceof Date && deprecated.deprecationTime >= done.startTime!, 'GetImage shows when it was deprecated');
  const resources = await ib.send(new ListLifecycleExecutionResourcesCommand({ lifecycleExecutionId: first.lifecycleExecutionId }));
  assert.equal(resources.lifecycleExecutionState?.status, 'SUCCESS');
  assert.deepEqual(
    resources.resources?.map((r) => [r.resourceId, r.accountId, r.region, r.action?.name, r.state?.status]),
    [[image.arn, accountId, 'local', 'DEPRECATE', 'SUCCESS']],
  );
  assert.equal((await ib.send(new GetLifecycleExecutionCommand({ lifecycleExecutionId: later.lifecycleExecutionId }))).lifecycleExecution?.state?.status, 'CANCELLED', 'a cancelled execution never runs');

  const back = await start(image.arn, 'AVAILABLE');
  await runner.settle();
  assert.equal((await ib.send(new GetImageCommand({ imageBuildVersionArn: image.arn }))).image?.state?.status, 'AVAILABLE');
  const history = await ib.send(new ListLifecycleExecutionsCommand({ resourceArn: image.arn, maxResults: 1 }));
  assert.deepEqual(history.lifecycleExecutions?.map((e) => e.lifecycleExecutionId), [back.lifecycleExecutionId], 'newest first');
  const rest = await ib.send(new ListLifecycleExecutionsCommand({ resourceArn: image.arn, maxResults: 1, nextToken: history.nextToken }));
  assert.deepEqual(rest.lifecycleExecutions?.map((e) => e.lifecycleExecutionId), [first.lifecycleExecutionId]);
  assert.equal(rest.nextToken, undefined);
});
