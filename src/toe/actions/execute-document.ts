import type { Issue } from '../../domain/errors.js';
import { isRecord } from './fields.js';
import { ActionFailure, type ActionModule } from './types.js';

/** ExecuteDocument: runs another component document (a path, s3:// URI or component ARN) with its own parameters. */
export const executeDocument: ActionModule = {
  name: 'ExecuteDocument',
  platforms: ['linux', 'windows', 'macos'],
  inputShape: 'object',
  fields: {
    document: { type: 'string', required: true },
    'document-s3-bucket-owner': { type: 'string' },
    phases: { type: 'string' },
    parameters: { type: 'any' },
  },
  validate(inputs, path) {
    const issues: Issue[] = [];
    if (!isRecord(inputs) || inputs.parameters === undefined) return issues;
    const params = inputs.parameters;
    if (!Array.isArray(params)) return [{ path: `${path}.parameters`, message: 'must be a list of {name, value} maps' }];
    params.forEach((p, i) => {
      if (!isRecord(p) || typeof p.name !== 'string' || p.value === undefined || Object.keys(p).some((k) => k !== 'name' && k !== 'value')) {
        issues.push({ path: `${path}.parameters[${i}]`, message: 'must be a map with exactly "name" and "value"' });
      }
    });
    return issues;
  },
  async run(inputs, context) {
    const { document, phases, parameters } = inputs as { document: string; phases?: string; parameters?: { name: string; value: unknown }[] };
    if (!context.runDocument) throw new ActionFailure('ExecuteDocument is not available in this context');
    const values: Record<string, string> = {};
    for (const p of parameters ?? []) values[p.name] = String(p.value);
    const result = await context.runDocument({
      document,
      phases: phases === undefined ? undefined : phases.split(',').map((p) => p.trim()).filter(Boolean),
      parameters: values,
    });
    if (result.status === 'Failed' || result.status === 'Cancelled') {
      throw new ActionFailure(`document ${document} ${result.status.toLowerCase()}: ${result.failureMessage ?? 'no message'}`);
    }
    return { outputs: { status: result.status }, detailedOutput: result.detailedOutput };
  },
};
