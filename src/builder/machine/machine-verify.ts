/**
 * What `kiln images verify` checks a machine image with: the detached signature kept on its image record, the
 * account's public key, and the digest its stored disk has now (hashed again, not read from the record), so that
 * a disk changed or replaced in the disk store shows. The checking itself is the caller's (the CLI), which may
 * hold the public key from elsewhere.
 */
import { hashSparseFile, type DiskStore } from '../../artifacts/disk/disk-store.js';
import { KilnError } from '../../domain/errors.js';
import type { DiskSignature } from '../../domain/image-signatures.js';
import { accountSigningKey } from '../../store/account-signing-key.js';
import type { Store } from '../../store/store.js';
import type { Requester } from '../stages/build-plan.js';
import { compileMachineRef } from './machine-parent.js';

/** The materials of a machine image's verification, as the route answers them. */
export interface MachineVerification {
  kind: 'machine';
  imageArn: string;
  accountId: string;
  /** The account's public key (PEM). */
  publicKeyPem: string;
  /** Undefined for an image built before signing existed, or imported. */
  signature: DiskSignature | undefined;
  /** The digest of the stored disk as hashed now; undefined when the disk is no longer stored. */
  storedDiskDigest: string | undefined;
}

/** Gathers the verification materials of the machine image `who` names (AMI image ARN or ami- id). */
export async function machineVerification(deps: { store: Store; disks: DiskStore }, who: Requester, requested: string, signal: AbortSignal): Promise<MachineVerification> {
  const parent = await compileMachineRef(deps.store, who, requested, 'image');
  const record = parent.image;
  if (!record || record.accountId === 'aws') throw new KilnError('InvalidArgument', `image: ${requested} is a managed base, which Kiln does not sign`);
  const signature = record.data.signature as DiskSignature | undefined;
  const disk = parent.disk;
  let storedDiskDigest: string | undefined;
  if (disk && (await deps.disks.has(disk.digest))) {
    const lease = await deps.disks.acquire(disk.digest, signal);
    try {
      storedDiskDigest = await hashSparseFile(lease.path, signal);
    } finally {
      lease.release();
    }
  }
  const key = await accountSigningKey(deps.store, record.accountId);
  return { kind: 'machine', imageArn: record.arn, accountId: record.accountId, publicKeyPem: key.publicKeyPem, signature, storedDiskDigest };
}
