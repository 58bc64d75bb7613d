import type { Issue } from '../domain/errors.js';
import { actionModules } from '../toe/actions/registry.js';
import { validateDocumentText } from '../toe/document/validate.js';

/** What Image Builder reads out of a component document. */
export interface ComponentDocumentInfo {
  issues: Issue[];
  /** `TEST` when every phase is `test`, otherwise `BUILD`. */
  type: 'BUILD' | 'TEST';
  parameters: { name: string; type: string; defaultValue?: string[]; description?: string }[];
}

const modules = actionModules();

/** Checks a component document with the `kiln toe` validator; every problem is returned with its path. */
export function inspectComponentDocument(text: string): ComponentDocumentInfo {
  const { document, issues } = validateDocumentText(text, modules);
  if (!document) return { issues, type: 'BUILD', parameters: [] };
  const type = document.phases.every((p) => p.name === 'test') ? 'TEST' : 'BUILD';
  const parameters = document.parameters.map((p) => ({
    name: p.name,
    type: p.type,
    ...(p.default === undefined ? {} : { defaultValue: [p.default] }),
    ...(p.description === undefined ? {} : { description: p.description }),
  }));
  return { issues, type, parameters };
}
