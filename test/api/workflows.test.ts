import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateImagePipelineCommand,
  CreateWorkflowCommand,
  DeleteWorkflowCommand,
  GetWorkflowCommand,
  IdempotentParameterMismatchException,
  ImagebuilderClient,
  InvalidParameterValueException,
  ListWorkflowBuildVersionsCommand,
  ListWorkflowsCommand,
  ResourceAlreadyExistsException,
  ResourceDependencyException,
  ResourceNotFoundException,
  type CreateWorkflowCommandInput,
} from '@aws-sdk/client-imagebuilder';
import { buildApi } from '../../src/api/aws/server.js';
import { openStore } from '../../src/app/server-start.js';
import { createAccount } from '../../src/service/accounts.js';
import { buildHandlers } from '../../src/service/handlers.js';

const DOC = `name: my-build
schemaVersion: 1.0
parameters:
  - name: size
    type: string
    default: large
    description: instance size
steps:
  - name: LaunchBuildInstance
    action: LaunchInstance
    inputs:
      waitFor: ssmAgent
  - name: CreateOutputAMI
    action: CreateImage
    inputs:
      instanceId.$: $.stepOutputs.LaunchBuildInstance.instanceId
outputs:
  - name: ImageId
    value: $.stepOutputs.CreateOutputAMI.imageId
`;

/** A real server with two accounts whose keys the test holds, composed from the same pieces as `kiln serve`. */
async function serve(t: TestContext) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-wf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openStore(dir);
  const admin = await createAccount(store, 'admin', { admin: true });
  const other = await createAccount(store, 'other');
  const app = buildApi({ handlers: buildHandlers(store, { regions: ['local'] }), regions: new Set(['local']), lookupKey: (id) => store.getAccessKeySecret(id) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const clients: ImagebuilderClient[] = [];
  t.after(async () => {
    clients.forEach((c) => c.destroy());
    await app.close();
    await store.close();
  });
  const client = (key: { accessKeyId: string; secretAccessKey: string }) => {
    const c = new ImagebuilderClient({ endpoint, region: 'local', credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey }, maxAttempts: 1 });
    clients.push(c);
    return c;
  };
  return { store, ib: client(admin.key), accountId: admin.account.accountId, other: client(other.key) };
}

function input(overrides: Partial<CreateWorkflowCommandInput> = {}): CreateWorkflowCommandInput {
  return { name: 'My Build', semanticVersion: '1.0.0', type: 'BUILD', data: DOC, ...overrides };
}

test('create, get, list, list build versions and delete a workflow', async (t) => {
  const { ib, accountId } = await serve(t);
  const created = await ib.send(new CreateWorkflowCommand(input({ description: 'builds', changeDescription: 'first', tags: { team: 'a' } })));
  const base = `arn:aws:imagebuilder:local:${accountId}:workflow/build/my-build`;
  assert.equal(created.workflowBuildVersionArn, `${base}/1.0.0/1`);
  assert.deepEqual(created.latestVersionReferences, {
    latestVersionArn: `${base}/x.x.x`,
    latestMajorVersionArn: `${base}/1.x.x`,
    latestMinorVersionArn: `${base}/1.0.x`,
    latestPatchVersionArn: `${base}/1.0.0`,
  });
  const got = (await ib.send(new GetWorkflowCommand({ workflowBuildVersionArn: created.workflowBuildVersionArn }))).workflow!;
  assert.equal(got.name, 'My Build');
  assert.equal(got.type, 'BUILD');
  assert.equal(got.owner, accountId);
  assert.equal(got.data, DOC);
  assert.deepEqual(got.state, { status: 'ACTIVE' });
  assert.deepEqual(got.parameters, [{ name: 'size', type: 'string', defaultValue: ['large'], description: 'instance size' }]);
  assert.deepEqual(got.tags, { team: 'a' });

  await ib.send(new CreateWorkflowCommand(input({ semanticVersion: '1.2.0' })));
  await ib.send(new CreateWorkflowCommand(input({ name: 'checks', type: 'TEST', data: 'schemaVersion: 1.0\nsteps:\n  - name: Wait\n    action: WaitForAction\n' })));
  assert.equal((await ib.send(new GetWorkflowCommand({ workflowBuildVersionArn: `${base}/x.x.x` }))).workflow?.version, '1.2.0');
  assert.equal((await ib.send(new GetWorkflowCommand({ workflowBuildVersionArn: `${base}/1.0.x` }))).workflow?.version, '1.0.0');
  await assert.rejects(ib.send(new GetWorkflowCommand({ workflowBuildVersionArn: `${base}/x.1.x` })), { name: 'InvalidVersionNumberException' });
  await assert.rejects(ib.send(new GetWorkflowCommand({ workflowBuildVersionArn: `${base}/9.x.x` })), ResourceNotFoundException);

  const list = await ib.send(new ListWorkflowsCommand({}));
  assert.deepEqual(list.workflowVersionList?.map((w) => `${w.type} ${w.name}@${w.version}`), ['TEST checks@1.0.0', 'BUILD My Build@1.0.0', 'BUILD My Build@1.2.0']);
  assert.equal(list.workflowVersionList?.[1]?.arn, `${base}/1.0.0`);
  assert.deepEqual((await ib.send(new ListWorkflowsCommand({ filters: [{ name: 'type', values: ['TEST'] }] }))).workflowVersionList?.map((w) => w.name), ['checks']);
  const builds = await ib.send(new ListWorkflowBuildVersionsCommand({ workflowVersionArn: `${base}/1.0.0` }));
  assert.deepEqual(builds.workflowSummaryList?.map((w) => w.arn), [created.workflowBuildVersionArn]);
  assert.equal(builds.workflowSummaryList?.[0]?.changeDescription, 'first');

  assert.equal((await ib.send(new DeleteWorkflowCommand({ workflowBuildVersionArn: created.workflowBuildVersionArn }))).workflowBuildVersionArn, created.workflowBuildVersionArn);
  await assert.rejects(ib.send(new GetWorkflowCommand({ workflowBuildVersionArn: created.workflowBuildVersionArn })), ResourceNotFoundException);
  await assert.rejects(ib.send(new DeleteWorkflowCommand({ workflowBuildVersionArn: created.workflowBuildVersionArn })), ResourceNotFoundException);
});

