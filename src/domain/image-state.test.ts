import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKilnError } from './errors.js';
import { IMAGE_STATUSES, canTransition, isFinal, isImageStatus, isInProgress, lifecycleTransition, transition, type ImageStatus } from './image-state.js';

/** Every allowed move; any pair not listed here must be refused. */
const ALLOWED: [ImageStatus, ImageStatus[]][] = [
  ['PENDING', ['CREATING', 'FAILED', 'CANCELLED']],
  ['CREATING', ['BUILDING', 'FAILED', 'CANCELLED']],
  ['BUILDING', ['TESTING', 'DISTRIBUTING', 'INTEGRATING', 'AVAILABLE', 'FAILED', 'CANCELLED']],
  ['TESTING', ['DISTRIBUTING', 'INTEGRATING', 'AVAILABLE', 'FAILED', 'CANCELLED']],
  ['DISTRIBUTING', ['INTEGRATING', 'AVAILABLE', 'FAILED', 'CANCELLED']],
  ['INTEGRATING', ['AVAILABLE', 'FAILED', 'CANCELLED']],
  ['AVAILABLE', ['DEPRECATED', 'DISABLED', 'DELETED']],
  ['DEPRECATED', ['AVAILABLE', 'DISABLED', 'DELETED']],
  ['DISABLED', ['AVAILABLE', 'DEPRECATED', 'DELETED']],
  ['FAILED', []],
  ['CANCELLED', []],
  ['DELETED', []],
];

test('the transition table, pair by pair', () => {
  assert.deepEqual(ALLOWED.map(([s]) => s).sort(), [...IMAGE_STATUSES].sort(), 'the table covers every status');
  for (const [from, to] of ALLOWED) {
    for (const target of IMAGE_STATUSES) {
      assert.equal(canTransition(from, target), to.includes(target), `${from} -> ${target}`);
    }
  }
});

test('the happy path walks every build stage in order', () => {
  let state = { status: 'PENDING' as ImageStatus };
  for (const next of ['CREATING', 'BUILDING', 'TESTING', 'DISTRIBUTING', 'INTEGRATING', 'AVAILABLE'] as const) state = transition(state, next);
  assert.deepEqual(state, { status: 'AVAILABLE' });
});

test('in progress and final statuses', () => {
  const table: [ImageStatus, boolean, boolean][] = [
    ['PENDING', true, false],
    ['CREATING', true, false],
    ['BUILDING', true, false],
    ['TESTING', true, false],
    ['DISTRIBUTING', true, false],
    ['INTEGRATING', true, false],
    ['AVAILABLE', false, false],
    ['DEPRECATED', false, false],
    ['DISABLED', false, false],
    ['FAILED', false, true],
    ['CANCELLED', false, true],
    ['DELETED', false, true],
  ];
  for (const [status, inProgress, final] of table) {
    assert.equal(isInProgress(status), inProgress, `${status} in progress`);
    assert.equal(isFinal(status), final, `${status} final`);
  }
});

test('transition keeps a reason only for failures and cancellations, and refuses with a message', () => {
  assert.deepEqual(transition({ status: 'BUILDING' }, 'FAILED', 'step ApplyBuildComponents failed'), { status: 'FAILED', reason: 'step ApplyBuildComponents failed' });
  assert.deepEqual(transition({ status: 'PENDING' }, 'CANCELLED', 'cancelled by the user'), { status: 'CANCELLED', reason: 'cancelled by the user' });
  assert.deepEqual(transition({ status: 'PENDING' }, 'CREATING', 'ignored'), { status: 'CREATING' });
  assert.throws(
    () => transition({ status: 'CANCELLED', reason: 'x' }, 'CREATING'),
    (e: unknown) => isKilnError(e, 'InUse') && /CANCELLED cannot become CREATING; that state is final/.test(e.message),
  );
  assert.throws(() => transition({ status: 'PENDING' }, 'AVAILABLE'), (e: unknown) => isKilnError(e, 'InUse') && /it may become CREATING, FAILED, CANCELLED/.test(e.message));
});

test('isImageStatus accepts exactly the model enum', () => {
  for (const s of IMAGE_STATUSES) assert.ok(isImageStatus(s));
  for (const s of ['pending', 'ACTIVE', '', 3, undefined]) assert.equal(isImageStatus(s), false, String(s));
});

test('lifecycleTransition: the user guide’s lifecycle moves; AVAILABLE again only by hand', () => {
  const targets = ['AVAILABLE', 'DEPRECATED', 'DISABLED', 'DELETED'] as const;
  const allowed: Partial<Record<ImageStatus, string[]>> = {
    AVAILABLE: ['DEPRECATED', 'DISABLED', 'DELETED'],
    DEPRECATED: ['AVAILABLE', 'DISABLED', 'DELETED'],
    DISABLED: ['AVAILABLE', 'DELETED'],
    FAILED: ['DELETED'],
    CANCELLED: ['DELETED'],
  };
  for (const from of IMAGE_STATUSES) {
    for (const to of targets) {
      const manual = allowed[from]?.includes(to) ?? false;
      const ok = (byHand: boolean) => {
        try {
          assert.deepEqual(lifecycleTransition({ status: from, reason: 'old' }, to, byHand), { status: to });
          return true;
        } catch (e) {
          assert.ok(isKilnError(e, 'InUse'), String(e));
          return false;
        }
      };
      assert.equal(ok(true), manual, `${from} -> ${to} by hand`);
      assert.equal(ok(false), manual && to !== 'AVAILABLE', `${from} -> ${to} by a policy`);
    }
  }
  assert.throws(() => lifecycleTransition({ status: 'BUILDING' }, 'DELETED', true), /its build is still under way/);
});
