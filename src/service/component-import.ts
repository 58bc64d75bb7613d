import { stringify } from 'yaml';
import { KilnError, validationError, type Issue } from '../domain/errors.js';
import type { Store } from '../store/store.js';
import { componentHandlers } from './components.js';
import type { OperationHandler } from './types.js';
import { str } from '../domain/json.js';

const TYPES = new Set(['BUILD', 'TEST']);
const FORMATS = new Set(['SHELL']);
/** CreateComponent's limit on inline documents, which the wrapped script must fit as well. */
const MAX_DATA = 16000;


/**
 * Wraps a shell script in an AWSTOE document with one step that runs it, in the `build` phase for a BUILD
 * component and the `test` phase for a TEST one (the phase is what makes CreateComponent derive the type).
 * Windows runs scripts through PowerShell, the only shell AWSTOE has there.
 */
export function wrapShellScript(script: string, options: { type: 'BUILD' | 'TEST'; platform: string; description?: string }): string {
  const action = options.platform === 'Windows' ? 'ExecutePowerShell' : 'ExecuteBash';
  const phase = options.type === 'TEST' ? 'test' : 'build';
  const document = {
    name: 'ImportedShellScript',
    ...(options.description === undefined ? {} : { description: options.description }),
    schemaVersion: 1.0,
    phases: [{ name: phase, steps: [{ name: 'RunScript', action, inputs: { commands: [script] } }] }],
  };
  // The block style keeps the script readable in GetComponent's `data`, line for line as it was sent; the
  // version is written `1.0` as in AWS's documents (YAML would print the number as `1`). Other top-level
  // text is indented, so the anchored match can only be the key itself.
  return stringify(document, { blockQuote: 'literal', lineWidth: 0 }).replace(/^schemaVersion: 1$/m, 'schemaVersion: 1.0');
}

function checkImport(input: Record<string, unknown>): Issue[] {
  const issues: Issue[] = [];
  if (!TYPES.has(str(input.type) ?? '')) issues.push({ path: 'type', message: `must be BUILD or TEST, got '${String(input.type)}'` });
  if (!FORMATS.has(str(input.format) ?? '')) issues.push({ path: 'format', message: `must be SHELL (the only import format), got '${String(input.format)}'` });
  const data = str(input.data);
  if (data === undefined) issues.push({ path: 'data', message: "is required: the shell script to import (or 'uri')" });
  else if (data.trim() === '') issues.push({ path: 'data', message: 'is an empty script' });
  else if (data.length > MAX_DATA) issues.push({ path: 'data', message: `is ${data.length} characters; the limit is ${MAX_DATA}` });
  return issues;
}

/**
 * ImportComponent: converts the script into a component document, then creates it through CreateComponent,
 * so versions, ARNs, validation and clientToken idempotency are the same as for any component.
 */
function importComponent(store: Store): OperationHandler {
  const createComponent = componentHandlers(store).CreateComponent!;
  return async (input, ctx) => {
    if (input.data !== undefined && input.uri !== undefined) {
      throw new KilnError('InvalidCombination', "The parameters 'data' and 'uri' are mutually exclusive; send exactly one.");
    }
    if (input.uri !== undefined) {
      throw new KilnError('InvalidArgument', "Kiln does not fetch imported scripts by 'uri' yet; send the script inline as 'data'.");
    }
    const issues = checkImport(input);
    if (issues.length > 0) throw validationError('The imported component', issues);
    const document = wrapShellScript(input.data as string, { type: input.type as 'BUILD' | 'TEST', platform: str(input.platform) ?? '', description: str(input.description) });
    if (document.length > MAX_DATA) {
      throw validationError('The imported component', [{ path: 'data', message: `wrapped in a component document the script is ${document.length} characters; the limit is ${MAX_DATA}` }]);
    }
    const { type: _type, format: _format, data: _data, uri: _uri, ...rest } = input;
    // ctx.operation stays ImportComponent, so its client tokens never collide with CreateComponent's.
    const created = await createComponent({ ...rest, data: document }, ctx);
    return { clientToken: created.clientToken, componentBuildVersionArn: created.componentBuildVersionArn };
  };
}

/** ImportComponent, for `format: SHELL` scripts given inline. */
export function componentImportHandlers(store: Store): Record<string, OperationHandler> {
  return { ImportComponent: importComponent(store) };
}
