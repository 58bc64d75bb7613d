import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { STAMPED_LOG_HEADER } from '../../logs/step-log-format.js';
import { STEP_EXECUTION_ID_RE, WORKFLOW_EXECUTION_ID_RE, executionData, stepData } from './execution-shapes.js';
import { ExecutionRecorder, closeOpenExecutions, getExecutionRecord, listExecutionRecords } from './workflow-executions.js';
import { getStepRecord, listStepRecords } from './step-executions.js';
import { readStepLog, stepLogPath } from './step-logs.js';
import { ACCOUNT, WF_ARN, kind, makeImage, setup, storedLines } from './testing.js';

test('a workflow with steps: records, ids, counts, times, inputs/outputs and the log file', async (t) => {
  const { store, logsRoot, recorder, image } = await setup(t);
  const wf = await recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: WF_ARN, totalStepCount: 3, parallelGroup: 'g1' });
  assert.match(wf.workflowExecutionId, WORKFLOW_EXECUTION_ID_RE);
  const running = (await getExecutionRecord(store, wf.workflowExecutionId))!;
  assert.equal(running.type, 'workflow-execution');
  assert.equal(running.name, image.arn);
  assert.equal(running.arn, `kiln:workflow-execution/${wf.workflowExecutionId}`);
  assert.equal(running.accountId, ACCOUNT);
  assert.equal(running.region, 'local');
  assert.equal(running.build, 0);
  assert.deepEqual(
    { ...executionData(running), startTime: 'T' },
    {
      workflowExecutionId: wf.workflowExecutionId,
      imageBuildVersionArn: image.arn,
      workflowBuildVersionArn: WF_ARN,
      type: 'BUILD',
      status: 'RUNNING',
      totalStepCount: 3,
      totalStepsSucceeded: 0,
      totalStepsFailed: 0,
      totalStepsSkipped: 0,
      startTime: 'T',
      parallelGroup: 'g1',
      seq: 0,
    },
  );
  assert.ok(!Number.isNaN(Date.parse(executionData(running).startTime)));

  const launch = await wf.startStep({ name: 'LaunchBuildInstance', action: 'LaunchInstance', description: 'start', inputs: { parentImage: 'debian:12' }, onFailure: 'Abort', timeoutSeconds: 60 });
  assert.match(launch.stepExecutionId, STEP_EXECUTION_ID_RE);
  const logFile = stepLogPath(logsRoot, image.arn, launch.stepExecutionId);
  assert.equal(logFile, path.join(logsRoot, 'app_1.2.3_1', `${launch.stepExecutionId}.log`));
  assert.equal(readFileSync(logFile, 'utf8'), STAMPED_LOG_HEADER, 'the log exists, with its header alone, as soon as the step starts');
  const step = (await getStepRecord(store, launch.stepExecutionId))!;
  assert.equal(step.name, wf.workflowExecutionId);
  assert.equal(step.type, 'workflow-step-execution');
  assert.equal(stepData(step).status, 'RUNNING');
  assert.deepEqual(stepData(step).inputs, { parentImage: 'debian:12' });
  assert.equal(stepData(step).onFailure, 'Abort');
  assert.equal(stepData(step).timeoutSeconds, 60);
  assert.equal(stepData(step).endTime, undefined);

  launch.log('launching\n');
  launch.log('launched i-1\n');
  launch.log('apt said', 'stdout');
  launch.log('debconf: delaying\n', 'stderr');
  launch.log(' something\n', 'stdout');
  launch.log('no newline at the end', 'stderr');
  await launch.finish('COMPLETED', { outputs: { instanceId: 'i-1' } });
  const stored = readFileSync(logFile, 'utf8');
  assert.match(stored, /^#kiln-step-log v1.*\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info launching\n/, 'readable: header, then time stream text');
  assert.deepEqual(storedLines(stored), ['info:launching', 'info:launched i-1', 'stderr:debconf: delaying', 'stdout:apt said something', 'stderr:no newline at the end'], 'finish flushes the log, lines whole');
  const done = stepData((await getStepRecord(store, launch.stepExecutionId))!);
  assert.equal(done.status, 'COMPLETED');
  assert.deepEqual(done.outputs, { instanceId: 'i-1' });
  assert.ok(done.endTime! >= done.startTime!);
  assert.equal(executionData((await getExecutionRecord(store, wf.workflowExecutionId))!).totalStepsSucceeded, 1, 'counts are current while the workflow runs');

  const apply = await wf.startStep({ name: 'ApplyBuildComponents', action: 'ExecuteComponents' });
  apply.log('boom\n');
  await apply.finish('FAILED', { message: 'exit status 1' });
  await wf.skipStep({ name: 'TerminateBuildInstance', action: 'TerminateInstance', message: 'released' });
  await wf.finish('FAILED', 'Step ApplyBuildComponents failed');

  const ended = executionData((await getExecutionRecord(store, wf.workflowExecutionId))!);
  assert.equal(ended.status, 'FAILED');
  assert.equal(ended.message, 'Step ApplyBuildComponents failed');
  assert.deepEqual([ended.totalStepsSucceeded, ended.totalStepsFailed, ended.totalStepsSkipped], [1, 1, 1]);
  assert.ok(ended.endTime);

  const steps = (await listStepRecords(store, (await getExecutionRecord(store, wf.workflowExecutionId))!)).map(stepData);
  assert.deepEqual(
    steps.map((s) => [s.name, s.action, s.status, s.message]),
    [
      ['LaunchBuildInstance', 'LaunchInstance', 'COMPLETED', undefined],
      ['ApplyBuildComponents', 'ExecuteComponents', 'FAILED', 'exit status 1'],
      ['TerminateBuildInstance', 'TerminateInstance', 'SKIPPED', 'released'],
    ],
  );
  const skipped = steps[2]!;
  assert.equal(skipped.startTime, undefined, 'a skipped step never started');
  assert.ok(skipped.endTime);
  assert.equal(existsSync(stepLogPath(logsRoot, image.arn, skipped.stepExecutionId)), false, 'a skipped step has no log');
  assert.deepEqual(await readStepLog(logsRoot, image.arn, skipped.stepExecutionId, 0), { text: '', lines: [], nextOffset: 0 });
});

