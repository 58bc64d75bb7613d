import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResourceRecord } from '../store/store.js';
import { dependencyKey, withOutcome, withRun, withTick, withoutRun } from './run-state.js';

function image(arn: string, status: string, plan?: { parent: string; components: string[] }): ResourceRecord {
  return {
    arn,
    accountId: '111122223333',
    region: 'local',
    type: 'image',
    name: 'app',
    version: '1.0.0',
    build: 1,
    createdAt: '',
    data: {
      state: { status },
      containerRecipe: { arn: 'recipe/1.0.0' },
      ...(plan ? { buildPlan: { parent: { resolved: plan.parent }, components: plan.components.map((arn) => ({ arn })) } } : {}),
    },
  };
}

const started = (buildType: 'SCHEDULED' | 'USER_INITIATED', ...arns: string[]) => {
  let data: Record<string, unknown> = { status: 'ENABLED', consecutiveFailures: 0 };
  for (const arn of arns) data = withRun(data, { imageBuildVersionArn: arn, buildType }, '2026-01-01T00:00:00.000Z');
  return data;
};

test('a success resets the failure count and becomes the set later ticks compare with', () => {
  const data = { ...started('SCHEDULED', 'i/1'), consecutiveFailures: 3 };
  const next = withOutcome(data, image('i/1', 'AVAILABLE', { parent: 'base/1.0.0/2', components: ['c/1.1.0/1'] }))!;
  assert.equal(next.consecutiveFailures, 0);
  assert.equal(next.lastRunStatus, 'AVAILABLE');
  assert.deepEqual(next.lastSuccessfulRun, { imageBuildVersionArn: 'i/1', dependencies: dependencyKey('recipe/1.0.0', 'base/1.0.0/2', ['c/1.1.0/1']) });
  assert.deepEqual(next.pendingRuns, []);
});

test('failed scheduled runs count up to the policy (5 without one) and disable; manual failures and cancels do not count', () => {
  let data: Record<string, unknown> = { ...started('SCHEDULED', 'a', 'b', 'c', 'd', 'e'), schedule: {} };
  for (const arn of ['a', 'b', 'c', 'd']) data = withOutcome(data, image(arn, 'FAILED'))!;
  assert.equal(data.consecutiveFailures, 4);
  assert.equal(data.status, 'ENABLED');
  data = withOutcome(data, image('e', 'FAILED'))!;
  assert.equal(data.status, 'DISABLED');

  let manual: Record<string, unknown> = { ...started('USER_INITIATED', 'm'), consecutiveFailures: 1, schedule: { autoDisablePolicy: { failureCount: 2 } } };
  manual = withOutcome(manual, image('m', 'FAILED'))!;
  assert.equal(manual.consecutiveFailures, 1);
  assert.equal(manual.status, 'ENABLED');
  assert.equal(manual.lastRunStatus, 'FAILED');
  const cancelled = withOutcome({ ...started('SCHEDULED', 'x'), consecutiveFailures: 1 }, image('x', 'CANCELLED'))!;
  assert.equal(cancelled.consecutiveFailures, 1);
});

test('runs not pending or not ended change nothing; a deleted run is dropped once', () => {
  const data = started('SCHEDULED', 'i/1');
  assert.equal(withOutcome(data, image('i/2', 'AVAILABLE')), undefined);
  assert.equal(withOutcome(data, image('i/1', 'BUILDING')), undefined);
  assert.deepEqual(withoutRun(data, 'i/1').pendingRuns, []);
  assert.equal(withoutRun(data, 'i/9'), data);
  assert.equal(withRun(data, { imageBuildVersionArn: 'i/1', buildType: 'SCHEDULED' }, 'later'), data);
});

test('the tick history keeps the last 20 ticks', () => {
  let data: Record<string, unknown> = {};
  for (let i = 0; i < 25; i++) data = withTick(data, { scheduledTime: String(i), evaluatedAt: String(i), outcome: 'SKIPPED' }, String(i));
  const history = data.scheduleHistory as { scheduledTime: string }[];
  assert.equal(history.length, 20);
  assert.equal(history[0]!.scheduledTime, '5');
  assert.equal(data.scheduleCursor, '24');
});
