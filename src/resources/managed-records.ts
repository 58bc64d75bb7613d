/**
 * The records Kiln keeps as AWS's (owner `aws`: the managed bases, workflows and components), made at engine start
 * in every region. Several Kiln processes may share one store and start at once: whichever creates a record first
 * wins, and the others take the stored one.
 */
import { KilnError } from '../domain/errors.js';
import type { JsonObject } from '../domain/json.js';
import type { ResourceRecord, Store } from '../store/store.js';
import { versionedArn } from '../store/versioned.js';
import { KILN_MANAGED_OWNER } from '../store/visibility.js';

/** One managed record, as build 1 of its version. */
export interface ManagedRecord {
  region: string;
  type: string;
  name: string;
  version: string;
  data: JsonObject;
}

export interface EnsureManagedOptions {
  /** Any stored version of the name counts (the managed bases, versioned by the date they were first made). */
  anyVersion?: boolean;
  /** The fields to update on the stored record, or undefined when it is up to date. */
  refresh?: (stored: ResourceRecord) => JsonObject | undefined;
}

/** Creates the record unless one of its name (and version) is stored; a stored one is updated with what `refresh` answers. */
export async function ensureManagedRecord(store: Store, record: ManagedRecord, options: EnsureManagedOptions = {}): Promise<void> {
  const { region, type, name, version } = record;
  const [stored] = await store.listResources({ accountId: KILN_MANAGED_OWNER, region, type, name, ...(options.anyVersion ? {} : { version }) });
  if (stored) {
    const patch = options.refresh?.(stored);
    if (patch) await store.updateResource(stored.arn, (current) => ({ ...current.data, ...patch }));
    return;
  }
  await store.createResource({ accountId: KILN_MANAGED_OWNER, region, type, name, version, arn: versionedArn(region, KILN_MANAGED_OWNER, type, name, version), build: 'first', data: record.data }).catch((err: unknown) => {
    // Another Kiln process on the same store registered it first.
    if (!(err instanceof KilnError && err.kind === 'AlreadyExists')) throw err;
  });
}