test('workflows of an image list in the order they started; other images are separate', async (t) => {
  const { store, recorder, image } = await setup(t);
  const other = await makeImage(store, 'other');
  const build = await recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: WF_ARN, totalStepCount: 4 });
  const test_ = await recorder.startWorkflow({ image, type: 'TEST', workflowBuildVersionArn: WF_ARN.replace('build', 'test'), totalStepCount: 3 });
  const dist = await recorder.startWorkflow({ image, type: 'DISTRIBUTION', workflowBuildVersionArn: WF_ARN, totalStepCount: 1 });
  await recorder.startWorkflow({ image: other, type: 'BUILD', workflowBuildVersionArn: WF_ARN, totalStepCount: 4 });
  const listed = await listExecutionRecords(store, image);
  assert.deepEqual(
    listed.map((r) => executionData(r).workflowExecutionId),
    [build.workflowExecutionId, test_.workflowExecutionId, dist.workflowExecutionId],
  );
  assert.deepEqual(
    listed.map((r) => executionData(r).type),
    ['BUILD', 'TEST', 'DISTRIBUTION'],
  );
  assert.equal((await listExecutionRecords(store, other)).length, 1);
});

test('concurrent log calls keep their order and none is lost; concurrent steps and finishes keep exact counts', async (t) => {
  const { store, logsRoot, recorder, image } = await setup(t);
  const wf = await recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: WF_ARN, totalStepCount: 20 });
  const steps = await Promise.all(Array.from({ length: 20 }, (_, i) => wf.startStep({ name: `Step${i}`, action: 'ExecuteBash' })));
  const expected = new Map<string, string>();
  for (const [i, step] of steps.entries()) {
    let text = '';
    for (let n = 0; n < 500; n++) {
      const line = `step ${i} line ${n} ${'é'.repeat(n % 7)}\n`;
      step.log(line);
      text += line;
    }
    expected.set(step.stepExecutionId, text);
  }
  // Finishes race each other (and a second, ignored finish of the same step).
  await Promise.all(steps.flatMap((s, i) => [s.finish(i % 3 === 0 ? 'FAILED' : 'COMPLETED'), s.finish('CANCELLED')]));
  for (const step of steps) {
    const stored = storedLines(readFileSync(stepLogPath(logsRoot, image.arn, step.stepExecutionId), 'utf8'));
    assert.equal(stored.map((l) => `${l.slice('info:'.length)}\n`).join(''), expected.get(step.stepExecutionId));
    assert.equal(stepData((await getStepRecord(store, step.stepExecutionId))!).status, steps.indexOf(step) % 3 === 0 ? 'FAILED' : 'COMPLETED');
  }
  await wf.finish('FAILED', 'some failed');
  const d = executionData((await getExecutionRecord(store, wf.workflowExecutionId))!);
  assert.deepEqual([d.totalStepsSucceeded, d.totalStepsFailed, d.totalStepsSkipped], [13, 7, 0]);
  // Steps list in the order they were started.
  const listed = (await listStepRecords(store, (await getExecutionRecord(store, wf.workflowExecutionId))!)).map((r) => stepData(r).stepExecutionId);
  assert.deepEqual(listed, steps.map((s) => s.stepExecutionId));
});

