import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CancelImageCreationCommand,
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateImageCommand,
  CreateInfrastructureConfigurationCommand,
  CreateWorkflowCommand,
  GetImageCommand,
  ListWaitingWorkflowStepsCommand,
  ListWorkflowExecutionsCommand,
  ListWorkflowStepExecutionsCommand,
  SendWorkflowStepActionCommand,
  type WorkflowStepExecution,
} from '@aws-sdk/client-imagebuilder';
import { openStore } from '../../src/app/server-start.js';
import { startReceiver } from '../../src/events/events-fixture.js';
import type { ImageSnsMessage } from '../../src/events/sns-message.js';
import { WORKFLOW_STEP_WAITING_EVENT } from '../../src/events/stream-protocol.js';
import { ensureAdmin } from '../../src/service/accounts.js';
import type { Fixture } from '../api/fixture.js';
import { openStream } from '../api/event-stream.js';
import { bashComponent, buildSkipReason, hostLeftovers, pushHostBase, startBuildServer, waitForImage, type BuildServer } from './helpers.js';

const skip = buildSkipReason();
const ROLE = 'arn:aws:iam::111122223333:role/kiln-workflows';
const TEMPLATE = ['FROM {{{ imagebuilder:parentImage }}}', '{{{ imagebuilder:components }}}'].join('\n');

/** A TEST workflow with a manual approval gate between the launch and the tests. */
const GATED_TEST = `name: gated-test
schemaVersion: 1.0
steps:
  - name: LaunchTestInstance
    action: LaunchInstance
    inputs:
      waitFor: ssmAgent
  - name: Approval
    action: WaitForAction
    timeoutSeconds: 600
  - name: RunTests
    action: ExecuteComponents
    inputs:
      instanceId.$: $.stepOutputs.LaunchTestInstance.instanceId
  - name: TerminateTestInstance
    action: TerminateInstance
    onFailure: Continue
    inputs:
      instanceId.$: $.stepOutputs.LaunchTestInstance.instanceId
`;

/** A BUILD workflow that marks the image with a command and skips a step its parameter turns off. */
const MARKING_BUILD = `name: marking-build
schemaVersion: 1.0
parameters:
  - name: extra
    type: boolean
    default: false
  - name: marker
    type: string
    default: unset
steps:
  - name: Launch
    action: LaunchInstance
    inputs:
      waitFor: ssmAgent
  - name: Build
    action: ExecuteComponents
    inputs:
      instanceId.$: $.stepOutputs.Launch.instanceId
  - name: Mark
    action: RunCommand
    inputs:
      instanceId.$: $.stepOutputs.Launch.instanceId
      documentName: AWS-RunShellScript
      parameters:
        commands:
          - echo '{{ $.parameters.marker }}' > /etc/marker
          - echo marked {{ $.imagebuilder.imageName }}
  - name: ExtraOnly
    action: RunCommand
    if:
      booleanEquals: true
      value: $.parameters.extra
    inputs:
      instanceId.$: $.stepOutputs.Launch.instanceId
      documentName: AWS-RunShellScript
      parameters:
        commands: ['touch /etc/extra']
  - name: Snapshot
    action: CreateImage
    inputs:
      instanceId.$: $.stepOutputs.Launch.instanceId
  - name: Terminate
    action: TerminateInstance
    inputs:
      instanceId.$: $.stepOutputs.Launch.instanceId
outputs:
  - name: ImageDigest
    value: $.stepOutputs.Snapshot.imageId
`;

/** A DISTRIBUTION workflow that pushes only once released. */
const RELEASE_GATE = `name: release-gate
schemaVersion: 1.0
steps:
  - name: Release
    action: WaitForAction
  - name: Push
    action: DistributeContainerImage
`;

let counter = 0;

async function expectError(promise: Promise<unknown>, name: string, fragment: RegExp): Promise<void> {
  await assert.rejects(promise, (err: Error) => {
    assert.equal(err.name, name, err.message);
    assert.match(err.message, fragment);
    return true;
  });
}

async function workflow(kiln: BuildServer, type: 'BUILD' | 'TEST', data: string): Promise<string> {
  return (await kiln.client.send(new CreateWorkflowCommand({ name: `wf-${++counter}`, semanticVersion: '1.0.0', type, data }))).workflowBuildVersionArn!;
}

