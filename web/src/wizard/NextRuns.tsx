import { useMemo } from 'react';
import { checkScheduleExpression, nextRuns } from '../../../src/domain/schedule';

/** Formats an instant as a wall-clock time in `timeZone`, with the zone's abbreviation. */
function formatIn(date: Date, timeZone: string): string {
  return new Intl.DateTimeFormat(undefined, {
    timeZone,
    weekday: 'short',
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  }).format(date);
}

type Preview = { runs: string[] } | { note: string };

function preview(expression: string, timeZone: string): Preview {
  // Why an expression is not accepted is the API's to say (at Create); the preview only needs to read it.
  const { expression: parsed } = checkScheduleExpression(expression);
  if (!parsed) return { note: 'No run times to show for this expression; the API says what is wrong with it when the pipeline is created.' };
  try {
    const runs = nextRuns(parsed, new Date(), 5, { timeZone });
    if (runs.length === 0) return { note: 'This expression does not run again.' };
    return { runs: runs.map((d) => formatIn(d, timeZone)) };
  } catch {
    return { note: `No run times to show in the time zone ${timeZone}.` };
  }
}

/**
 * The next five run times of a schedule expression in the chosen time zone, computed with Kiln's own schedule
 * module (the one the scheduler runs). It only previews: whether the expression is accepted is the API's answer.
 */
export function NextRuns({ expression, timeZone }: { expression: string; timeZone: string }) {
  const result = useMemo(() => preview(expression, timeZone), [expression, timeZone]);
  return (
    <section className="next-runs" aria-label="Next run times" aria-live="polite">
      <h4>Next five runs ({timeZone})</h4>
      {'runs' in result ? (
        <ol data-testid="next-runs">
          {result.runs.map((r, i) => (
            <li key={i}>{r}</li>
          ))}
        </ol>
      ) : (
        <p className="muted">{result.note}</p>
      )}
    </section>
  );
}
