import { useId } from 'react';

export type Owner = 'Self' | 'Shared' | 'Amazon';
const OWNERS: { value: Owner; label: string }[] = [
  { value: 'Self', label: 'Owned by me' },
  { value: 'Shared', label: 'Shared with me' },
  { value: 'Amazon', label: 'Amazon managed' },
];

/** The owner filter of a List operation (Self, Shared, Amazon) as a radio group. */
export function OwnerSwitch({ value, onChange }: { value: Owner; onChange: (owner: Owner) => void }) {
  const name = useId();
  return (
    <fieldset className="res-owner">
      <legend>Owner</legend>
      {OWNERS.map((o) => (
        <label key={o.value} className="res-radio">
          <input type="radio" name={name} value={o.value} checked={value === o.value} onChange={() => onChange(o.value)} />
          {o.label}
        </label>
      ))}
    </fieldset>
  );
}
