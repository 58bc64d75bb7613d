/**
 * The step cache's keys (ADR 0013): a chain of sha256s, one per build unit, each over the previous key and the
 * unit's own inputs, so a unit's key covers everything before it. Pure: no store, no I/O.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../artifacts/oci/image.js';
import type { BuildPlan } from '../stages/image-record.js';

/** Bumped when the meaning of a unit's result changes (what a layer holds, how history is kept). */
export const STEP_CACHE_FORMAT = 1;

function hashOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/**
 * The key every unit of a build chains from. The account keeps tenants' caches apart (a key never names
 * another account's layer, whatever it can guess); the parent's pinned digest, the platform and the working
 * directory components run in decide what the first unit starts from; `kind` keeps a container's chain and a
 * machine root filesystem's apart (their units run with different instances and phases).
 */
export function chainBase(input: { accountId: string; kind: 'container' | 'machine'; plan: BuildPlan }): string {
  const { plan } = input;
  if (!plan.parent.manifestDigest) throw new Error('the step cache needs a pinned parent (materialize it first)');
  return hashOf({
    format: STEP_CACHE_FORMAT,
    account: input.accountId,
    kind: input.kind,
    parent: plan.parent.manifestDigest,
    platform: plan.platform ?? 'Linux',
    workingDirectory: plan.recipe?.workingDirectory ?? '/tmp',
  });
}

/** What decides one unit's result besides everything before it. */
export type UnitInputs =
  | { unit: 'dockerfile'; lines: string[] }
  | { unit: 'component'; arn: string; sha256: string; parameters: Record<string, string>; phases: string[]; env: Record<string, string>; workdir: string; user: string }
  | { unit: 'disk'; layers: string[]; sizeMiB: number | null };

/** The key of a unit that follows `previous`. */
export function chainKey(previous: string, inputs: UnitInputs): string {
  return hashOf({ previous, inputs });
}

/** The key of a component unit: its build (ARN and document hash) and the parameter values AWSTOE gets. */
export function componentInputs(component: BuildPlan['components'][number], phases: string[], at: { env: Record<string, string>; workdir: string; user: string }): UnitInputs {
  return { unit: 'component', arn: component.arn, sha256: component.sha256, parameters: component.parameters, phases, ...at };
}
