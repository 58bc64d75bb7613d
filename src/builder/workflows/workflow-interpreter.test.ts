import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { getExecutionRecord, listStepRecords, stepData, type WorkflowRun } from '../records/execution-records.js';
import { setup, WF_ARN, type Env } from '../records/testing.js';
import { isStepFailed } from '../stages/step-runner.js';
import { interpretWorkflow, parseWorkflowDocument, type WorkflowAction } from './workflow-interpreter.js';

type Obj = Record<string, unknown>;

/** Actions that note what ran and what was rolled back; `Fail` throws, `Hang` waits for its signal. */
function fakeActions(calls: string[], rollbackFails = new Set<string>()): Record<string, WorkflowAction> {
  const make = (name: string, result: (inputs: Obj) => Obj): WorkflowAction => ({
    defaultTimeoutSeconds: 60,
    run: (inputs, run) => {
      calls.push(`run ${run.stepName}`);
      return Promise.resolve(result(inputs));
    },
    rollback: (outputs) => {
      calls.push(`rollback ${String(outputs.id ?? name)}`);
      return rollbackFails.has(String(outputs.id)) ? Promise.reject(new Error(`cannot undo ${String(outputs.id)}`)) : Promise.resolve();
    },
  });
  return {
    LaunchInstance: make('launch', (inputs) => ({ instanceId: `i-${String(inputs.waitFor)}`, id: `launch-${String(inputs.waitFor)}` })),
    RunCommand: make('run', (inputs) => ({ status: 'Success', id: `run-${JSON.stringify(inputs.parameters)}`, seen: inputs.instanceId })),
    ExecuteComponents: {
      defaultTimeoutSeconds: 60,
      run: (_inputs, run) => {
        calls.push(`run ${run.stepName}`);
        return Promise.reject(new Error('component failed'));
      },
    },
    WaitForAction: {
      defaultTimeoutSeconds: 3600,
      run: async (_inputs, run) => {
        calls.push(`run ${run.stepName}`);
        await sleep(60_000, undefined, { signal: run.signal });
        return {};
      },
    },
  };
}

async function start(env: Env, steps: number): Promise<WorkflowRun> {
  return env.recorder.startWorkflow({ image: env.image, type: 'BUILD', workflowBuildVersionArn: WF_ARN, totalStepCount: steps });
}

async function recorded(env: Env, wf: WorkflowRun): Promise<string[]> {
  const execution = (await getExecutionRecord(env.store, wf.workflowExecutionId))!;
  return (await listStepRecords(env.store, execution)).map((r) => `${stepData(r).name}:${stepData(r).status}`);
}

const DOC = `schemaVersion: 1.0
parameters:
  - name: mode
    type: string
    default: fast
steps:
  - name: Launch
    action: LaunchInstance
    inputs:
      waitFor: ssmAgent
  - name: SlowOnly
    action: RunCommand
    if:
      stringEquals: slow
      value: $.parameters.mode
    inputs:
      instanceId.$: $.stepOutputs.Launch.instanceId
  - name: Always
    action: RunCommand
    if:
      and:
        - stringEquals: Docker
          value: $.imagebuilder.imageType
        - not:
            booleanEquals: true
            value: $.imagebuilder.collectImageMetadata
    inputs:
      instanceId.$: $.stepOutputs.Launch.instanceId
      parameters:
        commands: ['echo {{ $.parameters.mode }} on {{ $.stepOutputs.Launch.instanceId }}']
outputs:
  - name: Seen
    value: $.stepOutputs.Always.seen
`;

test('steps run in order with resolved inputs; a false if skips a step; outputs are read at the end', async (t) => {
  const env = await setup(t);
  const calls: string[] = [];
  const wf = await start(env, 3);
  const outputs = await interpretWorkflow({ wf, document: parseWorkflowDocument(DOC), scope: { parameters: { mode: 'fast' }, imagebuilder: { imageType: 'Docker', collectImageMetadata: false }, workflowOutputs: {} }, actions: fakeActions(calls), signal: new AbortController().signal, log: () => undefined });
  await wf.finish('COMPLETED');
  assert.deepEqual(calls, ['run Launch', 'run Always']);
  assert.deepEqual(outputs, { Seen: 'i-ssmAgent' });
  assert.deepEqual(await recorded(env, wf), ['Launch:COMPLETED', 'SlowOnly:SKIPPED', 'Always:COMPLETED']);
  const execution = (await getExecutionRecord(env.store, wf.workflowExecutionId))!;
  const always = (await listStepRecords(env.store, execution)).map(stepData).find((s) => s.name === 'Always')!;
  assert.deepEqual(always.inputs, { instanceId: 'i-ssmAgent', parameters: { commands: ['echo fast on i-ssmAgent'] } });
});

