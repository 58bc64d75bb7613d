/**
 * Kiln's machine images, the AMI equivalent: a registered disk with an `ami-` + 17 hex id per region and
 * account, with a name, description, tags and launch permissions. They live in the Store as resources of type
 * `machine-image` under EC2-style ARNs; launch permissions are resource grants (an account id, or `*` for the
 * group `all`), so the same visibility rules as for shared Image Builder resources decide who may use them.
 */
import { randomBytes } from 'node:crypto';
import { KilnError } from '../../domain/errors.js';
import type { ResourceRecord, Store } from '../../store/store.js';
import type { ContainerImageRef } from '../stages/image-record.js';
import type { MachineDisk } from './machine-disk.js';

export const MACHINE_IMAGE_TYPE = 'machine-image';
const AMI_ID_RE = /^ami-[0-9a-f]{17}$/;

/** A machine image as stored. */
export interface MachineImageData {
  amiId: string;
  name: string;
  description?: string;
  tags: Record<string, string>;
  /** The Image Builder image build it came from. */
  sourceImageArn: string;
  disk: MachineDisk;
  /** The root filesystem as OCI layers, when the build kept them (ns builds): later ns builds start from it. */
  rootfs?: ContainerImageRef;
  launchPermission: { userIds: string[]; userGroups: string[] };
  creationDate: string;
  state: 'available';
}

export function isAmiId(text: string): boolean {
  return AMI_ID_RE.test(text);
}

export function newAmiId(): string {
  return `ami-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

export function machineImageArn(region: string, accountId: string, amiId: string): string {
  return `arn:aws:ec2:${region}:${accountId}:image/${amiId}`;
}

export function machineImageData(record: ResourceRecord): MachineImageData {
  return record.data as unknown as MachineImageData;
}

/** What a new machine image needs. */
export interface NewMachineImage {
  accountId: string;
  region: string;
  name: string;
  description?: string;
  tags?: Record<string, string>;
  sourceImageArn: string;
  disk: MachineDisk;
  rootfs?: ContainerImageRef;
  launchPermission?: { userIds?: string[]; userGroups?: string[] };
}

/**
 * Registers a machine image and its launch permissions. InvalidArgument when the account already has a machine
 * image of that name in the region (EC2's rule; `{{ imagebuilder:buildDate }}` in a name template avoids it).
 */
export async function registerMachineImage(store: Store, input: NewMachineImage): Promise<ResourceRecord> {
  const existing = await store.listResources({ accountId: input.accountId, region: input.region, type: MACHINE_IMAGE_TYPE });
  if (existing.some((r) => machineImageData(r).name === input.name)) {
    throw new KilnError('InvalidArgument', `amiDistributionConfiguration.name: account ${input.accountId} already has a machine image named "${input.name}" in ${input.region}; add {{ imagebuilder:buildDate }} to the name`);
  }
  const amiId = newAmiId();
  const launchPermission = { userIds: [...(input.launchPermission?.userIds ?? [])], userGroups: [...(input.launchPermission?.userGroups ?? [])] };
  const data: MachineImageData = {
    amiId,
    name: input.name,
    ...(input.description ? { description: input.description } : {}),
    tags: input.tags ?? {},
    sourceImageArn: input.sourceImageArn,
    disk: input.disk,
    ...(input.rootfs ? { rootfs: input.rootfs } : {}),
    launchPermission,
    creationDate: new Date().toISOString(),
    state: 'available',
  };
  const arn = machineImageArn(input.region, input.accountId, amiId);
  const { record } = await store.createResource({ accountId: input.accountId, region: input.region, type: MACHINE_IMAGE_TYPE, name: amiId, version: '', arn, build: 'none', data: data as unknown as Record<string, unknown> });
  const grantees = [...launchPermission.userIds, ...(launchPermission.userGroups.includes('all') ? ['*'] : [])];
  if (grantees.length > 0) await store.putResourcePolicy(arn, JSON.stringify({ launchPermission }), grantees);
  return record;
}

/**
 * The machine image `amiId` as `accountId` may use it in `region`: its own, or one whose launch permissions name
 * the account or the group all. Undefined otherwise (EC2 does not tell an unknown id from a forbidden one).
 */
export async function findMachineImage(store: Store, accountId: string, region: string, amiId: string): Promise<ResourceRecord | undefined> {
  if (!isAmiId(amiId)) return undefined;
  const own = await store.getResource(machineImageArn(region, accountId, amiId));
  if (own) return own;
  const granted = await store.listGrantedResources({ grantee: accountId, region, type: MACHINE_IMAGE_TYPE });
  return granted.find((r) => r.name === amiId);
}

/** Every machine image `accountId` may use in `region`: its own first, then those shared with it. */
export async function listUsableMachineImages(store: Store, accountId: string, region: string): Promise<ResourceRecord[]> {
  const own = await store.listResources({ accountId, region, type: MACHINE_IMAGE_TYPE });
  const granted = await store.listGrantedResources({ grantee: accountId, region, type: MACHINE_IMAGE_TYPE });
  return [...own, ...granted];
}
