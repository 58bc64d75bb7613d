import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResourceRecord } from '../roles/resource-store.js';
import { isScanFindingsEvent, isStepWaitingEvent, SCAN_FINDINGS_REASON_PREFIX } from '../roles/event-log.js';
import { imageEventEntry } from './image-journal.js';

const ARN = 'arn:aws:imagebuilder:local:111122223333:image/app/1.0.0/1';

function image(data: Record<string, unknown>): ResourceRecord {
  return { arn: ARN, accountId: '111122223333', region: 'local', type: 'image', name: 'app', version: '1.0.0', build: 1, data } as unknown as ResourceRecord;
}

test('the journal logs state changes, and a new waiting step as an entry whose status is unchanged', () => {
  const testing = image({ state: { status: 'TESTING' } });
  const changed = imageEventEntry(image({ state: { status: 'BUILDING' } }), testing);
  assert.deepEqual(changed, { arn: ARN, accountId: '111122223333', region: 'local', status: 'TESTING', previousStatus: 'BUILDING' });
  assert.equal(isStepWaitingEvent(changed!), false);

  assert.equal(imageEventEntry(testing, image({ state: { status: 'TESTING' }, note: 'other data' })), undefined, 'a write that changes neither the state nor the waiting step logs nothing');
  const mark = { stepExecutionId: 'step-1', message: 'the workflow step Approval (step-1) is waiting for SendWorkflowStepAction RESUME or STOP' };
  const waiting = image({ state: { status: 'TESTING' }, waitingStep: mark });
  const entry = imageEventEntry(testing, waiting);
  assert.deepEqual(entry, { arn: ARN, accountId: '111122223333', region: 'local', status: 'TESTING', previousStatus: 'TESTING', reason: mark.message });
  assert.equal(isStepWaitingEvent(entry!), true);
  assert.equal(imageEventEntry(waiting, image({ state: { status: 'TESTING' }, waitingStep: mark, note: 'x' })), undefined, 'the same waiting step is logged once');
  assert.equal(imageEventEntry(waiting, image({ state: { status: 'TESTING' }, waitingStep: { ...mark, stepExecutionId: 'step-2' } }))?.reason, mark.message, 'a second wait is logged again');
  assert.equal(imageEventEntry(undefined, image({ state: { status: 'PENDING' } }))?.status, 'PENDING');
});

test('a new scan findings mark is logged once, as a scan findings entry and not a waiting step', () => {
  const available = image({ state: { status: 'AVAILABLE' } });
  const mark = { scanId: 'scan-1', message: `${SCAN_FINDINGS_REASON_PREFIX}CVE-2026-1` };
  const marked = image({ state: { status: 'AVAILABLE' }, scanFindingsMark: mark });
  const entry = imageEventEntry(available, marked);
  assert.deepEqual(entry, { arn: ARN, accountId: '111122223333', region: 'local', status: 'AVAILABLE', previousStatus: 'AVAILABLE', reason: mark.message });
  assert.equal(isScanFindingsEvent(entry!), true);
  assert.equal(isStepWaitingEvent(entry!), false);
  assert.equal(imageEventEntry(marked, image({ state: { status: 'AVAILABLE' }, scanFindingsMark: mark, scanFindings: [] })), undefined, 'the same mark is logged once');
});
