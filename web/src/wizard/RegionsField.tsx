import { useConfiguredRegions } from '../regions';
import { describedBy, FieldNotes } from './fields';
import type { StepErrors } from './issues';
import { splitList } from './model';

/**
 * The regions a new distribution configuration names, chosen among the server's configured regions (a
 * multiple select, all of them shown). If the server could not list them, they are typed, comma-separated.
 */
export function RegionsField({ id, value, onChange, errors }: { id: string; value: string[]; onChange: (regions: string[]) => void; errors: StepErrors }) {
  const { regions, error } = useConfiguredRegions();
  if (error !== undefined) {
    const hint = `Comma-separated (the server's regions could not be listed: ${error}).`;
    return (
      <div className="field">
        <label htmlFor={id}>Regions</label>
        <input {...describedBy(id, errors, hint)} value={value.join(', ')} aria-required spellCheck={false} autoComplete="off" onChange={(e) => onChange(splitList(e.target.value))} />
        <FieldNotes id={id} errors={errors} hint={hint} />
      </div>
    );
  }
  // A region chosen before (the session's) stays offered even if the list does not hold it.
  const options = [...(regions ?? []), ...value.filter((r) => !(regions ?? []).includes(r))];
  const hint = regions === undefined ? 'Loading the configured regions…' : 'The regions this Kiln is configured with; every region chosen gets the outputs below.';
  return (
    <div className="field">
      <label htmlFor={id}>Regions</label>
      <select
        {...describedBy(id, errors, hint)}
        multiple
        size={Math.min(Math.max(options.length, 2), 6)}
        value={value}
        aria-required
        onChange={(e) => onChange([...e.target.selectedOptions].map((o) => o.value))}
      >
        {options.map((r) => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </select>
      <FieldNotes id={id} errors={errors} hint={hint} />
    </div>
  );
}
