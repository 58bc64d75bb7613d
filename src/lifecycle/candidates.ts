/**
 * The Store's records as lifecycle evaluation sees them: image build versions with their output machine images,
 * and lifecycle policies.
 */
import type { ImageStatus } from '../domain/image-state.js';
import type { ResourceRecord, Store } from '../store/store.js';
import type { AmiFacts, CandidateImage, PolicyView } from './evaluate.js';
import type { JsonObject } from '../domain/json.js';

const MACHINE_IMAGE_TYPE = 'machine-image';

const obj = (v: unknown): JsonObject => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : {});
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);

/** A machine image record (src/builder/machine/machine-images.ts) as AMI exclusion rules see it. */
export function amiFactsOf(record: ResourceRecord): AmiFacts {
  const d = record.data;
  const launch = obj(d.launchPermission);
  return {
    amiId: String(d.amiId ?? record.name),
    accountId: record.accountId,
    region: record.region,
    isPublic: strings(launch.userGroups).includes('all'),
    sharedAccounts: strings(launch.userIds),
    tags: obj(d.tags) as Record<string, string>,
  };
}

/** The machine images registered from one image build, in every account and region it was distributed to. */
export async function machineImagesOf(store: Store, imageArn: string): Promise<ResourceRecord[]> {
  return (await store.listResourcesOfType(MACHINE_IMAGE_TYPE)).filter((r) => r.data.sourceImageArn === imageArn);
}

/** An image record as a candidate, with the facts of its machine images. */
export function candidateOf(record: ResourceRecord, amis: readonly ResourceRecord[]): CandidateImage {
  const d = record.data;
  return {
    arn: record.arn,
    name: String(d.name ?? record.name),
    slug: record.name,
    version: record.version,
    build: record.build,
    type: d.type === 'AMI' ? 'AMI' : 'DOCKER',
    status: (obj(d.state).status ?? 'AVAILABLE') as ImageStatus,
    dateCreated: new Date(String(d.dateCreated ?? record.createdAt)),
    tags: obj(d.tags) as Record<string, string>,
    amis: amis.map(amiFactsOf),
  };
}

/** Every image of an account in a region, as candidates of a policy there. */
export async function loadCandidates(store: Store, accountId: string, region: string): Promise<CandidateImage[]> {
  const images = await store.listResources({ accountId, region, type: 'image' });
  const bySource = new Map<string, ResourceRecord[]>();
  for (const mi of await store.listResourcesOfType(MACHINE_IMAGE_TYPE)) {
    const source = String(mi.data.sourceImageArn ?? '');
    bySource.set(source, [...(bySource.get(source) ?? []), mi]);
  }
  return images.map((r) => candidateOf(r, bySource.get(r.arn) ?? []));
}

/** A stored lifecycle policy as evaluation reads it. */
export function policyViewOf(record: ResourceRecord): PolicyView {
  const d = record.data;
  return {
    resourceType: d.resourceType === 'CONTAINER_IMAGE' ? 'CONTAINER_IMAGE' : 'AMI_IMAGE',
    policyDetails: (Array.isArray(d.policyDetails) ? d.policyDetails : []) as PolicyView['policyDetails'],
    resourceSelection: obj(d.resourceSelection) as PolicyView['resourceSelection'],
  };
}
