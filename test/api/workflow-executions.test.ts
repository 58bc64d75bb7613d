import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DeleteImageCommand,
  GetWorkflowExecutionCommand,
  GetWorkflowStepExecutionCommand,
  InvalidPaginationTokenException,
  InvalidParameterValueException,
  ListWorkflowExecutionsCommand,
  ListWorkflowStepExecutionsCommand,
  PutImagePolicyCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-imagebuilder';
import { createPendingImage, setImageStatus, startExecutionServer, type ExecutionServer } from '../helpers/execution-server.js';
import type { ResourceRecord } from '../../src/store/store.js';

const BUILD_WF = 'arn:aws:imagebuilder:local:aws:workflow/build/build-image/1.0.0/1';
const TEST_WF = 'arn:aws:imagebuilder:local:aws:workflow/test/test-image/1.0.0/1';

function expectError(type: new (...args: never[]) => Error, ...fragments: string[]) {
  return (e: Error) => {
    assert.ok(e instanceof type, `${e.name}: ${e.message}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `${e.message} should mention ${f}`);
    return true;
  };
}

/** Records what a build would: a finished BUILD workflow (one step skipped) and a TEST workflow still running. */
async function recordBuild(server: ExecutionServer, image: ResourceRecord) {
  const build = await server.recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: BUILD_WF, totalStepCount: 3 });
  const launch = await build.startStep({ name: 'LaunchBuildInstance', action: 'LaunchInstance', description: 'a fresh instance', inputs: { parentImage: 'debian:12' }, onFailure: 'Abort', timeoutSeconds: 600 });
  launch.log('launched\n');
  await launch.finish('COMPLETED', { outputs: { instanceId: 'ns-1' } });
  const apply = await build.startStep({ name: 'ApplyBuildComponents', action: 'ExecuteComponents' });
  await apply.finish('COMPLETED', { outputs: { status: 'Success' } });
  await build.skipStep({ name: 'TerminateBuildInstance', action: 'TerminateInstance', message: 'terminated with the workflow' });
  await build.finish('COMPLETED');
  const test_ = await server.recorder.startWorkflow({ image, type: 'TEST', workflowBuildVersionArn: TEST_WF, totalStepCount: 3 });
  const running = await test_.startStep({ name: 'LaunchTestInstance', action: 'LaunchInstance' });
  return { build, test: test_, launch, apply, running };
}

test('List/Get workflow executions and step executions: AWS member names, order, JSON inputs/outputs, pagination', async (t) => {
  const server = await startExecutionServer(t);
  const ib = server.client();
  const image = await createPendingImage(server, ib);
  const rec = await recordBuild(server, image);

  const listed = await ib.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: image.arn }));
  assert.equal(listed.imageBuildVersionArn, image.arn);
  assert.equal(listed.nextToken, undefined);
  assert.equal(listed.message, undefined);
  assert.equal(listed.workflowExecutions?.length, 2);
  const [b, tst] = listed.workflowExecutions!;
  assert.deepEqual(
    { ...b, startTime: typeof b!.startTime, endTime: typeof b!.endTime },
    {
      workflowBuildVersionArn: BUILD_WF,
      workflowExecutionId: rec.build.workflowExecutionId,
      type: 'BUILD',
      status: 'COMPLETED',
      totalStepCount: 3,
      totalStepsSucceeded: 2,
      totalStepsFailed: 0,
      totalStepsSkipped: 1,
      startTime: 'string',
      endTime: 'string',
      retried: false,
    },
  );
  assert.equal(tst!.workflowExecutionId, rec.test.workflowExecutionId);
  assert.equal(tst!.status, 'RUNNING');
  assert.equal(tst!.endTime, undefined);

  // Pages of one, with the token of the next.
  const first = await ib.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: image.arn, maxResults: 1 }));
  assert.deepEqual(first.workflowExecutions?.map((w) => w.type), ['BUILD']);
  assert.ok(first.nextToken);
  const second = await ib.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: image.arn, maxResults: 1, nextToken: first.nextToken }));
  assert.deepEqual(second.workflowExecutions?.map((w) => w.type), ['TEST']);
  assert.equal(second.nextToken, undefined);
  await assert.rejects(ib.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: image.arn, nextToken: 'bogus' })), InvalidPaginationTokenException);
  await assert.rejects(ib.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: image.arn, maxResults: 26 })), expectError(InvalidParameterValueException, 'maxResults'));

  const got = await ib.send(new GetWorkflowExecutionCommand({ workflowExecutionId: rec.build.workflowExecutionId }));
  assert.equal(got.imageBuildVersionArn, image.arn);
  assert.equal(got.workflowBuildVersionArn, BUILD_WF);
  assert.equal(got.type, 'BUILD');
  assert.equal(got.status, 'COMPLETED');
  assert.equal(got.totalStepsSkipped, 1);
  assert.ok(got.requestId);

  const steps = await ib.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: rec.build.workflowExecutionId }));
  assert.equal(steps.workflowExecutionId, rec.build.workflowExecutionId);
  assert.equal(steps.workflowBuildVersionArn, BUILD_WF);
  assert.equal(steps.imageBuildVersionArn, image.arn);
  assert.deepEqual(
    steps.steps?.map((s) => [s.name, s.action, s.status]),
    [
      ['LaunchBuildInstance', 'LaunchInstance', 'COMPLETED'],
      ['ApplyBuildComponents', 'ExecuteComponents', 'COMPLETED'],
      ['TerminateBuildInstance', 'TerminateInstance', 'SKIPPED'],
    ],
  );
  const launch = steps.steps![0]!;
  assert.equal(launch.stepExecutionId, rec.launch.stepExecutionId);
  assert.equal(launch.description, 'a fresh instance');
  assert.equal(typeof launch.inputs, 'string', 'inputs are JSON text, as AWS returns them');
  assert.deepEqual(JSON.parse(launch.inputs!), { parentImage: 'debian:12' });
  assert.deepEqual(JSON.parse(launch.outputs!), { instanceId: 'ns-1' });
  assert.ok(launch.startTime && launch.endTime);
  assert.equal(steps.steps![2]!.message, 'terminated with the workflow');
  const page = await ib.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: rec.build.workflowExecutionId, maxResults: 2 }));
  assert.equal(page.steps?.length, 2);
  const rest = await ib.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: rec.build.workflowExecutionId, maxResults: 2, nextToken: page.nextToken }));
  assert.deepEqual(rest.steps?.map((s) => s.name), ['TerminateBuildInstance']);
  // A token of one list is not valid for another.
  await assert.rejects(ib.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: rec.test.workflowExecutionId, nextToken: page.nextToken })), InvalidPaginationTokenException);

  const step = await ib.send(new GetWorkflowStepExecutionCommand({ stepExecutionId: rec.launch.stepExecutionId }));
  assert.equal(step.stepExecutionId, rec.launch.stepExecutionId);
  assert.equal(step.workflowExecutionId, rec.build.workflowExecutionId);
  assert.equal(step.workflowBuildVersionArn, BUILD_WF);
  assert.equal(step.imageBuildVersionArn, image.arn);
  assert.equal(step.onFailure, 'Abort');
  assert.equal(step.timeoutSeconds, 600);
  assert.equal(step.status, 'COMPLETED');
  assert.deepEqual(JSON.parse(step.outputs!), { instanceId: 'ns-1' });

  // A failed build: the workflow's message, and the image's reason on the list.
  await rec.running.finish('FAILED', { message: 'no such image' });
  await rec.test.finish('FAILED', 'Step LaunchTestInstance failed: no such image');
  await setImageStatus(server.store, image.arn, 'FAILED', 'Workflow Execution ID: x failed');
  const after = await ib.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: image.arn }));
  assert.equal(after.message, 'Workflow Execution ID: x failed');
  assert.equal(after.workflowExecutions![1]!.status, 'FAILED');
  assert.equal(after.workflowExecutions![1]!.totalStepsFailed, 1);
  const testSteps = await ib.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: rec.test.workflowExecutionId }));
  assert.equal(testSteps.message, 'Step LaunchTestInstance failed: no such image');
  assert.equal(testSteps.steps![0]!.message, 'no such image');
});

test('an image without executions lists none; malformed ids and ARNs name their field; unknown ones are not found', async (t) => {
  const server = await startExecutionServer(t);
  const ib = server.client();
  const image = await createPendingImage(server, ib);
  assert.deepEqual((await ib.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: image.arn }))).workflowExecutions, []);

  const version = image.arn.replace(/\/1$/, '');
  await assert.rejects(ib.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: version })), expectError(InvalidParameterValueException, 'imageBuildVersionArn'));
  await assert.rejects(ib.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: 'not-an-arn' })), expectError(InvalidParameterValueException, 'imageBuildVersionArn'));
  await assert.rejects(ib.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: `${version}/9` })), expectError(ResourceNotFoundException, `${version}/9`));
  for (const bad of ['wf-123', 'WF-0b9d3a4e-1111-2222-3333-444455556666', 'step-0b9d3a4e-1111-2222-3333-444455556666']) {
    await assert.rejects(ib.send(new GetWorkflowExecutionCommand({ workflowExecutionId: bad })), expectError(InvalidParameterValueException, 'workflowExecutionId'));
    await assert.rejects(ib.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: bad })), expectError(InvalidParameterValueException, 'workflowExecutionId'));
  }
  await assert.rejects(ib.send(new GetWorkflowStepExecutionCommand({ stepExecutionId: 'wf-0b9d3a4e-1111-2222-3333-444455556666' })), expectError(InvalidParameterValueException, 'stepExecutionId'));
  const unknownWf = 'wf-0b9d3a4e-1111-2222-3333-444455556666';
  const unknownStep = 'step-0b9d3a4e-1111-2222-3333-444455556666';
  await assert.rejects(ib.send(new GetWorkflowExecutionCommand({ workflowExecutionId: unknownWf })), expectError(ResourceNotFoundException, unknownWf));
  await assert.rejects(ib.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: unknownWf })), expectError(ResourceNotFoundException, unknownWf));
  await assert.rejects(ib.send(new GetWorkflowStepExecutionCommand({ stepExecutionId: unknownStep })), expectError(ResourceNotFoundException, unknownStep));

  // Executions of a deleted image go with it.
  const rec = await recordBuild(server, image);
  await rec.running.finish('COMPLETED');
  await rec.test.finish('COMPLETED');
  await setImageStatus(server.store, image.arn, 'AVAILABLE');
  await ib.send(new DeleteImageCommand({ imageBuildVersionArn: image.arn }));
  await assert.rejects(ib.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: image.arn })), ResourceNotFoundException);
  await assert.rejects(ib.send(new GetWorkflowExecutionCommand({ workflowExecutionId: rec.build.workflowExecutionId })), expectError(ResourceNotFoundException, rec.build.workflowExecutionId));
  await assert.rejects(ib.send(new GetWorkflowStepExecutionCommand({ stepExecutionId: rec.launch.stepExecutionId })), ResourceNotFoundException);
});

test('visibility: another account sees executions only of images shared with it, as GetImage does', async (t) => {
  const server = await startExecutionServer(t);
  const owner = server.client();
  const image = await createPendingImage(server, owner);
  const rec = await recordBuild(server, image);
  const other = await server.newAccount('other');
  const ob = server.client(other.keys);

  await assert.rejects(ob.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: image.arn })), expectError(ResourceNotFoundException, image.arn, other.accountId));
  await assert.rejects(ob.send(new GetWorkflowExecutionCommand({ workflowExecutionId: rec.build.workflowExecutionId })), expectError(ResourceNotFoundException, rec.build.workflowExecutionId));
  await assert.rejects(ob.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: rec.build.workflowExecutionId })), ResourceNotFoundException);
  await assert.rejects(ob.send(new GetWorkflowStepExecutionCommand({ stepExecutionId: rec.launch.stepExecutionId })), expectError(ResourceNotFoundException, rec.launch.stepExecutionId));

  const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: other.accountId }, Action: ['imagebuilder:GetImage', 'imagebuilder:ListImages'] }] });
  await owner.send(new PutImagePolicyCommand({ imageArn: image.arn, policy }));
  const shared = await ob.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: image.arn }));
  assert.deepEqual(shared.workflowExecutions?.map((w) => w.workflowExecutionId), [rec.build.workflowExecutionId, rec.test.workflowExecutionId]);
  assert.equal((await ob.send(new GetWorkflowExecutionCommand({ workflowExecutionId: rec.build.workflowExecutionId }))).status, 'COMPLETED');
  assert.equal((await ob.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: rec.build.workflowExecutionId }))).steps?.length, 3);
  assert.equal((await ob.send(new GetWorkflowStepExecutionCommand({ stepExecutionId: rec.launch.stepExecutionId }))).name, 'LaunchBuildInstance');
});
