import type { Schedule } from '@aws-sdk/client-imagebuilder';

const CONDITIONS: Record<string, string> = {
  EXPRESSION_MATCH_ONLY: 'on every tick',
  EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE: 'only when dependencies changed',
};

/** A pipeline's schedule in one line: expression, time zone and start condition ("manual only" without one). */
export function ScheduleText({ schedule }: { schedule: Schedule | undefined }) {
  if (!schedule?.scheduleExpression) return <span className="muted">manual only</span>;
  const condition = CONDITIONS[schedule.pipelineExecutionStartCondition ?? ''];
  return (
    <>
      <code>{schedule.scheduleExpression}</code>
      {schedule.timezone ? ` ${schedule.timezone}` : ' UTC'}
      {condition ? <span className="muted">, {condition}</span> : null}
    </>
  );
}
