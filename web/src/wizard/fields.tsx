import type { Loaded } from './useLoad';
/**
 * The wizard's form controls: a label, the input, an optional hint and the API's messages for it. An input the
 * API named gets `aria-invalid` and its messages in `<span className="field-error" id="<id>-error">`, which
 * `aria-describedby` points at. "Required" is a hint only: the API decides.
 */
import type { ReactNode } from 'react';
import type { StepErrors } from './issues';

interface Described {
  id: string;
  errors: StepErrors;
  hint?: ReactNode;
}

/** The attributes that tie an input to its hint and errors. */
export function describedBy(id: string, errors: StepErrors, hint?: ReactNode) {
  const invalid = (errors.fields[id]?.length ?? 0) > 0;
  const ids = [hint ? `${id}-hint` : '', invalid ? `${id}-error` : ''].filter((s) => s !== '');
  return {
    id,
    'aria-invalid': invalid || undefined,
    'aria-describedby': ids.length > 0 ? ids.join(' ') : undefined,
  } as const;
}

/** The hint and the API's messages under a control. */
export function FieldNotes({ id, errors, hint }: Described) {
  const messages = errors.fields[id] ?? [];
  return (
    <>
      {hint && (
        <span className="hint" id={`${id}-hint`}>
          {hint}
        </span>
      )}
      {messages.length > 0 && (
        <span className="field-error" id={`${id}-error`}>
          {messages.join(' · ')}
        </span>
      )}
    </>
  );
}

/** The label, with a visual "required" hint outside it (the input carries aria-required). */
function Label({ id, label, required }: { id: string; label: string; required?: boolean }) {
  if (!required) return <label htmlFor={id}>{label}</label>;
  return (
    <span className="label-row">
      <label htmlFor={id}>{label}</label>
      <span className="required" aria-hidden="true">
        required
      </span>
    </span>
  );
}

interface TextProps extends Described {
  label: string;
  value: string;
  onChange: (value: string) => void;
  required?: boolean;
  type?: 'text' | 'number' | 'time';
  placeholder?: string;
  autoComplete?: string;
  spellCheck?: boolean;
}

/** A labelled one-line input. */
export function TextField({ id, label, value, onChange, errors, hint, required, type = 'text', placeholder, spellCheck }: TextProps) {
  return (
    <div className="field">
      <Label id={id} label={label} required={required} />
      <input
        {...describedBy(id, errors, hint)}
        type={type}
        value={value}
        placeholder={placeholder}
        aria-required={required || undefined}
        spellCheck={spellCheck ?? false}
        autoComplete="off"
        onChange={(e) => onChange(e.target.value)}
      />
      <FieldNotes id={id} errors={errors} hint={hint} />
    </div>
  );
}

/** A labelled multi-line input (monospace). */
export function TextArea({ id, label, value, onChange, errors, hint, required, rows = 8 }: Omit<TextProps, 'type'> & { rows?: number }) {
  return (
    <div className="field">
      <Label id={id} label={label} required={required} />
      <textarea {...describedBy(id, errors, hint)} value={value} rows={rows} aria-required={required || undefined} spellCheck={false} onChange={(e) => onChange(e.target.value)} />
      <FieldNotes id={id} errors={errors} hint={hint} />
    </div>
  );
}

export interface Option {
  value: string;
  label: string;
}

/** A labelled select; `groups` renders optgroups. */
export function SelectField({
  id,
  label,
  value,
  onChange,
  errors,
  hint,
  required,
  options = [],
  groups = [],
  placeholder,
}: Described & { label: string; value: string; onChange: (v: string) => void; required?: boolean; options?: Option[]; groups?: { label: string; options: Option[] }[]; placeholder?: string }) {
  return (
    <div className="field">
      <Label id={id} label={label} required={required} />
      <select {...describedBy(id, errors, hint)} value={value} aria-required={required || undefined} onChange={(e) => onChange(e.target.value)}>
        {placeholder !== undefined && <option value="">{placeholder}</option>}
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
        {groups
          .filter((g) => g.options.length > 0)
          .map((g) => (
            <optgroup key={g.label} label={g.label}>
              {g.options.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.label}
                </option>
              ))}
            </optgroup>
          ))}
      </select>
      <FieldNotes id={id} errors={errors} hint={hint} />
    </div>
  );
}

/** A checkbox with its label on the right. */
export function CheckboxField({ id, label, checked, onChange, errors, hint }: Described & { label: string; checked: boolean; onChange: (v: boolean) => void }) {
  return (
    <div className="field">
      <label className="check">
        <input {...describedBy(id, errors, hint)} type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} />
        {label}
      </label>
      <FieldNotes id={id} errors={errors} hint={hint} />
    </div>
  );
}

/** A fieldset of radio buttons; the API's messages for `id` are shown under it. */
export function RadioGroup<T extends string>({
  id,
  legend,
  name,
  value,
  onChange,
  options,
  errors,
  hint,
}: Described & { legend: string; name: string; value: T; onChange: (v: T) => void; options: { value: T; label: string }[] }) {
  const described = describedBy(id, errors, hint);
  return (
    <fieldset id={id} className="choices" aria-invalid={described['aria-invalid']} aria-describedby={described['aria-describedby']}>
      <legend>{legend}</legend>
      {options.map((o) => (
        <label key={o.value} className="check">
          <input type="radio" name={name} value={o.value} checked={value === o.value} onChange={() => onChange(o.value)} />
          {o.label}
        </label>
      ))}
      <FieldNotes id={id} errors={errors} hint={hint} />
    </fieldset>
  );
}

/** Problems for the whole step (or with no input of their own), announced when they appear. */
export function StepAlert({ errors, title }: { errors: StepErrors; title: string }) {
  if (errors.general.length === 0) return null;
  return (
    <div role="alert" className="panel step-alert">
      <p className="error">{title}</p>
      <ul>
        {errors.general.map((m) => (
          <li key={m} className="error">
            {m}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The picker of an existing configuration, with the list's loading and error states in its placeholder and hint. */
export function ExistingConfigField({ id, label, value, onChange, errors, lists }: { id: string; label: string; value: string; onChange: (v: string) => void; errors: Described['errors']; lists: Loaded<Option[]> }) {
  return (
    <SelectField
      id={id}
      label={label}
      value={value}
      onChange={onChange}
      options={lists.data ?? []}
      placeholder={lists.loading ? 'Loading configurations…' : 'Choose a configuration'}
      errors={errors}
      required
      hint={lists.error ? `Configurations could not be listed: ${lists.error}` : undefined}
    />
  );
}
