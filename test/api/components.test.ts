import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateComponentCommand,
  DeleteComponentCommand,
  GetComponentCommand,
  IdempotentParameterMismatchException,
  InvalidPaginationTokenException,
  InvalidParameterCombinationException,
  InvalidParameterValueException,
  ListComponentBuildVersionsCommand,
  ListComponentsCommand,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  type CreateComponentCommandInput,
} from '@aws-sdk/client-imagebuilder';
import { createAccount } from '../../src/service/accounts.js';
import { openStore } from '../../src/app/server-start.js';
import { startFixture } from './fixture.js';

const DOC = `name: hello
schemaVersion: 1.0
parameters:
  - greeting:
      type: string
      default: hi
      description: what to say
phases:
  - name: build
    steps:
      - name: Say
        action: ExecuteBash
        inputs:
          commands: ['echo {{ greeting }}']
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

function input(overrides: Partial<CreateComponentCommandInput> = {}): CreateComponentCommandInput {
  return { name: 'Hello World', semanticVersion: '1.0.0', platform: 'Linux', data: DOC, ...overrides };
}

test('create, get, list, list build versions and delete a component', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const created = await ib.send(new CreateComponentCommand(input({ description: 'says hi', supportedOsVersions: ['Debian 12'], tags: { team: 'a' } })));
  const accountId = /:(\d{12}):/.exec(created.componentBuildVersionArn ?? '')?.[1];
  assert.equal(created.componentBuildVersionArn, `arn:aws:imagebuilder:local:${accountId}:component/hello-world/1.0.0/1`);
  assert.deepEqual(created.latestVersionReferences, {
    latestVersionArn: `arn:aws:imagebuilder:local:${accountId}:component/hello-world/x.x.x`,
    latestMajorVersionArn: `arn:aws:imagebuilder:local:${accountId}:component/hello-world/1.x.x`,
    latestMinorVersionArn: `arn:aws:imagebuilder:local:${accountId}:component/hello-world/1.0.x`,
    latestPatchVersionArn: `arn:aws:imagebuilder:local:${accountId}:component/hello-world/1.0.0`,
  });
  assert.ok(created.clientToken, 'the SDK fills clientToken and the response echoes it');

  const got = await ib.send(new GetComponentCommand({ componentBuildVersionArn: created.componentBuildVersionArn }));
  assert.equal(got.component?.name, 'Hello World');
  assert.equal(got.component?.type, 'BUILD');
  assert.equal(got.component?.owner, accountId);
  assert.equal(got.component?.data, DOC);
  assert.deepEqual(got.component?.parameters, [{ name: 'greeting', type: 'string', defaultValue: ['hi'], description: 'what to say' }]);
  assert.deepEqual(got.component?.supportedOsVersions, ['Debian 12']);
  assert.deepEqual(got.component?.tags, { team: 'a' });
  assert.match(got.component?.dateCreated ?? '', /^\d{4}-\d\d-\d\dT/);

  await ib.send(new CreateComponentCommand(input({ semanticVersion: '1.10.0' })));
  await ib.send(new CreateComponentCommand(input({ semanticVersion: '1.2.0' })));
  await ib.send(new CreateComponentCommand(input({ name: 'checks', semanticVersion: '0.1.0', data: TEST_DOC })));

  const base = `arn:aws:imagebuilder:local:${accountId}:component`;
  const cases: [string, string][] = [
    [`${base}/hello-world/x.x.x`, '1.10.0'],
    [`${base}/hello-world/1.2.x`, '1.2.0'],
    [`${base}/hello-world/1.0.0`, '1.0.0'],
    [`${base}/hello-world/1.0.0/1`, '1.0.0'],
  ];
  for (const [arn, version] of cases) {
    const c = await ib.send(new GetComponentCommand({ componentBuildVersionArn: arn }));
    assert.equal(c.component?.version, version, arn);
  }
  assert.equal((await ib.send(new GetComponentCommand({ componentBuildVersionArn: `${base}/checks/0.1.0/1` }))).component?.type, 'TEST');
  await assert.rejects(ib.send(new GetComponentCommand({ componentBuildVersionArn: `${base}/hello-world/x.1.x` })), { name: 'InvalidVersionNumberException' });
  await assert.rejects(ib.send(new GetComponentCommand({ componentBuildVersionArn: `${base}/hello-world/9.x.x` })), ResourceNotFoundException);
  await assert.rejects(ib.send(new GetComponentCommand({ componentBuildVersionArn: 'not-an-arn' })), InvalidParameterValueException);

  const list = await ib.send(new ListComponentsCommand({}));
  assert.deepEqual(list.componentVersionList?.map((c) => `${c.name}@${c.version}`), ['checks@0.1.0', 'Hello World@1.0.0', 'Hello World@1.2.0', 'Hello World@1.10.0']);
  assert.equal(list.componentVersionList?.[1]?.arn, `${base}/hello-world/1.0.0`);
  const filtered = await ib.send(new ListComponentsCommand({ filters: [{ name: 'type', values: ['TEST'] }] }));
  assert.deepEqual(filtered.componentVersionList?.map((c) => c.name), ['checks']);

  const builds = await ib.send(new ListComponentBuildVersionsCommand({ componentVersionArn: `${base}/hello-world/1.0.0` }));
  assert.deepEqual(builds.componentSummaryList?.map((c) => c.arn), [created.componentBuildVersionArn]);

  const deleted = await ib.send(new DeleteComponentCommand({ componentBuildVersionArn: created.componentBuildVersionArn }));
  assert.equal(deleted.componentBuildVersionArn, created.componentBuildVersionArn);
  await assert.rejects(ib.send(new GetComponentCommand({ componentBuildVersionArn: created.componentBuildVersionArn })), ResourceNotFoundException);
  await assert.rejects(ib.send(new DeleteComponentCommand({ componentBuildVersionArn: created.componentBuildVersionArn })), ResourceNotFoundException);
});

test('create refuses bad input with every issue, duplicates, and data+uri', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  await assert.rejects(ib.send(new CreateComponentCommand(input({ name: 'x', semanticVersion: '1.0', platform: 'Plan9' as 'Linux', data: 'phases: []' }))), (e: Error) => {
    assert.ok(e instanceof InvalidParameterValueException, e.name);
    for (const field of ['name', 'semanticVersion', 'platform', 'data: phases']) assert.match(e.message, new RegExp(field), field);
    return true;
  });
  await assert.rejects(ib.send(new CreateComponentCommand(input({ data: 'phases: [\n' }))), InvalidParameterValueException);
  await assert.rejects(ib.send(new CreateComponentCommand(input({ uri: 's3://bucket/doc.yaml' }))), InvalidParameterCombinationException);
  await ib.send(new CreateComponentCommand(input()));
  await assert.rejects(ib.send(new CreateComponentCommand(input())), ResourceAlreadyExistsException);
  await assert.rejects(ib.send(new CreateComponentCommand(input({ semanticVersion: '2.0.0', dryRun: true }))), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(e.name, 'DryRunOperationException');
    assert.equal(e.$metadata?.httpStatusCode, 412);
    return true;
  });
  assert.equal((await ib.send(new ListComponentsCommand({}))).componentVersionList?.length, 1, 'the dry run created nothing');
});

test('clientToken: same input returns the first answer, another input is a mismatch, concurrency makes one', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const a = await ib.send(new CreateComponentCommand(input({ clientToken: 'tok-1' })));
  const b = await ib.send(new CreateComponentCommand(input({ clientToken: 'tok-1' })));
  assert.equal(b.componentBuildVersionArn, a.componentBuildVersionArn);
  assert.equal(b.clientToken, 'tok-1');
  await assert.rejects(ib.send(new CreateComponentCommand(input({ clientToken: 'tok-1', semanticVersion: '3.0.0' }))), IdempotentParameterMismatchException);
  const results = await Promise.allSettled(Array.from({ length: 50 }, () => ib.send(new CreateComponentCommand(input({ semanticVersion: '5.0.0', clientToken: 'tok-many' })))));
  assert.ok(results.every((r) => r.status === 'fulfilled'));
  const list = await ib.send(new ListComponentsCommand({ filters: [{ name: 'version', values: ['5.0.0'] }] }));
  assert.equal(list.componentVersionList?.length, 1);
});

test('pagination: 1-25 per page, opaque tokens, bad tokens rejected', async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  for (let i = 0; i < 7; i++) await ib.send(new CreateComponentCommand(input({ semanticVersion: `1.0.${i}` })));
  const seen: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ib.send(new ListComponentsCommand({ maxResults: 3, nextToken }));
    seen.push(...(page.componentVersionList ?? []).map((c) => c.version ?? ''));
    nextToken = page.nextToken;
  } while (nextToken);
  assert.deepEqual(seen, ['1.0.0', '1.0.1', '1.0.2', '1.0.3', '1.0.4', '1.0.5', '1.0.6']);
  await assert.rejects(ib.send(new ListComponentsCommand({ maxResults: 26 })), InvalidParameterValueException);
  await assert.rejects(ib.send(new ListComponentsCommand({ nextToken: 'forged' })), InvalidPaginationTokenException);
});

test('accounts are isolated, and accounts can be created while the server runs', async (t) => {
  const f = await startFixture(t);
  const admin = f.client();
  const created = await admin.send(new CreateComponentCommand(input()));
  const store = openStore(f.dataDir);
  const { key } = await createAccount(store, 'other');
  await store.close();
  const other = f.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
  assert.deepEqual((await other.send(new ListComponentsCommand({}))).componentVersionList, []);
  await assert.rejects(other.send(new GetComponentCommand({ componentBuildVersionArn: created.componentBuildVersionArn })), ResourceNotFoundException);
  await assert.rejects(other.send(new DeleteComponentCommand({ componentBuildVersionArn: created.componentBuildVersionArn })), ResourceNotFoundException);
  const mine = await other.send(new CreateComponentCommand(input()));
  assert.notEqual(mine.componentBuildVersionArn, created.componentBuildVersionArn);
});