test('an Abort failure rolls the completed steps back newest first (rollbackEnabled false is left), a failed undo is logged and the next still runs', async (t) => {
  const env = await setup(t);
  const calls: string[] = [];
  const logged: string[] = [];
  const doc = parseWorkflowDocument(`schemaVersion: 1.0
steps:
  - name: LaunchA
    action: LaunchInstance
    inputs: { waitFor: a }
  - name: LaunchB
    action: LaunchInstance
    rollbackEnabled: false
    inputs: { waitFor: b }
  - name: LaunchC
    action: LaunchInstance
    inputs: { waitFor: c }
  - name: Tests
    action: ExecuteComponents
    inputs: { instanceId.$: $.stepOutputs.LaunchC.instanceId }
  - name: Never
    action: RunCommand
`);
  const wf = await start(env, 5);
  const failure = await interpretWorkflow({ wf, document: doc, scope: { parameters: {}, imagebuilder: {}, workflowOutputs: {} }, actions: fakeActions(calls, new Set(['launch-c'])), signal: new AbortController().signal, log: (text) => logged.push(text) }).then(
    () => assert.fail('the workflow should fail'),
    (err: unknown) => err,
  );
  assert.ok(isStepFailed(failure));
  assert.equal(failure.step, 'Tests');
  assert.match(failure.message, /Step Tests failed: component failed/);
  assert.deepEqual(calls, ['run LaunchA', 'run LaunchB', 'run LaunchC', 'run Tests', 'rollback launch-c', 'rollback launch-a']);
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /rolling back step LaunchC \(LaunchInstance\) failed.*cannot undo launch-c/);
  await wf.finish('FAILED', failure.message);
  assert.deepEqual(await recorded(env, wf), ['LaunchA:COMPLETED', 'LaunchB:COMPLETED', 'LaunchC:COMPLETED', 'Tests:FAILED']);
});

test('onFailure Continue records the failed step and goes on without rolling back; a step past its timeout fails', async (t) => {
  const env = await setup(t);
  const calls: string[] = [];
  const doc = parseWorkflowDocument(`schemaVersion: 1.0
steps:
  - name: Launch
    action: LaunchInstance
    inputs: { waitFor: x }
  - name: Tests
    action: ExecuteComponents
    onFailure: Continue
  - name: After
    action: RunCommand
    inputs: { parameters: 1 }
  - name: Gate
    action: WaitForAction
    timeoutSeconds: 1
`);
  const wf = await start(env, 4);
  const started = Date.now();
  const failure = await interpretWorkflow({ wf, document: doc, scope: { parameters: {}, imagebuilder: {}, workflowOutputs: {} }, actions: fakeActions(calls), signal: new AbortController().signal, log: () => undefined }).then(
    () => assert.fail('the workflow should fail'),
    (err: unknown) => err,
  );
  assert.ok(Date.now() - started < 10_000, 'the timeout of 1 s ended the wait');
  assert.ok(isStepFailed(failure));
  assert.equal(failure.step, 'Gate');
  assert.match(failure.detail, /ran out of time/);
  assert.deepEqual(calls, ['run Launch', 'run Tests', 'run After', 'run Gate', 'rollback run-1', 'rollback launch-x']);
  await wf.finish('FAILED', failure.message);
  assert.deepEqual(await recorded(env, wf), ['Launch:COMPLETED', 'Tests:FAILED', 'After:COMPLETED', 'Gate:FAILED']);
  const execution = (await getExecutionRecord(env.store, wf.workflowExecutionId))!;
  const tests = (await listStepRecords(env.store, execution)).map(stepData).find((s) => s.name === 'Tests')!;
  assert.equal(tests.onFailure, 'Continue');
});

test('a step naming an unknown step output fails that step, naming the path', async (t) => {
  const env = await setup(t);
  const wf = await start(env, 1);
  const doc = parseWorkflowDocument(`schemaVersion: 1.0
steps:
  - name: Run
    action: RunCommand
    inputs: { instanceId.$: $.stepOutputs.Launch.instanceId }
`);
  const failure = await interpretWorkflow({ wf, document: doc, scope: { parameters: {}, imagebuilder: {}, workflowOutputs: {} }, actions: fakeActions([]), signal: new AbortController().signal, log: () => undefined }).catch((err: unknown) => err);
  assert.ok(isStepFailed(failure));
  assert.match(failure.detail, /steps\[0\]\.inputs\.instanceId\.\$: \$\.stepOutputs\.Launch\.instanceId: \$\.stepOutputs\.Launch has no value/);
  await wf.finish('FAILED');
});
