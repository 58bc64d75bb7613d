import { useMemo, useState } from 'react';
import { GetComponentCommand, ListComponentsCommand, type ComponentVersion } from '@aws-sdk/client-imagebuilder';
import { imagebuilder } from '../api';
import type { Session } from '../session';
import { describedBy, FieldNotes } from './fields';
import type { StepErrors } from './issues';
import type { ChosenComponent } from './model';
import { allPages, useLoad } from './useLoad';

/** A component name with the versions the lists show, newest first. */
interface Family {
  base: string;
  name: string;
  owner: string;
  type?: string;
  platform?: string;
  description?: string;
  versions: string[];
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pb[i] ?? 0) - (pa[i] ?? 0);
  return 0;
}

function families(list: ComponentVersion[]): Family[] {
  const byBase = new Map<string, Family>();
  for (const c of list) {
    if (!c.arn || !c.version) continue;
    const base = c.arn.replace(/\/[^/]+$/, '');
    const f = byBase.get(base) ?? { base, name: c.name ?? base, owner: c.owner ?? '', type: c.type, platform: c.platform, description: c.description, versions: [] };
    if (!f.versions.includes(c.version)) f.versions.push(c.version);
    byBase.set(base, f);
  }
  for (const f of byBase.values()) f.versions.sort(compareVersions);
  return [...byBase.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The versions a component may be sent with: wildcards first (x.x.x, each major's n.x.x and n.n.x), then exact ones. */
export function versionChoices(versions: string[]): { value: string; label: string }[] {
  const majors = [...new Set(versions.map((v) => v.split('.')[0]!))];
  const minors = [...new Set(versions.map((v) => v.split('.').slice(0, 2).join('.')))];
  return [
    { value: 'x.x.x', label: 'x.x.x (newest)' },
    ...majors.map((m) => ({ value: `${m}.x.x`, label: `${m}.x.x (newest ${m}.*)` })),
    ...minors.map((m) => ({ value: `${m}.x`, label: `${m}.x (newest ${m}.*)` })),
    ...versions.map((v) => ({ value: v, label: v })),
  ];
}

let counter = 0;

async function loadComponents(session: Session): Promise<Family[]> {
  const client = imagebuilder(session);
  const lists = await Promise.all(
    (['Self', 'Amazon'] as const).map((owner) =>
      allPages(async (nextToken) => {
        const out = await client.send(new ListComponentsCommand({ owner, ...(nextToken ? { nextToken } : {}) }));
        return { items: out.componentVersionList, nextToken: out.nextToken };
      }),
    ),
  );
  return families(lists.flat());
}

/** The parameters a component version declares (read with GetComponent; wildcards resolve to the newest match). */
function ComponentParameters({ session, component, onChange, errors }: { session: Session; component: ChosenComponent; onChange: (c: ChosenComponent) => void; errors: StepErrors }) {
  const arn = `${component.base}/${component.version}`;
  const loaded = useLoad(async () => (await imagebuilder(session).send(new GetComponentCommand({ componentBuildVersionArn: arn }))).component?.parameters ?? [], arn);
  if (loaded.loading && !loaded.data) return <span className="muted">Loading parameters…</span>;
  if (loaded.error) return <span className="error">Parameters could not be read: {loaded.error}</span>;
  const params = loaded.data ?? [];
  if (params.length === 0) return <span className="muted">No parameters</span>;
  return (
    <div className="params">
      {params.map((p) => {
        const id = `component-${component.key}-param-${p.name}`;
        const hint = `${p.type ?? 'string'}${p.defaultValue?.length ? `, default ${p.defaultValue.join(', ')}` : ', no default'}${p.description ? ` — ${p.description}` : ''}`;
        return (
          <div className="field" key={p.name}>
            <label htmlFor={id}>{p.name}</label>
            <input
              {...describedBy(id, errors, hint)}
              value={component.values[p.name!] ?? ''}
              placeholder={p.defaultValue?.join(', ') ?? ''}
              autoComplete="off"
              spellCheck={false}
              onChange={(e) => onChange({ ...component, values: { ...component.values, [p.name!]: e.target.value } })}
            />
            <FieldNotes id={id} errors={errors} hint={hint} />
          </div>
        );
      })}
    </div>
  );
}

/**
 * The components of a new recipe: pick one from your components and Kiln's (ListComponents Self and Amazon),
 * add it, choose its version (a wildcard such as 1.x.x follows new builds) and its parameters; reorder or remove.
 */
export function ComponentsPicker({ session, value, onChange, errors }: { session: Session; value: ChosenComponent[]; onChange: (v: ChosenComponent[]) => void; errors: StepErrors }) {
  const loaded = useLoad(() => loadComponents(session), 'components');
  const list = useMemo(() => loaded.data ?? [], [loaded.data]);
  const [pick, setPick] = useState('');
  const picked = list.find((f) => f.base === pick) ?? list[0];

  const add = () => {
    if (!picked) return;
    const newest = picked.versions[0] ?? '1.0.0';
    onChange([...value, { key: `c${++counter}`, name: picked.name, base: picked.base, versions: picked.versions, version: `${newest.split('.')[0]}.x.x`, owner: picked.owner, values: {} }]);
  };
  const replace = (i: number, c: ChosenComponent) => onChange(value.map((v, j) => (j === i ? c : v)));
  const move = (i: number, by: number) => {
    const next = [...value];
    const [item] = next.splice(i, 1);
    next.splice(i + by, 0, item!);
    onChange(next);
  };

  return (
    <fieldset className="group" id="recipe-components" {...(errors.fields['recipe-components'] ? { 'aria-describedby': 'recipe-components-error', 'aria-invalid': true } : {})}>
      <legend>Components</legend>
      <div className="add-row">
        <div className="field">
          <label htmlFor="recipe-component-pick">Component</label>
          <select id="recipe-component-pick" value={picked?.base ?? ''} onChange={(e) => setPick(e.target.value)} disabled={list.length === 0}>
            {list.length === 0 && <option value="">{loaded.loading ? 'Loading components…' : 'No components yet'}</option>}
            {list.map((f) => (
              <option key={f.base} value={f.base}>
                {f.name}
                {f.base.split(':')[4] === 'aws' ? ' (Kiln-managed)' : ''} — {f.type ?? ''} {f.platform ?? ''}
              </option>
            ))}
          </select>
        </div>
        <button type="button" onClick={add} disabled={!picked}>
          Add component
        </button>
      </div>
      {loaded.error && <p className="error">Components could not be listed: {loaded.error}</p>}
      <FieldNotes id="recipe-components" errors={errors} />
      {value.length > 0 && (
        <table className="components">
          <caption>Chosen components, in the order they run</caption>
          <thead>
            <tr>
              <th scope="col">Component</th>
              <th scope="col">Version</th>
              <th scope="col">Parameters</th>
              <th scope="col">Order</th>
            </tr>
          </thead>
          <tbody>
            {value.map((c, i) => {
              const versionId = `component-${c.key}-version`;
              return (
                <tr key={c.key}>
                  <td>
                    <strong>{c.name}</strong>
                  </td>
                  <td>
                    <div className="field">
                      <label htmlFor={versionId} className="visually-hidden">
                        {`Version of ${c.name}`}
                      </label>
                      <select {...describedBy(versionId, errors)} value={c.version} onChange={(e) => replace(i, { ...c, version: e.target.value })}>
                        {versionChoices(c.versions).map((o) => (
                          <option key={o.value} value={o.value}>
                            {o.label}
                          </option>
                        ))}
                      </select>
                      <FieldNotes id={versionId} errors={errors} />
                    </div>
                  </td>
                  <td>
                    <ComponentParameters session={session} component={c} onChange={(n) => replace(i, n)} errors={errors} />
                  </td>
                  <td>
                    <div className="actions compact">
                      <button type="button" onClick={() => move(i, -1)} disabled={i === 0} aria-label={`Move ${c.name} up`}>
                        ↑
                      </button>
                      <button type="button" onClick={() => move(i, 1)} disabled={i === value.length - 1} aria-label={`Move ${c.name} down`}>
                        ↓
                      </button>
                      <button type="button" onClick={() => onChange(value.filter((_, j) => j !== i))} aria-label={`Remove ${c.name}`}>
                        Remove
                      </button>
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </fieldset>
  );
}
