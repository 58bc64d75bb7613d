import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DAY_MS, dueSlot, latestSlot, nextSlot } from './daily-slots.js';

const created = new Date('2026-01-10T08:30:00Z');
const at = (ms: number) => new Date(created.getTime() + ms);

test('the first slot is a day after creation, then every day at the same instant', () => {
  assert.equal(latestSlot(created, at(DAY_MS - 1)), undefined);
  assert.equal(latestSlot(created, at(DAY_MS))?.toISOString(), '2026-01-11T08:30:00.000Z');
  assert.equal(latestSlot(created, at(3 * DAY_MS + 5))?.toISOString(), '2026-01-13T08:30:00.000Z');
  assert.equal(nextSlot(created, created).toISOString(), '2026-01-11T08:30:00.000Z');
  assert.equal(nextSlot(created, at(DAY_MS)).toISOString(), '2026-01-12T08:30:00.000Z', 'strictly after now');
  assert.equal(nextSlot(created, at(-5)).toISOString(), '2026-01-11T08:30:00.000Z', 'a clock behind the creation date waits for the first slot');
});

test('a slot is due once: a run at or after it settles it, and missed days give one run', () => {
  assert.equal(dueSlot(created, undefined, at(DAY_MS / 2)), undefined);
  assert.equal(dueSlot(created, undefined, at(DAY_MS + 1))?.getTime(), at(DAY_MS).getTime());
  assert.equal(dueSlot(created, at(DAY_MS + 10), at(DAY_MS + 20)), undefined, 'ran for this slot');
  assert.equal(dueSlot(created, at(DAY_MS + 10), at(2 * DAY_MS))?.getTime(), at(2 * DAY_MS).getTime(), 'the next day is due again');
  assert.equal(dueSlot(created, at(DAY_MS), at(5 * DAY_MS + 3))?.getTime(), at(5 * DAY_MS).getTime(), 'four missed days: one run, for the latest slot');
  assert.equal(dueSlot(created, at(DAY_MS * 1.5), at(DAY_MS * 1.9)), undefined, 'a manual run after the slot counts as that day’s run');
});