async function recipe(kiln: BuildServer, base: string, phases: Record<string, string[]>): Promise<string> {
  const componentArn = (await kiln.client.send(new CreateComponentCommand({ name: `comp-${++counter}`, semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent(phases) }))).componentBuildVersionArn!;
  const out = await kiln.client.send(
    new CreateContainerRecipeCommand({ containerType: 'DOCKER', name: `recipe-${++counter}`, semanticVersion: '1.0.0', parentImage: base, targetRepository: { service: 'ECR', repositoryName: `e2e/wf-${counter}` }, components: [{ componentArn }], dockerfileTemplateData: TEMPLATE }),
  );
  return out.containerRecipeArn!;
}

/** Polls ListWaitingWorkflowSteps until a step of `imageArn` waits. */
async function waitingStep(kiln: BuildServer, imageArn: string): Promise<WorkflowStepExecution> {
  return (await waitingSteps(kiln, imageArn, 1))[0]!;
}

/** Polls ListWaitingWorkflowSteps until `count` steps of `imageArn` wait at once. */
async function waitingSteps(kiln: BuildServer, imageArn: string, count: number): Promise<WorkflowStepExecution[]> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const steps = (await kiln.client.send(new ListWaitingWorkflowStepsCommand({}))).steps ?? [];
    const found = steps.filter((s) => s.imageBuildVersionArn === imageArn);
    if (found.length >= count) return found;
    const image = (await kiln.client.send(new GetImageCommand({ imageBuildVersionArn: imageArn }))).image!;
    assert.ok(Date.now() < deadline && !['AVAILABLE', 'FAILED', 'CANCELLED'].includes(image.state?.status ?? ''), `no waiting step of ${imageArn}: it is ${image.state?.status} (${image.state?.reason ?? ''})`);
    await sleep(200);
  }
}

/** The image's workflow executions as `TYPE workflowArn`, and each one's steps as `name:status`. */
async function executions(kiln: BuildServer, imageArn: string): Promise<{ workflows: string[]; steps: Record<string, string[]> }> {
  const list = (await kiln.client.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: imageArn }))).workflowExecutions ?? [];
  const steps: Record<string, string[]> = {};
  for (const wf of list) {
    const out = await kiln.client.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: wf.workflowExecutionId! }));
    steps[wf.type!] = (out.steps ?? []).map((s) => `${s.name}:${s.status}`);
  }
  return { workflows: list.map((w) => `${w.type} ${w.workflowBuildVersionArn} ${w.status}`), steps };
}

