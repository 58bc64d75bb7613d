/**
 * The names that tie an ns instance's host resources to it: its scratch folder under the scratch root and its
 * cgroups are both `kiln-<instance id>`, so that a sweep after a crash finds them by name alone.
 */
import { randomBytes } from 'node:crypto';

const ID_RE = /^ns-[0-9a-f]{12}$/;
const RESOURCE_RE = /^kiln-(ns-[0-9a-f]{12})$/;

/** A fresh instance id, `ns-` and 12 hex digits. */
export function newInstanceId(): string {
  return `ns-${randomBytes(6).toString('hex')}`;
}

/** The name of an instance's scratch folder (under LaunchSpec.scratchRoot) and of each of its cgroups. */
export function resourceName(instanceId: string): string {
  if (!ID_RE.test(instanceId)) throw new Error(`not an ns instance id: ${instanceId}`);
  return `kiln-${instanceId}`;
}

/** The instance id a scratch folder or cgroup name belongs to, or undefined for any other name. */
export function instanceIdOf(name: string): string | undefined {
  return RESOURCE_RE.exec(name)?.[1];
}
