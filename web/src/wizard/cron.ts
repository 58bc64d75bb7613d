/**
 * The friendly schedule builder's model: a frequency with a time of day and days, written out as AWS's six-field
 * `cron(...)` expression. Only the writing is done here; reading and checking expressions is Kiln's own
 * `src/domain/schedule.ts` (and, in the end, the API's).
 */

export type Frequency = 'manual' | 'hourly' | 'daily' | 'weekly' | 'monthly' | 'custom';

export const FREQUENCIES: { value: Frequency; label: string }[] = [
  { value: 'manual', label: 'Manual only (no schedule)' },
  { value: 'hourly', label: 'Hourly' },
  { value: 'daily', label: 'Daily' },
  { value: 'weekly', label: 'Weekly' },
  { value: 'monthly', label: 'Monthly' },
  { value: 'custom', label: 'Custom expression' },
];

/** Days of the week as AWS names them, in AWS's order (SUN = 1). */
export const WEEKDAYS: { value: string; label: string }[] = [
  { value: 'SUN', label: 'Sunday' },
  { value: 'MON', label: 'Monday' },
  { value: 'TUE', label: 'Tuesday' },
  { value: 'WED', label: 'Wednesday' },
  { value: 'THU', label: 'Thursday' },
  { value: 'FRI', label: 'Friday' },
  { value: 'SAT', label: 'Saturday' },
];

export interface CronBuilder {
  frequency: Frequency;
  /** Minute past the hour, for hourly runs. */
  minute: number;
  /** `HH:MM`, for daily, weekly and monthly runs. */
  time: string;
  /** AWS day names, for weekly runs. */
  weekdays: string[];
  /** `1`-`31` or `L` (the last day), for monthly runs. */
  dayOfMonth: string;
}

function hourMinute(time: string): [number, number] {
  const m = /^(\d{1,2}):(\d{2})/.exec(time);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

/**
 * The expression the builder describes, or undefined for `manual` and `custom` (the expression is then the
 * user's own). A weekly schedule without days writes an empty day list: the API says what is wrong with it.
 */
export function cronExpression(b: CronBuilder): string | undefined {
  const [hour, minute] = hourMinute(b.time);
  switch (b.frequency) {
    case 'hourly':
      return `cron(${b.minute} * * * ? *)`;
    case 'daily':
      return `cron(${minute} ${hour} * * ? *)`;
    case 'weekly': {
      const days = WEEKDAYS.filter((d) => b.weekdays.includes(d.value)).map((d) => d.value);
      return `cron(${minute} ${hour} ? * ${days.join(',')} *)`;
    }
    case 'monthly':
      return `cron(${minute} ${hour} ${b.dayOfMonth} * ? *)`;
    default:
      return undefined;
  }
}
