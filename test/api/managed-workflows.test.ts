import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import {
  DeleteWorkflowCommand,
  ForbiddenException,
  GetWorkflowCommand,
  ListTagsForResourceCommand,
  ListWorkflowBuildVersionsCommand,
  ListWorkflowsCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-imagebuilder';
import { startFixture } from './fixture.js';
import { openStore } from '../../src/app/server-start.js';
import { managedWorkflowArn, MANAGED_WORKFLOWS } from '../../src/domain/managed-workflows.js';
import { inspectWorkflowDocument } from '../../src/domain/workflow-document.js';
import { registerManagedWorkflows } from '../../src/service/workflows.js';

/**
 * The steps Kiln's engine runs and records for each stage, as [name, action]: container-build.ts and
 * machine-build.ts (build and test), distribution-stage.ts (distribution).
 */
const BUILD_STEPS = [
  ['LaunchBuildInstance', 'LaunchInstance'],
  ['ApplyBuildComponents', 'ExecuteComponents'],
  ['CreateOutputImage', 'CreateImage'],
  ['TerminateBuildInstance', 'TerminateInstance'],
];
// CollectImageScanFindings runs when image scanning is enabled (its `if`).
const TEST_STEPS = [
  ['LaunchTestInstance', 'LaunchInstance'],
  ['CollectImageScanFindings', 'CollectImageScanFindings'],
  ['ApplyTestComponents', 'ExecuteComponents'],
  ['TerminateTestInstance', 'TerminateInstance'],
];
const ENGINE_STEPS: Record<string, string[][]> = {
  'build-image': BUILD_STEPS,
  'test-image': TEST_STEPS,
  'distribute-image': [['DistributeImage', 'DistributeImage']],
  'build-container': BUILD_STEPS,
  'test-container': TEST_STEPS,
  'distribute-container': [['DistributeContainerImage', 'DistributeContainerImage']],
};
const TYPES: Record<string, string> = {
  'build-image': 'BUILD',
  'test-image': 'TEST',
  'distribute-image': 'DISTRIBUTION',
  'build-container': 'BUILD',
  'test-container': 'TEST',
  'distribute-container': 'DISTRIBUTION',
};
const arnOf = (region: string, name: string, version = '1.0.0/1') => `arn:aws:imagebuilder:${region}:aws:workflow/${TYPES[name]!.toLowerCase()}/${name}/${version}`;

test('the six managed workflows are listed as Amazon\'s in every region and served with the documents the engine runs', async (t) => {
  const kiln = await startFixture(t, { config: { regions: ['local', 'eu-west-1'] } });
  const ib = kiln.client();

  const listed = (await ib.send(new ListWorkflowsCommand({ owner: 'Amazon' }))).workflowVersionList ?? [];
  assert.deepEqual(
    listed.map((w) => [w.name, w.type, w.owner, w.version, w.arn]).sort(),
    Object.keys(TYPES).map((name) => [name, TYPES[name], 'aws', '1.0.0', arnOf('local', name, '1.0.0')]).sort(),
  );
  const west = (await kiln.client({ region: 'eu-west-1' }).send(new ListWorkflowsCommand({ owner: 'Amazon' }))).workflowVersionList ?? [];
  assert.deepEqual(west.map((w) => w.arn).sort(), Object.keys(TYPES).map((name) => arnOf('eu-west-1', name, '1.0.0')).sort());
  // Managed workflows are nobody's own and nobody shares them.
  assert.deepEqual((await ib.send(new ListWorkflowsCommand({}))).workflowVersionList, []);
  assert.deepEqual((await ib.send(new ListWorkflowsCommand({ owner: 'Shared' }))).workflowVersionList, []);
  assert.deepEqual((await ib.send(new ListWorkflowsCommand({ owner: 'ThirdParty' }))).workflowVersionList, []);

  for (const [name, steps] of Object.entries(ENGINE_STEPS)) {
    const got = (await ib.send(new GetWorkflowCommand({ workflowBuildVersionArn: arnOf('local', name) }))).workflow!;
    assert.equal(got.arn, arnOf('local', name));
    assert.equal(got.owner, 'aws');
    assert.equal(got.type, TYPES[name]);
    assert.deepEqual(got.state, { status: 'ACTIVE' });
    const doc = parse(got.data!) as { name: string; schemaVersion: unknown; steps: { name: string; action: string }[] };
    assert.equal(doc.name, name);
    assert.equal(String(doc.schemaVersion), '1');
    assert.deepEqual(doc.steps.map((s) => [s.name, s.action]), steps, name);
    // A document Kiln serves is one CreateWorkflow would accept for its type.
    assert.deepEqual(inspectWorkflowDocument(got.data!, got.type as 'BUILD').issues, [], name);
  }

  // The ARNs the engine records on its workflow executions are the ones served.
  for (const kind of ['image', 'container'] as const) {
    for (const stage of ['BUILD', 'TEST', 'DISTRIBUTION'] as const) {
      const arn = managedWorkflowArn('local', kind, stage);
      assert.equal((await ib.send(new GetWorkflowCommand({ workflowBuildVersionArn: arn }))).workflow?.arn, arn);
    }
  }

  // Wildcards, build versions, filters and pages treat them like any Amazon-owned resource.
  assert.equal((await ib.send(new GetWorkflowCommand({ workflowBuildVersionArn: arnOf('local', 'test-container', 'x.x.x') }))).workflow?.arn, arnOf('local', 'test-container'));
  assert.equal((await ib.send(new GetWorkflowCommand({ workflowBuildVersionArn: arnOf('local', 'build-image', '1.0.x') }))).workflow?.version, '1.0.0');
  const builds = await ib.send(new ListWorkflowBuildVersionsCommand({ workflowVersionArn: arnOf('local', 'distribute-image', '1.0.0') }));
  assert.deepEqual(builds.workflowSummaryList?.map((w) => [w.arn, w.owner]), [[arnOf('local', 'distribute-image'), 'aws']]);
  const tests = await ib.send(new ListWorkflowsCommand({ owner: 'Amazon', filters: [{ name: 'type', values: ['TEST'] }] }));
  assert.deepEqual(tests.workflowVersionList?.map((w) => w.name).sort(), ['test-container', 'test-image']);
  const named = await ib.send(new ListWorkflowsCommand({ owner: 'Amazon', filters: [{ name: 'name', values: ['build-container'] }] }));
  assert.deepEqual(named.workflowVersionList?.map((w) => w.arn), [arnOf('local', 'build-container', '1.0.0')]);
  const first = await ib.send(new ListWorkflowsCommand({ owner: 'Amazon', maxResults: 4 }));
  assert.equal(first.workflowVersionList?.length, 4);
  assert.ok(first.nextToken);
  const rest = await ib.send(new ListWorkflowsCommand({ owner: 'Amazon', maxResults: 4, nextToken: first.nextToken }));
  assert.equal(rest.workflowVersionList?.length, 2);
  assert.equal(rest.nextToken, undefined);
  assert.equal(new Set([...first.workflowVersionList!, ...rest.workflowVersionList!].map((w) => w.arn)).size, 6);

  // Nobody deletes or tags them; their (empty) tags may be read.
  const managed = arnOf('local', 'build-image');
  await assert.rejects(ib.send(new DeleteWorkflowCommand({ workflowBuildVersionArn: managed })), (e: Error) => {
    assert.ok(e instanceof ForbiddenException, e.name);
    assert.match(e.message, /managed by Kiln/);
    return true;
  });
  await assert.rejects(ib.send(new TagResourceCommand({ resourceArn: managed, tags: { team: 'a' } })), ForbiddenException);
  await assert.rejects(ib.send(new UntagResourceCommand({ resourceArn: managed, tagKeys: ['team'] })), ForbiddenException);
  assert.deepEqual((await ib.send(new ListTagsForResourceCommand({ resourceArn: managed }))).tags, {});
  assert.equal((await ib.send(new GetWorkflowCommand({ workflowBuildVersionArn: managed }))).workflow?.arn, managed);
  // A managed ARN that names no workflow is still not found, not forbidden.
  await assert.rejects(ib.send(new DeleteWorkflowCommand({ workflowBuildVersionArn: 'arn:aws:imagebuilder:local:aws:workflow/build/no-such/1.0.0/1' })), { name: 'ResourceNotFoundException' });
});

test('registering the managed workflows again keeps one build each and brings a stale document up to date', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-managed-wf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openStore(dir);
  t.after(() => store.close());
  await registerManagedWorkflows(store, ['local']);
  const arn = managedWorkflowArn('local', 'container', 'BUILD');
  await store.updateResource(arn, (current) => ({ ...current.data, data: 'schemaVersion: 1.0\nsteps: []\n' }));
  await registerManagedWorkflows(store, ['local']);
  const records = await store.listResources({ accountId: 'aws', region: 'local', type: 'workflow/build', name: 'build-container' });
  assert.deepEqual(records.map((r) => [r.arn, r.data.data]), [[arn, MANAGED_WORKFLOWS.find((w) => w.name === 'build-container')!.data]]);
});
