/**
 * The parent of an image recipe, resolved at build time: a Kiln image build of type AMI (own, shared or a
 * Kiln-managed base, wildcards allowed) or a machine image id the building account may launch. A parent gives
 * its root filesystem as OCI layers (what the ns driver starts from) and/or its disk (what a VM boots).
 */
import type { ResourceRecord, Store } from '../../store/store.js';
import { KilnError } from '../../domain/errors.js';
import { resolveImageArn, type Requester } from '../stages/build-plan.js';
import { recipeOf, type BuildPlan, type ContainerImageRef } from '../stages/image-record.js';
import type { MachineDisk } from './machine-disk.js';
import { findMachineImage, machineImageData } from './machine-images.js';
import type { OutputSink } from '../../logs/line-assembler.js';

/** What an AMI image record keeps about its output (data.machine). */
export interface MachineOutput {
  rootfs?: ContainerImageRef;
  disk?: MachineDisk;
}

export function machineOutputOf(record: ResourceRecord): MachineOutput {
  return (record.data.machine as MachineOutput | undefined) ?? {};
}

export interface MachineParent {
  plan: BuildPlan['parent'];
  /** The image build record behind the parent (for a machine image id: the build that made it), if known. */
  image: ResourceRecord | undefined;
  rootfs: ContainerImageRef | undefined;
  disk: MachineDisk | undefined;
}

/** Whether the parent is an image made by ImportVmImage (vm-import.ts): a disk with no guest agent of Kiln's. */
export function isImportedParent(parent: MachineParent): boolean {
  return parent.image?.data.imageSource === 'IMPORTED';
}

/** Materialises the root filesystem of a Kiln-managed base (bootstrapped on first use). */
export type ManagedRootfs = (record: ResourceRecord, signal: AbortSignal, log: OutputSink) => Promise<ContainerImageRef>;

/** Compiles the recipe's parentImage of a machine-image build of `image` from store reads. */
export function compileMachineParent(store: Store, image: ResourceRecord): Promise<MachineParent> {
  return compileMachineRef(store, image, String(recipeOf(image).parentImage ?? ''), 'parentImage');
}

/**
 * Resolves a machine image as `who` names it, from store reads: an AMI image ARN (wildcards allowed) it may
 * read, or a machine image id it may launch. InvalidArgument (naming `field`) otherwise. A managed base not
 * bootstrapped yet has neither root filesystem nor disk, and '' as its plan digest, until materialized.
 */
export async function compileMachineRef(store: Store, who: Requester, requested: string, field: string): Promise<MachineParent> {
  if (requested.startsWith('arn:')) {
    const record = await resolveImageArn(store, who, requested);
    if (record.data.type !== 'AMI') throw new KilnError('InvalidArgument', `${field} ${requested} resolves to ${record.arn}, which is a container image, not a machine image`);
    const managedBase = record.accountId === 'aws';
    const out = machineOutputOf(record);
    const digest = out.rootfs?.manifestDigest ?? (managedBase ? '' : (out.disk?.digest ?? ''));
    return { plan: { requested, resolved: record.arn, manifestDigest: digest, source: managedBase ? 'managed' : 'image' }, image: record, rootfs: out.rootfs, disk: out.disk };
  }
  // Any ami- id is looked up, so one of EC2's shorter ids is answered as unknown rather than as a wrong shape.
  if (requested.startsWith('ami-')) {
    const mi = await findMachineImage(store, who.accountId, who.region, requested);
    if (!mi) throw new KilnError('InvalidArgument', `${field} ${requested} is not a machine image that account ${who.accountId} may launch in ${who.region}`);
    const data = machineImageData(mi);
    const source = await store.getResource(data.sourceImageArn);
    // A root filesystem read later from the disk of a vm-built image is remembered on its image build.
    const rootfs = data.rootfs ?? (source ? machineOutputOf(source).rootfs : undefined);
    return { plan: { requested, resolved: requested, manifestDigest: rootfs?.manifestDigest ?? data.disk.digest, source: 'image' }, image: source, rootfs, disk: data.disk };
  }
  throw new KilnError('InvalidArgument', `${field} ${requested}: Kiln builds machine images from Kiln image ARNs (…:image/<name>/x.x.x) and machine image ids (ami-…); SSM parameters are not available locally`);
}

/**
 * Makes a managed base's root filesystem present (bootstrapped on first use, or again when its blobs were
 * collected) and pins it into the parent's plan entry; other parents are already concrete.
 */
export async function materializeMachineParent(parent: MachineParent, managed: ManagedRootfs, signal: AbortSignal, log: OutputSink): Promise<MachineParent> {
  if (parent.plan.source !== 'managed' || !parent.image) return parent;
  const rootfs = await managed(parent.image, signal, log);
  return { ...parent, rootfs, plan: { ...parent.plan, manifestDigest: rootfs.manifestDigest } };
}

/** Compiles and materializes a machine image reference at once (`kiln instances launch`, disk exports). */
export async function resolveMachineRef(store: Store, who: Requester, requested: string, managed: ManagedRootfs, signal: AbortSignal, log: OutputSink, field: string): Promise<MachineParent> {
  return materializeMachineParent(await compileMachineRef(store, who, requested, field), managed, signal, log);
}
