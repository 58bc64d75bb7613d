import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { CreateComponentCommand, GetComponentCommand, type Platform } from '@aws-sdk/client-imagebuilder';
import { fieldIssues, imagebuilder, type FieldIssue } from '../../api';
import { href, navigate } from '../../router';
import type { Session } from '../../session';
import { ErrorNote } from '../shared/ErrorNote';
import { useFocusHeading } from '../shared/useFocusHeading';
import { validateDocument } from './toeValidate';

const STARTER = `name: hello-world
description: Says hello.
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: SayHello
        action: ExecuteBash
        inputs:
          commands:
            - echo "Hello, world"
`;

/** The next patch version of `1.2.3` (a suggestion for "New version"; the API decides what it accepts). */
function nextPatch(version: string | undefined): string {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(version ?? '');
  return m ? `${m[1]}.${m[2]}.${Number(m[3]) + 1}` : '1.0.0';
}

interface Draft {
  name: string;
  semanticVersion: string;
  platform: string;
  description: string;
  changeDescription: string;
  data: string;
}

const FORM_FIELDS = ['name', 'semanticVersion', 'platform', 'description', 'changeDescription', 'data'] as const;
type FormField = (typeof FORM_FIELDS)[number];

/** The id of a field's error element, for aria-describedby. */
const errorId = (field: FormField) => `component-${field}-error`;

/** Problems of the document: the validator's own (path in the document) or CreateComponent's `data: <path>: …`. */
function documentProblems(issues: FieldIssue[]): FieldIssue[] {
  return issues.map((i) => {
    const m = /^([^\s:][^:]*?):\s(.*)$/.exec(i.message);
    return m ? { path: m[1]!, message: m[2]! } : { path: '(document)', message: i.message };
  });
}

/** A labelled form control with the API's error for it below (the control itself is the child, with its id). */
function FieldBox({ field, label, error, children }: { field: FormField; label: string; error: string | undefined; children: ReactNode }) {
  return (
    <div className="res-field">
      <label htmlFor={`component-${field}`}>{label}</label>
      {children}
      {error && (
        <span className="field-error" id={errorId(field)}>
          {error}
        </span>
      )}
    </div>
  );
}

/**
 * "New component" / "New version": a form with the document in a YAML editor. "Validate" checks it on the server
 * with the rules of `kiln toe validate` and lists each problem with its path next to the editor; "Create" calls
 * CreateComponent and shows its errors next to the fields they name.
 */
