/**
 * When a pipeline's schedule is next due. One rule for the scheduler and for GetImagePipeline's dateNextRun, so
 * what the API shows is what the scheduler does: the first schedule instant after the cursor (the instant up to
 * which ticks were handled), or after the moment the schedule was last set.
 */
import { checkScheduleExpression, nextRun, type ScheduleExpression } from '../domain/schedule.js';
import { runStateOf } from './run-state.js';
import type { JsonObject } from '../domain/json.js';


/** The parsed schedule of an ENABLED pipeline; undefined for a disabled one or one without a valid expression. */
export function activeSchedule(data: JsonObject): { expression: ScheduleExpression; timeZone: string; anchor: Date } | undefined {
  const schedule = data.schedule as { scheduleExpression?: string; timezone?: string } | undefined;
  if (data.status !== 'ENABLED' || typeof schedule?.scheduleExpression !== 'string') return undefined;
  const { expression } = checkScheduleExpression(schedule.scheduleExpression);
  if (!expression) return undefined;
  // Rate schedules count from the moment the schedule was last set, as EventBridge counts from rule creation.
  const anchor = new Date(String(data.dateUpdated ?? data.dateCreated));
  return { expression, timeZone: schedule.timezone ?? 'UTC', anchor };
}

/** The next schedule instant not yet handled; in the past when a tick is owed (Kiln was stopped). */
export function nextDue(data: JsonObject): Date | undefined {
  const active = activeSchedule(data);
  if (!active) return undefined;
  const cursor = runStateOf(data).scheduleCursor;
  const after = cursor !== undefined ? new Date(cursor) : active.anchor;
  return nextRun(active.expression, after, { timeZone: active.timeZone, anchor: active.anchor });
}
