import { TextField } from './fields';
import type { StepErrors } from './issues';
import type { DetailsDraft } from './model';
import { BuildOptions, ScheduleBuilder } from './ScheduleBuilder';

/** Step 1, pipeline details: name, description, schedule (with its time zone and next runs), build options. */
export function DetailsStep({ draft, onChange, errors }: { draft: DetailsDraft; onChange: (d: DetailsDraft) => void; errors: StepErrors }) {
  return (
    <>
      <TextField id="pipeline-name" label="Pipeline name" value={draft.name} onChange={(name) => onChange({ ...draft, name })} errors={errors} required />
      <TextField id="pipeline-description" label="Description" value={draft.description} onChange={(description) => onChange({ ...draft, description })} errors={errors} spellCheck />
      <ScheduleBuilder draft={draft} onChange={onChange} errors={errors} />
      <BuildOptions draft={draft} onChange={onChange} errors={errors} />
    </>
  );
}

/** Whether step 1 shows the input `field` now. */
export function detailsShows(draft: DetailsDraft, field: string): boolean {
  const manual = draft.schedule.frequency === 'manual';
  if (['pipeline-schedule', 'pipeline-timezone', 'pipeline-start'].includes(field)) return !manual;
  if (field === 'pipeline-test-timeout') return draft.imageTests;
  return true;
}
