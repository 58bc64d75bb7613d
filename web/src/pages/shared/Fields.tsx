import type { ReactNode } from 'react';

export type FieldRow = [label: string, value: ReactNode];

/** Settings as a definition list; rows whose value is empty (undefined, null, '', empty list) are left out. */
export function Fields({ rows, label }: { rows: FieldRow[]; label?: string }) {
  const shown = rows.filter(([, v]) => v !== undefined && v !== null && v !== '' && v !== false && !(Array.isArray(v) && v.length === 0));
  if (shown.length === 0) return null;
  return (
    <dl className="res-fields" aria-label={label}>
      {shown.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