test('finishing a workflow ends its open steps; a finished status is never overwritten', async (t) => {
  const { store, recorder, image } = await setup(t);
  const wf = await recorder.startWorkflow({ image, type: 'TEST', workflowBuildVersionArn: WF_ARN, totalStepCount: 3 });
  const open = await wf.startStep({ name: 'ApplyTestComponents', action: 'ExecuteComponents' });
  open.log('half');
  await wf.finish('CANCELLED', 'the build was cancelled');
  const step = stepData((await getStepRecord(store, open.stepExecutionId))!);
  assert.equal(step.status, 'CANCELLED');
  assert.equal(step.message, 'the build was cancelled');
  await open.finish('COMPLETED');
  await wf.finish('COMPLETED');
  assert.equal(stepData((await getStepRecord(store, open.stepExecutionId))!).status, 'CANCELLED');
  assert.equal(executionData((await getExecutionRecord(store, wf.workflowExecutionId))!).status, 'CANCELLED');

  // A start asked for just before finish is ended with the workflow; one asked for after is refused.
  const wf2 = await recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: WF_ARN, totalStepCount: 2 });
  const starting = wf2.startStep({ name: 'Racing', action: 'ExecuteBash' });
  const finishing = wf2.finish('FAILED', 'stopped');
  await assert.rejects(wf2.startStep({ name: 'Late', action: 'ExecuteBash' }), kind('Conflict'));
  await assert.rejects(wf2.skipStep({ name: 'Late', action: 'ExecuteBash' }), kind('Conflict'));
  const raced = await starting;
  await finishing;
  assert.equal(stepData((await getStepRecord(store, raced.stepExecutionId))!).status, 'FAILED');
  const d = executionData((await getExecutionRecord(store, wf2.workflowExecutionId))!);
  assert.deepEqual([d.status, d.totalStepsFailed], ['FAILED', 1]);
  assert.equal((await listStepRecords(store, (await getExecutionRecord(store, wf2.workflowExecutionId))!)).length, 1);
});

