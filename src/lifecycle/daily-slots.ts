/**
 * When a lifecycle policy runs: AWS runs each enabled policy once a day at a time it chooses. Kiln's choice is
 * the policy's creation instant plus whole days, so policies spread over the day and a policy created now first
 * runs 24 hours later. Pure: the runner asks these with its Clock's time.
 */

export const DAY_MS = 24 * 60 * 60 * 1000;

/** The latest daily slot at or before `now` (created + k days, k ≥ 1), or undefined before the first one. */
export function latestSlot(created: Date, now: Date): Date | undefined {
  const days = Math.floor((now.getTime() - created.getTime()) / DAY_MS);
  return days >= 1 ? new Date(created.getTime() + days * DAY_MS) : undefined;
}

/** The first daily slot strictly after `now`. */
export function nextSlot(created: Date, now: Date): Date {
  const days = Math.max(1, Math.floor((now.getTime() - created.getTime()) / DAY_MS) + 1);
  return new Date(created.getTime() + days * DAY_MS);
}

/**
 * The slot a policy should run for now, or undefined: the latest slot, unless the policy already ran at or
 * after it. Missed slots (Kiln was down for days) give one run, not one per day.
 */
export function dueSlot(created: Date, lastRun: Date | undefined, now: Date): Date | undefined {
  const slot = latestSlot(created, now);
  if (!slot) return undefined;
  return lastRun !== undefined && lastRun.getTime() >= slot.getTime() ? undefined : slot;
}