test('bad documents, duplicates, tokens, dependencies and isolation', async (t) => {
  const { ib, other, store, accountId } = await serve(t);
  const components = 'schemaVersion: 1.0\nsteps:\n  - name: Apply\n    action: ExecuteComponents\n';
  await assert.rejects(ib.send(new CreateWorkflowCommand(input({ type: 'DISTRIBUTION', data: components }))), (e: Error) => {
    assert.ok(e instanceof InvalidParameterValueException, e.name);
    assert.match(e.message, /data: steps\[0\]\.action: ExecuteComponents cannot run in a DISTRIBUTION workflow/);
    return true;
  });
  await assert.rejects(ib.send(new CreateWorkflowCommand(input({ name: 'x', semanticVersion: '1', type: 'DEPLOY' as 'BUILD' }))), (e: Error) => /name:/.test(e.message) && /semanticVersion:/.test(e.message) && /type:/.test(e.message));
  await assert.rejects(ib.send(new CreateWorkflowCommand(input({ data: 'schemaVersion: 1.0\nsteps: []\n' }))), /data: steps: is required/);
  await assert.rejects(ib.send(new CreateWorkflowCommand(input({ dryRun: true }))), { name: 'DryRunOperationException' });

  const a = await ib.send(new CreateWorkflowCommand(input({ clientToken: 'tok' })));
  assert.equal((await ib.send(new CreateWorkflowCommand(input({ clientToken: 'tok' })))).workflowBuildVersionArn, a.workflowBuildVersionArn);
  await assert.rejects(ib.send(new CreateWorkflowCommand(input({ clientToken: 'tok', description: 'other' }))), IdempotentParameterMismatchException);
  await assert.rejects(ib.send(new CreateWorkflowCommand(input())), ResourceAlreadyExistsException);

  // A pipeline referencing the workflow through a wildcard blocks its deletion.
  const refs = `arn:aws:imagebuilder:local:${accountId}`;
  await store.createResource({ accountId, region: 'local', type: 'image-recipe', name: 'web', version: '1.0.0', arn: `${refs}:image-recipe/web/1.0.0`, data: { name: 'web' }, build: 'none' });
  await store.createResource({ accountId, region: 'local', type: 'infrastructure-configuration', name: 'infra', version: '', arn: `${refs}:infrastructure-configuration/infra`, data: { name: 'infra' }, build: 'none' });
  await ib.send(
    new CreateImagePipelineCommand({
      name: 'uses-workflow',
      imageRecipeArn: `${refs}:image-recipe/web/1.0.0`,
      infrastructureConfigurationArn: `${refs}:infrastructure-configuration/infra`,
      executionRole: 'role',
      workflows: [{ workflowArn: `${refs}:workflow/build/my-build/1.x.x` }],
    }),
  );
  await assert.rejects(ib.send(new DeleteWorkflowCommand({ workflowBuildVersionArn: a.workflowBuildVersionArn })), (e: Error) => {
    assert.ok(e instanceof ResourceDependencyException, e.name);
    assert.match(e.message, /image-pipeline\/uses-workflow/);
    return true;
  });

  assert.deepEqual((await other.send(new ListWorkflowsCommand({}))).workflowVersionList, []);
  await assert.rejects(other.send(new GetWorkflowCommand({ workflowBuildVersionArn: a.workflowBuildVersionArn })), ResourceNotFoundException);
  await assert.rejects(other.send(new DeleteWorkflowCommand({ workflowBuildVersionArn: a.workflowBuildVersionArn })), ResourceNotFoundException);
  assert.notEqual((await other.send(new CreateWorkflowCommand(input()))).workflowBuildVersionArn, a.workflowBuildVersionArn);
});