test('closeOpenExecutions ends what a crashed or cancelled build left open, and nothing else', async (t) => {
  const { store, recorder, image } = await setup(t);
  const done = await recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: WF_ARN, totalStepCount: 1 });
  const s0 = await done.startStep({ name: 'A', action: 'LaunchInstance' });
  await s0.finish('COMPLETED');
  await done.finish('COMPLETED');
  const crashed = await recorder.startWorkflow({ image, type: 'TEST', workflowBuildVersionArn: WF_ARN, totalStepCount: 3 });
  const s1 = await crashed.startStep({ name: 'LaunchTestInstance', action: 'LaunchInstance' });
  await s1.finish('COMPLETED');
  await crashed.skipStep({ name: 'Skipped', action: 'WaitForAction' });
  const s2 = await crashed.startStep({ name: 'ApplyTestComponents', action: 'ExecuteComponents' });

  await closeOpenExecutions(store, image.arn, 'FAILED', 'Kiln stopped while this build was running (interrupted)');
  const [first, second] = (await listExecutionRecords(store, image)).map(executionData);
  assert.equal(first!.status, 'COMPLETED');
  assert.equal(first!.message, undefined);
  assert.equal(second!.status, 'FAILED');
  assert.equal(second!.message, 'Kiln stopped while this build was running (interrupted)');
  assert.deepEqual([second!.totalStepsSucceeded, second!.totalStepsFailed, second!.totalStepsSkipped], [1, 1, 1], 'counts recomputed from the stored steps');
  const left = stepData((await getStepRecord(store, s2.stepExecutionId))!);
  assert.equal(left.status, 'FAILED');
  assert.equal(left.message, 'Kiln stopped while this build was running (interrupted)');
  assert.equal(stepData((await getStepRecord(store, s1.stepExecutionId))!).status, 'COMPLETED');
  // The build's own late finish does not undo the clean-up.
  await s2.finish('COMPLETED');
  await crashed.finish('COMPLETED');
  assert.equal(stepData((await getStepRecord(store, s2.stepExecutionId))!).status, 'FAILED');
  assert.equal(executionData((await getExecutionRecord(store, crashed.workflowExecutionId))!).status, 'FAILED');
  // Idempotent, and an image without executions is fine.
  await closeOpenExecutions(store, image.arn, 'CANCELLED', 'again');
  assert.equal(executionData((await getExecutionRecord(store, crashed.workflowExecutionId))!).message, 'Kiln stopped while this build was running (interrupted)');
  await closeOpenExecutions(store, image.arn.replace('/1.2.3/1', '/9.9.9/1'), 'CANCELLED', 'none');
  await assert.rejects(closeOpenExecutions(store, 'arn:aws:imagebuilder:local:111122223333:image/app/1.2.3', 'FAILED', 'x'), kind('InvalidArgument', 'imageBuildVersionArn'));
});

test('an observer hears each step that ran end, by action and status, and the workflow end, with how long they took', async (t) => {
  const { store, logsRoot, image } = await setup(t);
  const steps: { workflow: string; action: string; status: string; seconds: number }[] = [];
  const workflows: { workflow: string; status: string; seconds: number }[] = [];
  const recorder = new ExecutionRecorder(store, logsRoot, { stepEnded: (s) => steps.push(s), workflowEnded: (w) => workflows.push(w) });
  const wf = await recorder.startWorkflow({ image, type: 'TEST', workflowBuildVersionArn: WF_ARN, totalStepCount: 3 });
  const launch = await wf.startStep({ name: 'LaunchTestInstance', action: 'LaunchInstance' });
  await new Promise((resolve) => setTimeout(resolve, 50));
  await launch.finish('COMPLETED');
  await wf.skipStep({ name: 'Skipped', action: 'ExecuteComponents' });
  await wf.startStep({ name: 'ApplyTestComponents', action: 'ExecuteComponents' });
  await wf.finish('FAILED', 'tests failed');
  assert.deepEqual(steps.map(({ seconds: _, ...s }) => s), [
    { workflow: 'TEST', action: 'LaunchInstance', status: 'COMPLETED' },
    { workflow: 'TEST', action: 'ExecuteComponents', status: 'FAILED' },
  ], 'a skipped step never ran; one still open when the workflow ends takes its status');
  assert.ok(steps[0]!.seconds >= 0.04 && steps[0]!.seconds < 5, `the launch took ${steps[0]!.seconds} s`);
  assert.equal(workflows.length, 1);
  assert.equal(workflows[0]!.workflow, 'TEST');
  assert.equal(workflows[0]!.status, 'FAILED');
  assert.ok(workflows[0]!.seconds >= steps[0]!.seconds);
});
