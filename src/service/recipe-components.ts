import type { Issue } from '../domain/errors.js';
import type { Store } from '../store/store.js';
import { resolveComponentRef } from '../store/component-refs.js';
import { MAX_COMPONENTS } from './recipe-input.js';
import type { RequestContext } from './types.js';

interface ComponentConfiguration {
  componentArn: string;
  parameters?: { name: string; value: string[] }[];
}

/** What checking a recipe's component list found: every issue, and the platform the components share. */
export interface ComponentCheck {
  issues: Issue[];
  platform?: string;
}

/**
 * Checks a recipe's `components` against the store as it is now: each ARN designates a component the caller
 * may use, each parameter is one its document declares (once), there is a build component, and all of them
 * are for one platform. ARNs are kept as written, so wildcards resolve again at build time.
 */
export async function checkRecipeComponents(store: Store, ctx: RequestContext, value: unknown): Promise<ComponentCheck> {
  const list = (Array.isArray(value) ? value : []) as ComponentConfiguration[];
  const issues: Issue[] = [];
  if (list.length === 0) return { issues: [{ path: 'components', message: 'must list at least one build component' }] };
  if (list.length > MAX_COMPONENTS) issues.push({ path: 'components', message: `has ${list.length} components; the limit is ${MAX_COMPONENTS}` });
  let platform: string | undefined;
  let hasBuild = false;
  for (const [i, c] of list.entries()) {
    const found = await resolveComponentRef(store, ctx, c.componentArn);
    if (typeof found === 'string') {
      issues.push({ path: `components[${i}].componentArn`, message: `${c.componentArn} ${found}` });
      continue;
    }
    const data = found.data as { type?: string; platform?: string; parameters?: { name: string }[] };
    hasBuild ||= data.type === 'BUILD';
    if (platform === undefined) platform = data.platform;
    else if (data.platform !== platform) issues.push({ path: `components[${i}].componentArn`, message: `is a ${data.platform} component; the components before it are for ${platform}` });
    const declared = new Set((data.parameters ?? []).map((p) => p.name));
    const seen = new Set<string>();
    (c.parameters ?? []).forEach((p, j) => {
      const path = `components[${i}].parameters[${j}].name`;
      if (!declared.has(p.name)) {
        const known = declared.size === 0 ? 'it declares no parameters' : `it declares ${[...declared].join(', ')}`;
        issues.push({ path, message: `'${p.name}' is not a parameter of ${found.arn}; ${known}` });
      } else if (seen.has(p.name)) issues.push({ path, message: `'${p.name}' is given more than once` });
      seen.add(p.name);
    });
  }
  if (!hasBuild && issues.length === 0) issues.push({ path: 'components', message: 'must include at least one build component; every listed component is a test component' });
  return { issues, ...(platform === undefined ? {} : { platform }) };
}
