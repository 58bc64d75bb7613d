import type { ActionModule } from './types.js';

/** Reboot: restarts the instance after `delaySeconds`; the runner resumes with the next step. */
export const reboot: ActionModule = {
  name: 'Reboot',
  platforms: ['linux', 'windows', 'macos'],
  inputShape: 'none',
  fields: { delaySeconds: { type: 'integer', default: 0 } },
  validate(inputs, path) {
    if (inputs === undefined || inputs === null) return [];
    if (typeof inputs !== 'object' || Array.isArray(inputs)) return [{ path, message: 'must be a map with delaySeconds' }];
    const issues = Object.keys(inputs)
      .filter((k) => k !== 'delaySeconds')
      .map((k) => ({ path: `${path}.${k}`, message: `unknown input "${k}"; expected delaySeconds` }));
    const d = (inputs as Record<string, unknown>).delaySeconds;
    if (d !== undefined && !(typeof d === 'string' && d.includes('{{')) && !/^\d+$/.test(String(d))) {
      issues.push({ path: `${path}.delaySeconds`, message: `must be a non-negative integer, got ${JSON.stringify(d)}` });
    }
    return issues;
  },
  run(inputs) {
    const d = (inputs as Record<string, unknown> | undefined)?.delaySeconds;
    return Promise.resolve({ outputs: {}, rebootNow: { delaySeconds: d === undefined ? 0 : Number(d) } });
  },
};
