import { useMemo } from 'react';
import { cronExpression, FREQUENCIES, WEEKDAYS, type CronBuilder, type Frequency } from './cron';
import { CheckboxField, RadioGroup, SelectField, TextField } from './fields';
import type { StepErrors } from './issues';
import { START_DEPENDENCIES, START_EVERY_RUN, type DetailsDraft } from './model';
import { NextRuns } from './NextRuns';

const MINUTES = Array.from({ length: 60 }, (_, i) => ({ value: String(i), label: String(i).padStart(2, '0') }));
const DAYS_OF_MONTH = [...Array.from({ length: 31 }, (_, i) => ({ value: String(i + 1), label: String(i + 1) })), { value: 'L', label: 'Last day of the month' }];

/** IANA zones this browser knows, UTC first. */
function timeZones(): string[] {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return ['UTC', ...zones.filter((z) => z !== 'UTC')];
}

/**
 * The schedule of step 1: a frequency with time and days that writes a six-field `cron(...)`, or an expression
 * typed as is (typing switches to "Custom expression"); the time zone; the next five runs; the start condition.
 */
export function ScheduleBuilder({ draft, onChange, errors }: { draft: DetailsDraft; onChange: (d: DetailsDraft) => void; errors: StepErrors }) {
  const zones = useMemo(timeZones, []);
  const browserZone = useMemo(() => Intl.DateTimeFormat().resolvedOptions().timeZone, []);
  const b = draft.schedule;
  const setBuilder = (patch: Partial<CronBuilder>) => {
    const schedule = { ...b, ...patch };
    const written = cronExpression(schedule);
    onChange({ ...draft, schedule, expression: written ?? draft.expression });
  };
  const toggleDay = (day: string, on: boolean) => setBuilder({ weekdays: on ? [...b.weekdays, day] : b.weekdays.filter((d) => d !== day) });
  const manual = b.frequency === 'manual';

  return (
    <fieldset className="group">
      <legend>Schedule</legend>
      <SelectField
        id="pipeline-frequency"
        label="Frequency"
        value={b.frequency}
        onChange={(v) => setBuilder({ frequency: v as Frequency })}
        options={FREQUENCIES}
        errors={errors}
      />
      {b.frequency === 'hourly' && (
        <SelectField id="pipeline-minute" label="Minute past the hour" value={String(b.minute)} onChange={(v) => setBuilder({ minute: Number(v) })} options={MINUTES} errors={errors} />
      )}
      {(b.frequency === 'daily' || b.frequency === 'weekly' || b.frequency === 'monthly') && (
        <TextField id="pipeline-time" label="Time of day" type="time" value={b.time} onChange={(v) => setBuilder({ time: v })} errors={errors} hint="In the pipeline's time zone." />
      )}
      {b.frequency === 'weekly' && (
        <fieldset className="choices inline" id="pipeline-days">
          <legend>Days</legend>
          {WEEKDAYS.map((d) => (
            <label key={d.value} className="check">
              <input type="checkbox" checked={b.weekdays.includes(d.value)} onChange={(e) => toggleDay(d.value, e.target.checked)} />
              {d.label}
            </label>
          ))}
        </fieldset>
      )}
      {b.frequency === 'monthly' && (
        <SelectField id="pipeline-day-of-month" label="Day of the month" value={b.dayOfMonth} onChange={(v) => setBuilder({ dayOfMonth: v })} options={DAYS_OF_MONTH} errors={errors} />
      )}
      {!manual && (
        <>
          <TextField
            id="pipeline-schedule"
            label="Schedule expression"
            value={draft.expression}
            onChange={(v) => onChange({ ...draft, schedule: { ...b, frequency: 'custom' }, expression: v })}
            errors={errors}
            required
            hint={
              <>
                AWS&apos;s <code>cron(minutes hours day-of-month month day-of-week year)</code> or <code>rate(N unit)</code>. Typing here makes it a custom
                expression.
              </>
            }
          />
          <SelectField
            id="pipeline-timezone"
            label="Time zone"
            value={draft.timezone}
            onChange={(timezone) => onChange({ ...draft, timezone })}
            options={zones.map((z) => ({ value: z, label: z }))}
            errors={errors}
            hint={browserZone && browserZone !== draft.timezone ? `This browser's time zone is ${browserZone}.` : undefined}
          />
          <NextRuns expression={draft.expression} timeZone={draft.timezone} />
          <RadioGroup
            id="pipeline-start"
            legend="Start condition"
            name="start-condition"
            value={draft.startCondition}
            onChange={(startCondition) => onChange({ ...draft, startCondition })}
            options={[
              { value: START_DEPENDENCIES, label: 'Only when dependencies changed' },
              { value: START_EVERY_RUN, label: 'On every run' },
            ]}
            errors={errors}
            hint="Only when dependencies changed: a scheduled run builds only if the base image or a component (through its wildcard version) resolves to something new."
          />
        </>
      )}
      {manual && <p className="muted">The pipeline runs only when started (Run pipeline, the API or its webhook).</p>}
    </fieldset>
  );
}

/** Step 1's other switches: enhanced metadata and image tests. */
export function BuildOptions({ draft, onChange, errors }: { draft: DetailsDraft; onChange: (d: DetailsDraft) => void; errors: StepErrors }) {
  return (
    <fieldset className="group">
      <legend>Build options</legend>
      <CheckboxField
        id="pipeline-metadata"
        label="Enhanced metadata collection"
        checked={draft.enhancedMetadata}
        onChange={(enhancedMetadata) => onChange({ ...draft, enhancedMetadata })}
        errors={errors}
      />
      <CheckboxField
        id="pipeline-tests"
        label="Run image tests"
        checked={draft.imageTests}
        onChange={(imageTests) => onChange({ ...draft, imageTests })}
        errors={errors}
        hint="Tests run every component's test phase on a new instance from the output image."
      />
      {draft.imageTests && (
        <TextField
          id="pipeline-test-timeout"
          label="Test timeout (minutes)"
          type="number"
          value={draft.testTimeout}
          onChange={(testTimeout) => onChange({ ...draft, testTimeout })}
          errors={errors}
          hint="Leave empty for the default."
        />
      )}
    </fieldset>
  );
}