export function ComponentEditor({ session, from }: { session: Session; from: string }) {
  const [draft, setDraft] = useState<Draft>({ name: '', semanticVersion: '1.0.0', platform: 'Linux', description: '', changeDescription: '', data: STARTER });
  const [loadError, setLoadError] = useState<unknown>();
  const [validation, setValidation] = useState<{ issues: FieldIssue[]; checked: string }>();
  const [errors, setErrors] = useState<Partial<Record<FormField, string>>>({});
  const [docIssues, setDocIssues] = useState<FieldIssue[]>([]);
  const [formError, setFormError] = useState<unknown>();
  const [busy, setBusy] = useState<'validate' | 'create'>();
  const heading = useFocusHeading<HTMLHeadingElement>(true);

  useEffect(() => {
    if (!from) return;
    let current = true;
    imagebuilder(session)
      .send(new GetComponentCommand({ componentBuildVersionArn: from }))
      .then(({ component: c }) => {
        if (!current || !c) return;
        setDraft({ name: c.name ?? '', semanticVersion: nextPatch(c.version), platform: c.platform ?? 'Linux', description: c.description ?? '', changeDescription: '', data: c.data ?? '' });
      })
      .catch((err: unknown) => current && setLoadError(err));
    return () => {
      current = false;
    };
  }, [session, from]);

  const set = (field: keyof Draft) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [field]: e.target.value }));

  const validate = async () => {
    setBusy('validate');
    setFormError(undefined);
    try {
      const issues = await validateDocument(session, draft.data);
      setValidation({ issues, checked: draft.data });
      setDocIssues(issues);
      setErrors((e) => ({ ...e, data: undefined }));
    } catch (err) {
      setFormError(err);
    } finally {
      setBusy(undefined);
    }
  };

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy('create');
    setFormError(undefined);
    setErrors({});
    setDocIssues([]);
    setValidation(undefined);
    try {
      const r = await imagebuilder(session).send(
        new CreateComponentCommand({
          name: draft.name,
          semanticVersion: draft.semanticVersion,
          platform: draft.platform as Platform,
          data: draft.data,
          ...(draft.description ? { description: draft.description } : {}),
          ...(draft.changeDescription ? { changeDescription: draft.changeDescription } : {}),
        }),
      );
      if (r.componentBuildVersionArn) navigate('components', r.componentBuildVersionArn);
    } catch (err) {
      const issues = fieldIssues(err);
      const byField: Partial<Record<FormField, string>> = {};
      const rest: FieldIssue[] = [];
      for (const issue of issues) {
        const field = FORM_FIELDS.find((f) => f === issue.path);
        if (field === 'data') continue;
        if (field) byField[field] = byField[field] ? `${byField[field]}; ${issue.message}` : issue.message;
        else rest.push(issue);
      }
      setErrors(byField);
      setDocIssues(documentProblems(issues.filter((i) => i.path === 'data')));
      if (issues.length === 0 || rest.length > 0) setFormError(err);
    } finally {
      setBusy(undefined);
    }
  };

  const describedBy = (field: FormField) => (errors[field] ? errorId(field) : undefined);
  const docInvalid = docIssues.length > 0;
  const validated = validation !== undefined && validation.checked === draft.data;

  return (
    <article className="res-detail">
      <p className="res-back">
        <a href={from ? href('components', from) : href('components')}>← {from ? 'Back to the component' : 'Components'}</a>
      </p>
      <h1 ref={heading} tabIndex={-1}>
        {from ? 'New component version' : 'New component'}
      </h1>
      {loadError !== undefined && <ErrorNote error={loadError} action="Loading the component" />}
      <form className="stack res-editor" onSubmit={(e) => void create(e)} noValidate>
        <div className="res-form-row">
          <FieldBox field="name" label="Name" error={errors.name}>
            <input id="component-name" name="name" value={draft.name} onChange={set('name')} aria-invalid={errors.name ? true : undefined} aria-describedby={describedBy('name')} />
          </FieldBox>
          <FieldBox field="semanticVersion" label="Semantic version" error={errors.semanticVersion}>
            <input
              id="component-semanticVersion"
              name="semanticVersion"
              value={draft.semanticVersion}
              onChange={set('semanticVersion')}
              aria-invalid={errors.semanticVersion ? true : undefined}
              aria-describedby={describedBy('semanticVersion')}
            />
          </FieldBox>
          <FieldBox field="platform" label="Platform" error={errors.platform}>
            <select id="component-platform" name="platform" value={draft.platform} onChange={set('platform')} aria-invalid={errors.platform ? true : undefined} aria-describedby={describedBy('platform')}>
              <option>Linux</option>
              <option>Windows</option>
              <option>macOS</option>
            </select>
          </FieldBox>
        </div>
        <FieldBox field="description" label="Description" error={errors.description}>
          <input id="component-description" name="description" value={draft.description} onChange={set('description')} aria-invalid={errors.description ? true : undefined} aria-describedby={describedBy('description')} />
        </FieldBox>
        <FieldBox field="changeDescription" label="Change description" error={errors.changeDescription}>
          <input
            id="component-changeDescription"
            name="changeDescription"
            value={draft.changeDescription}
            onChange={set('changeDescription')}
            aria-invalid={errors.changeDescription ? true : undefined}
            aria-describedby={describedBy('changeDescription')}
          />
        </FieldBox>
        <div className="res-field">
          <label htmlFor="component-data">Document (YAML)</label>
          <textarea
            id="component-data"
            name="data"
            className="res-yaml"
            spellCheck={false}
            rows={18}
            value={draft.data}
            onChange={set('data')}
            aria-invalid={docInvalid ? true : undefined}
            aria-describedby={docInvalid || validated ? errorId('data') : undefined}
          />
        </div>
        <div aria-live="polite">
          {docInvalid ? (
            <span className="field-error res-problems" id={errorId('data')}>
              <span>The document has {docIssues.length === 1 ? '1 problem' : `${docIssues.length} problems`}:</span>
              {docIssues.map((i, n) => (
                <span key={n} className="res-problem">
                  <code>{i.path}</code>: {i.message}
                </span>
              ))}
            </span>
          ) : validated ? (
            <span className="ok" id={errorId('data')}>
              The document is valid.
            </span>
          ) : null}
        </div>
        {formError !== undefined && <ErrorNote error={formError} action="Create" />}
        <div className="actions">
          <button type="button" disabled={busy !== undefined} onClick={() => void validate()}>
            {busy === 'validate' ? 'Validating…' : 'Validate'}
          </button>
          <button type="submit" disabled={busy !== undefined}>
            {busy === 'create' ? 'Creating…' : 'Create'}
          </button>
        </div>
      </form>
    </article>
  );
}