test('custom workflows on container images: a WaitForAction gate driven by RESUME and STOP, a BUILD workflow with RunCommand and if; bad documents refused', { skip, timeout: 600_000 }, async (t) => {
  // The SNS topic's ARN names the account, so the admin account is made before the server starts.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-wf-'));
  const pre = openStore(dataDir);
  const { account } = await ensureAdmin(pre);
  await pre.close();
  const topic = `arn:aws:sns:local:${account.accountId}:approvals`;
  const hook = await startReceiver(t, () => 200);
  const kiln = await startBuildServer(t, { notifications: { topics: { [topic]: [{ url: hook.url, secret: 'hook-secret' }] }, delivery: { attempts: 1, firstRetryMs: 50, maxRetryMs: 50, timeoutMs: 5000 } } }, { dataDir });
  const events = await openStream(t, kiln as unknown as Fixture);
  const base = await pushHostBase(t, kiln, 'bases/wf-hostbase');
  const infra = (await kiln.client.send(new CreateInfrastructureConfigurationCommand({ name: 'wf-infra', instanceProfileName: 'kiln', instanceTypes: ['ns.small'], snsTopicArn: topic }))).infrastructureConfigurationArn!;
  const create = async (recipeArn: string, workflows: { workflowArn: string; parameters?: { name: string; value: string[] }[] }[]) =>
    (await kiln.client.send(new CreateImageCommand({ containerRecipeArn: recipeArn, infrastructureConfigurationArn: infra, workflows, executionRole: ROLE }))).imageBuildVersionArn!;

  await t.test('CreateWorkflow refuses an unknown action, an action Kiln cannot run and a reference to an unknown step, naming the path', async () => {
    const doc = (action: string, inputs = '') => `schemaVersion: 1.0\nsteps:\n  - name: Launch\n    action: LaunchInstance\n    inputs:\n      waitFor: ssmAgent\n  - name: Second\n    action: ${action}\n${inputs}`;
    await expectError(workflow(kiln, 'TEST', doc('LaunchRocket')), 'InvalidParameterValueException', /data: steps\[1\]\.action: "LaunchRocket" is not a workflow step action/);
    await expectError(workflow(kiln, 'BUILD', doc('ExecuteStateMachine')), 'InvalidParameterValueException', /data: steps\[1\]\.action: Kiln does not run ExecuteStateMachine/);
    await expectError(workflow(kiln, 'TEST', doc('TerminateInstance', '    inputs:\n      instanceId.$: $.stepOutputs.Lunch.instanceId\n')), 'InvalidParameterValueException', /data: steps\[1\]\.inputs\.instanceId\.\$: refers to step "Lunch", which is not an earlier step/);
  });

  const gated = await workflow(kiln, 'TEST', GATED_TEST);
  const testedRecipe = await recipe(kiln, base, { build: ['mkdir -p /opt/app', 'echo ready > /opt/app/state'], test: ['grep -qx ready /opt/app/state'] });
  let resumedArn = '';

  await t.test('a TEST workflow waits in TESTING at WaitForAction, is listed, and RESUME finishes the image AVAILABLE', async () => {
    const arn = await create(testedRecipe, [{ workflowArn: gated }]);
    resumedArn = arn;
    const step = await waitingStep(kiln, arn);
    assert.equal(step.name, 'Approval');
    assert.equal(step.action, 'WaitForAction');
    assert.equal(step.workflowBuildVersionArn, gated);
    assert.equal((await kiln.client.send(new GetImageCommand({ imageBuildVersionArn: arn }))).image!.state?.status, 'TESTING');
    // The wait is an event on /kiln/events and a notification to the image's topic, naming the step.
    const event = await events.waitFor((e) => e.event === WORKFLOW_STEP_WAITING_EVENT && (JSON.parse(e.data) as { imageBuildVersionArn: string }).imageBuildVersionArn === arn);
    const told = JSON.parse(event.data) as { status: string; previousStatus: string; reason: string };
    assert.equal(told.status, 'TESTING');
    assert.match(told.reason, new RegExp(`Approval \\(${step.stepExecutionId}\\) is waiting for SendWorkflowStepAction`));
    const deadline = Date.now() + 20_000;
    const notified = () => hook.received.map((r) => JSON.parse((JSON.parse(r.body) as { Message: string }).Message) as ImageSnsMessage).find((m) => m.arn === arn && m.state?.status === 'TESTING');
    while (!notified() && Date.now() < deadline) await sleep(100);
    assert.match(notified()?.state?.reason ?? '', new RegExp(step.stepExecutionId!), `a notification names the waiting step: ${hook.received.length} received`);
    await expectError(kiln.client.send(new SendWorkflowStepActionCommand({ stepExecutionId: 'step-00000000-0000-0000-0000-000000000000', imageBuildVersionArn: arn, action: 'RESUME' })), 'ResourceNotFoundException', /step-00000000/);
    await kiln.client.send(new SendWorkflowStepActionCommand({ stepExecutionId: step.stepExecutionId!, imageBuildVersionArn: arn, action: 'RESUME', reason: 'looks good' }));
    await expectError(kiln.client.send(new SendWorkflowStepActionCommand({ stepExecutionId: step.stepExecutionId!, imageBuildVersionArn: arn, action: 'STOP' })), 'InvalidRequestException', /not waiting/);
    const image = await waitForImage(kiln.client, arn);
    assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
    const { workflows, steps } = await executions(kiln, arn);
    assert.deepEqual(workflows, [`BUILD arn:aws:imagebuilder:local:aws:workflow/build/build-container/1.0.0/1 COMPLETED`, `TEST ${gated} COMPLETED`, `DISTRIBUTION arn:aws:imagebuilder:local:aws:workflow/distribution/distribute-container/1.0.0/1 COMPLETED`]);
    assert.deepEqual(steps.TEST, ['LaunchTestInstance:COMPLETED', 'Approval:COMPLETED', 'RunTests:COMPLETED', 'TerminateTestInstance:COMPLETED']);
    assert.equal((await kiln.client.send(new ListWaitingWorkflowStepsCommand({}))).steps?.length ?? 0, 0);
  });

  await t.test('STOP with a reason ends the image FAILED with that reason; an action for another image is refused', async () => {
    const arn = await create(testedRecipe, [{ workflowArn: gated }]);
    const step = await waitingStep(kiln, arn);
    await expectError(kiln.client.send(new SendWorkflowStepActionCommand({ stepExecutionId: step.stepExecutionId!, imageBuildVersionArn: resumedArn, action: 'RESUME' })), 'InvalidRequestException', /another image/);
    await kiln.client.send(new SendWorkflowStepActionCommand({ stepExecutionId: step.stepExecutionId!, imageBuildVersionArn: arn, action: 'STOP', reason: 'rejected by the release manager' }));
    const image = await waitForImage(kiln.client, arn);
    assert.equal(image.state?.status, 'FAILED');
    assert.match(image.state?.reason ?? '', /Step Approval failed: rejected by the release manager/);
    const { steps } = await executions(kiln, arn);
    assert.deepEqual(steps.TEST, ['LaunchTestInstance:COMPLETED', 'Approval:FAILED']);
  });

  await t.test('TEST workflows of one parallelGroup run at once: both gates wait together; STOP on one fails the image and cancels the other', async () => {
    const second = await workflow(kiln, 'TEST', GATED_TEST.replace('name: gated-test', 'name: gated-test-2'));
    const arn = (await kiln.client.send(new CreateImageCommand({ containerRecipeArn: testedRecipe, infrastructureConfigurationArn: infra, executionRole: ROLE, workflows: [{ workflowArn: gated, parallelGroup: 'approvals' }, { workflowArn: second, parallelGroup: 'approvals' }] }))).imageBuildVersionArn!;
    const waiting = await waitingSteps(kiln, arn, 2);
    assert.deepEqual(waiting.map((s) => s.workflowBuildVersionArn).sort(), [gated, second].sort());
    const stopped = waiting.find((s) => s.workflowBuildVersionArn === gated)!;
    await kiln.client.send(new SendWorkflowStepActionCommand({ stepExecutionId: stopped.stepExecutionId!, imageBuildVersionArn: arn, action: 'STOP', reason: 'one approver said no' }));
    const image = await waitForImage(kiln.client, arn);
    assert.equal(image.state?.status, 'FAILED');
    assert.match(image.state?.reason ?? '', /Step Approval failed: one approver said no/);
    const list = (await kiln.client.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: arn }))).workflowExecutions ?? [];
    const tests = list.filter((w) => w.type === 'TEST').map((w) => `${w.workflowBuildVersionArn === gated ? 'first' : 'second'} ${w.parallelGroup} ${w.status}`).sort();
    assert.deepEqual(tests, ['first approvals FAILED', 'second approvals CANCELLED']);
    const cancelled = list.find((w) => w.workflowBuildVersionArn === second)!;
    assert.match(cancelled.message ?? '', /cancelled: another TEST workflow of parallel group approvals failed/);
    assert.equal((await kiln.client.send(new ListWaitingWorkflowStepsCommand({}))).steps?.length ?? 0, 0);
    await expectError(
      kiln.client.send(new CreateImageCommand({ containerRecipeArn: testedRecipe, infrastructureConfigurationArn: infra, executionRole: ROLE, workflows: [{ workflowArn: gated, parallelGroup: '-bad group' }] })),
      'InvalidParameterValueException',
      /workflows\[0\]\.parallelGroup: must be 1 to 100 letters/,
    );
  });

  await t.test('a LaunchInstance with imageIdOverride fails the image, naming the input', async () => {
    const override = await workflow(kiln, 'TEST', GATED_TEST.replace('      waitFor: ssmAgent\n', '      waitFor: ssmAgent\n      imageIdOverride: ami-0123456789abcdef0\n'));
    const arn = await create(testedRecipe, [{ workflowArn: override }]);
    const image = await waitForImage(kiln.client, arn);
    assert.equal(image.state?.status, 'FAILED');
    assert.match(image.state?.reason ?? '', /LaunchTestInstance\.inputs\.imageIdOverride: Kiln launches from the stage's image only/);
  });

  await t.test('CancelImageCreation ends a wait: the image is CANCELLED and the step no longer waits', async () => {
    const arn = await create(testedRecipe, [{ workflowArn: gated }]);
    await waitingStep(kiln, arn);
    await kiln.client.send(new CancelImageCreationCommand({ imageBuildVersionArn: arn }));
    const image = await waitForImage(kiln.client, arn);
    assert.equal(image.state?.status, 'CANCELLED');
    // The image reads CANCELLED at once; the worker sees it at its next poll and closes the step.
    const deadline = Date.now() + 20_000;
    let steps = (await executions(kiln, arn)).steps;
    while (steps.TEST?.includes('Approval:RUNNING') && Date.now() < deadline) {
      await sleep(100);
      steps = (await executions(kiln, arn)).steps;
    }
    assert.deepEqual(steps.TEST, ['LaunchTestInstance:COMPLETED', 'Approval:CANCELLED']);
    assert.equal((await kiln.client.send(new ListWaitingWorkflowStepsCommand({}))).steps?.length ?? 0, 0);
  });

  await t.test('CreateImage checks a custom workflow\'s parameters and the step action\'s request', async () => {
    const marking = await workflow(kiln, 'BUILD', MARKING_BUILD);
    await expectError(create(testedRecipe, [{ workflowArn: marking, parameters: [{ name: 'colour', value: ['red'] }] }]), 'InvalidParameterValueException', /workflows\[0\]\.parameters\[0\]\.name: the workflow declares no parameter "colour"/);
    const required = await workflow(kiln, 'TEST', 'schemaVersion: 1.0\nparameters:\n  - name: target\n    type: string\nsteps:\n  - name: Gate\n    action: WaitForAction\n');
    await expectError(create(testedRecipe, [{ workflowArn: required }]), 'InvalidParameterValueException', /workflows\[0\]\.parameters: the workflow's parameter "target" has no default/);
    await expectError(kiln.client.send(new SendWorkflowStepActionCommand({ stepExecutionId: 'step-00000000-0000-0000-0000-000000000000', imageBuildVersionArn: resumedArn, action: 'PAUSE' as 'RESUME' })), 'InvalidParameterValueException', /'action' must be RESUME or STOP/);
  });

  await t.test('a BUILD workflow runs RunCommand on the build instance and skips the step its if turns off (the built-in tests check its output); a DISTRIBUTION workflow pushes once released', async () => {
    const marking = await workflow(kiln, 'BUILD', MARKING_BUILD);
    const gate = (await kiln.client.send(new CreateWorkflowCommand({ name: `wf-${++counter}`, semanticVersion: '1.0.0', type: 'DISTRIBUTION', data: RELEASE_GATE }))).workflowBuildVersionArn!;
    const recipeArn = await recipe(kiln, base, { build: ['echo built > /etc/built'], test: ['grep -qx built /etc/built', 'grep -qx from-the-workflow /etc/marker', 'test ! -e /etc/extra'] });
    const arn = await create(recipeArn, [{ workflowArn: marking, parameters: [{ name: 'marker', value: ['from-the-workflow'] }] }, { workflowArn: gate }]);
    const step = await waitingStep(kiln, arn);
    assert.equal(step.name, 'Release');
    const waiting = (await kiln.client.send(new GetImageCommand({ imageBuildVersionArn: arn }))).image!;
    assert.equal(waiting.state?.status, 'DISTRIBUTING');
    assert.deepEqual(waiting.outputResources?.containers ?? [], [], 'nothing is pushed before the release');
    await kiln.client.send(new SendWorkflowStepActionCommand({ stepExecutionId: step.stepExecutionId!, imageBuildVersionArn: arn, action: 'RESUME' }));
    const image = await waitForImage(kiln.client, arn);
    assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
    assert.deepEqual(image.outputResources?.containers?.[0]?.imageUris, [`${kiln.server.registryHost}/e2e/wf-${counter}:1.0.0-1`]);
    const { workflows, steps } = await executions(kiln, arn);
    assert.equal(workflows[0], `BUILD ${marking} COMPLETED`);
    assert.match(workflows[1]!, /^TEST arn:aws:imagebuilder:local:aws:workflow\/test\/test-container\/1\.0\.0\/1 COMPLETED$/);
    assert.equal(workflows[2], `DISTRIBUTION ${gate} COMPLETED`);
    assert.deepEqual(steps.BUILD, ['Launch:COMPLETED', 'Build:COMPLETED', 'Mark:COMPLETED', 'ExtraOnly:SKIPPED', 'Snapshot:COMPLETED', 'Terminate:COMPLETED']);
    assert.deepEqual(steps.DISTRIBUTION, ['Release:COMPLETED', 'Push:COMPLETED']);
  });

  assert.deepEqual(hostLeftovers(kiln.dataDir), []);
});
