import type { ResourceRecord, Store } from './store.js';

/**
 * Who may read what. Reads follow AWS's sharing model: a resource is visible to its owner, to the accounts its
 * resource policy grants (or to everyone through `*`), and, for Kiln-managed resources, to every account.
 * Writes (Delete, Put*Policy) are never granted: they stay with the owner.
 */

/**
 * Whom a read is for: the calling account in its region. A service RequestContext is one; a build reads as the
 * account and region of its image, without pretending to be a request.
 */
export interface Caller {
  accountId: string;
  region: string;
}

/** Owner of the resources Kiln itself provides (AWS's `aws` owner), readable by every account. */
export const KILN_MANAGED_OWNER = 'aws';

/** True when the caller's account may read the record: its own, Kiln-managed, or granted by a resource policy. */
export async function canRead(store: Store, ctx: Caller, record: ResourceRecord): Promise<boolean> {
  if (record.region !== ctx.region) return false;
  if (record.accountId === ctx.accountId || record.accountId === KILN_MANAGED_OWNER) return true;
  const granted = await store.listGrantedResources({ grantee: ctx.accountId, region: ctx.region, type: record.type });
  return granted.some((r) => r.arn === record.arn);
}

/** The records among `records` the caller may read, in their order; one grant lookup per resource type. */
export async function readableRecords(store: Store, ctx: Caller, records: readonly ResourceRecord[]): Promise<ResourceRecord[]> {
  const grantedArns = new Map<string, Promise<Set<string>>>();
  const granted = (type: string) => {
    let arns = grantedArns.get(type);
    if (!arns) {
      arns = store.listGrantedResources({ grantee: ctx.accountId, region: ctx.region, type }).then((rs) => new Set(rs.map((r) => r.arn)));
      grantedArns.set(type, arns);
    }
    return arns;
  };
  const out: ResourceRecord[] = [];
  for (const r of records) {
    if (r.region !== ctx.region) continue;
    if (r.accountId === ctx.accountId || r.accountId === KILN_MANAGED_OWNER || (await granted(r.type)).has(r.arn)) out.push(r);
  }
  return out;
}

/**
 * The records of one name under `owner` that the caller may read: all of them for its own or Kiln-managed
 * names, only the granted ones for another account's, so that wildcards resolve among what was shared.
 */
export async function readableVersions(store: Store, ctx: Caller, query: { owner: string; type: string; name: string; version?: string }): Promise<ResourceRecord[]> {
  const records = await store.listResources({ accountId: query.owner, region: ctx.region, type: query.type, name: query.name, ...(query.version === undefined ? {} : { version: query.version }) });
  if (query.owner === ctx.accountId || query.owner === KILN_MANAGED_OWNER) return records;
  return readableRecords(store, ctx, records);
}

/** Resources of one type listed under an owner view: Self, Shared (granted by others), Amazon (Kiln-managed); the rest have none. */
export async function listByOwnerView(store: Store, ctx: Caller, owner: string, type: string): Promise<ResourceRecord[]> {
  switch (owner) {
    case 'Self':
      return store.listResources({ accountId: ctx.accountId, region: ctx.region, type });
    case 'Shared':
      return store.listGrantedResources({ grantee: ctx.accountId, region: ctx.region, type });
    case 'Amazon':
      return store.listResources({ accountId: KILN_MANAGED_OWNER, region: ctx.region, type });
    default:
      // ThirdParty and AWSMarketplace: Kiln has no marketplace, so nobody publishes there.
      return [];
  }
}
