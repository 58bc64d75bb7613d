/**
 * What `kiln images verify` checks a container image with: for each of its URIs in Kiln's built-in registry, the
 * signature layers of the `sha256-<hex>.sig` manifest beside it, and the account's public key. (Signatures in
 * external registries are theirs to serve; skopeo and podman check those.) imageVerification sends a machine
 * image to machine-verify.ts.
 */
import { SIGNATURE_ANNOTATION, signatureTag, SIMPLE_SIGNING_MEDIA_TYPE, type ContainerVerificationInput } from '../../domain/image-signatures.js';
import { KilnError, isKilnError } from '../../domain/errors.js';
import type { BlobStore } from '../../artifacts/blob-store.js';
import type { BuiltinRegistry } from '../../registry/server/builtin-registry.js';
import { accountSigningKey } from '../../store/account-signing-key.js';
import type { ResourceRecord, Store } from '../../store/store.js';
import type { ContainerImageRef } from './image-record.js';
import { resolveImageArn, type Requester } from './build-plan.js';
import type { DiskStore } from '../../artifacts/disk/disk-store.js';
import { machineVerification, type MachineVerification } from '../machine/machine-verify.js';

export interface ContainerVerifyDeps {
  store: Store;
  blobs: BlobStore;
  builtin: BuiltinRegistry;
  /** `host:port` of Kiln's own registry as clients reach it. */
  registryHost: () => string;
}

/** The verification materials of a container image record the caller may read. */
export async function containerVerification(deps: ContainerVerifyDeps, record: ResourceRecord): Promise<ContainerVerificationInput & { kind: 'container' }> {
  const built = record.data.containerImage as ContainerImageRef | undefined;
  if (!built) throw new KilnError('InvalidArgument', `image: ${record.arn} has no stored container image`);
  const prefix = `${deps.registryHost()}/`;
  const containers = ((record.data.outputResources as { containers?: { imageUris?: string[] }[] } | undefined)?.containers ?? []).flatMap((c) => c.imageUris ?? []);
  const uris = [...new Set(containers.filter((u) => u.startsWith(prefix)))];
  const places = [];
  for (const uri of uris) {
    const repository = uri.slice(prefix.length, uri.lastIndexOf(':'));
    places.push({ uri, signatures: await signaturesIn(deps, record.accountId, repository, signatureTag(built.manifestDigest)) });
  }
  const key = await accountSigningKey(deps.store, record.accountId);
  return { kind: 'container', imageArn: record.arn, accountId: record.accountId, publicKeyPem: key.publicKeyPem, manifestDigest: built.manifestDigest, places };
}

async function signaturesIn(deps: ContainerVerifyDeps, accountId: string, repository: string, tag: string): Promise<{ payload: string; signature: string }[]> {
  let digest: string;
  try {
    digest = (await deps.builtin.resolve({ accountId, repository, reference: tag })).manifestDigest;
  } catch (err) {
    if (isKilnError(err, 'NotFound') || (err as { code?: unknown }).code === 'MANIFEST_UNKNOWN') return [];
    throw err;
  }
  const manifest = JSON.parse((await deps.blobs.get(digest)).toString('utf8')) as { layers?: { mediaType?: string; digest?: string; annotations?: Record<string, string> }[] };
  const out = [];
  for (const l of manifest.layers ?? []) {
    const signature = l.annotations?.[SIGNATURE_ANNOTATION];
    if (l.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE || !l.digest || !signature) continue;
    out.push({ payload: (await deps.blobs.get(l.digest)).toString('base64'), signature });
  }
  return out;
}

/** The materials `kiln images verify IMAGE` judges: a container image's by its ARN, else a machine image's (ARN or ami-). */
export async function imageVerification(
  deps: ContainerVerifyDeps & { disks: DiskStore },
  who: Requester,
  requested: string,
  signal: AbortSignal,
): Promise<MachineVerification | (ContainerVerificationInput & { kind: 'container' })> {
  if (requested.startsWith('arn:')) {
    const record = await resolveImageArn(deps.store, who, requested);
    if (record.data.type !== 'AMI') return containerVerification(deps, record);
  }
  return machineVerification(deps, who, requested, signal);
}
