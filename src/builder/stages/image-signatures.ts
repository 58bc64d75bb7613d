/**
 * Signs a distributed container image where it was put: one sigstore signature per tag (`host/repository:tag`,
 * the reference a verifier's default policy matches a tag pull with), all in the manifest tagged
 * `sha256-<hex>.sig` in the same repository, pushed to the external registry or tagged in Kiln's own. Signatures
 * already there for other references (an earlier distribution of the same digest) are kept. Machine images get a
 * detached signature over their disk's digest instead, kept on the image record.
 */
import type { BlobStore } from '../../artifacts/blob-store.js';
import { errorMessage, isKilnError } from '../../domain/errors.js';
import { diskStatement, readSimpleSigningPayload, SIGNATURE_ANNOTATION, signatureManifest, signatureTag, signPayload, simpleSigningPayload, SIMPLE_SIGNING_MEDIA_TYPE, type DiskSignature, type SignatureLayer } from '../../domain/image-signatures.js';
import type { RegistryClient } from '../../registry/client/registry-client.js';
import type { BuiltinRegistry } from '../../registry/server/builtin-registry.js';
import { accountSigningKey } from '../../store/account-signing-key.js';
import type { SigningKeys } from '../../store/roles/signing-keys.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export interface SignerDeps {
  blobs: BlobStore;
  client: RegistryClient;
  builtin: BuiltinRegistry;
  signingKeys: SigningKeys;
}

/** Where the signed image was put: a repository of an external registry, or of Kiln's built-in one. */
export type SignedPlace = { kind: 'external'; registry: string; repository: string } | { kind: 'builtin'; host: string; repository: string };

/** Signs `manifestDigest` as `place` with each of `tags`, for the account's key; returns the signature tag's reference. */
export async function signDistributedImage(
  deps: SignerDeps,
  accountId: string,
  manifestDigest: string,
  place: SignedPlace,
  tags: readonly string[],
  log: (text: string) => void,
  signal: AbortSignal,
): Promise<string> {
  const key = await accountSigningKey(deps.signingKeys, accountId);
  const host = place.kind === 'external' ? place.registry : place.host;
  const references = tags.map((tag) => `${host}/${place.repository}:${tag}`);
  const fresh: SignatureLayer[] = references.map((ref) => {
    const payload = simpleSigningPayload(ref, manifestDigest);
    return { payload, signature: signPayload(key.privateKeyPem, payload) };
  });
  const sigTag = signatureTag(manifestDigest);
  const kept = (await existingLayers(deps, accountId, place, sigTag, log, signal)).filter((l) => {
    const claim = readSimpleSigningPayload(l.payload);
    return !claim || !references.includes(claim.dockerReference);
  });
  const { manifest, blobs } = signatureManifest([...kept, ...fresh]);
  for (const blob of blobs) await deps.blobs.put(blob);
  const manifestDigestOfSig = (await deps.blobs.put(manifest)).digest;
  const uri = `${host}/${place.repository}:${sigTag}`;
  if (place.kind === 'external') {
    await deps.client.push(deps.blobs, manifestDigestOfSig, { registry: place.registry, repository: place.repository, tag: sigTag }, { signal });
  } else {
    await deps.builtin.tag({ accountId, repository: place.repository, tag: sigTag, manifestDigest: manifestDigestOfSig, mediaType: OCI_MANIFEST });
  }
  log(`signed ${references.join(', ')} (${uri}${kept.length > 0 ? `, ${kept.length} earlier signatures kept` : ''})\n`);
  return uri;
}

/** The signature layers the tag holds now; none when it does not exist or cannot be read (said in the log). */
async function existingLayers(deps: SignerDeps, accountId: string, place: SignedPlace, sigTag: string, log: (text: string) => void, signal: AbortSignal): Promise<SignatureLayer[]> {
  let digest: string;
  try {
    digest =
      place.kind === 'external'
        ? (await deps.client.pull({ registry: place.registry, repository: place.repository, tag: sigTag }, deps.blobs, { signal })).manifestDigest
        : (await deps.builtin.resolve({ accountId, repository: place.repository, reference: sigTag })).manifestDigest;
  } catch (err) {
    if (signal.aborted) throw err;
    if (!isKilnError(err, 'NotFound') && (err as { code?: unknown }).code !== 'MANIFEST_UNKNOWN') {
      log(`could not read the earlier signatures (${errorMessage(err)}); writing only this distribution's\n`);
    }
    return [];
  }
  const manifest = JSON.parse((await deps.blobs.get(digest)).toString('utf8')) as { layers?: { mediaType?: string; digest?: string; annotations?: Record<string, string> }[] };
  const layers: SignatureLayer[] = [];
  for (const l of manifest.layers ?? []) {
    const signature = l.annotations?.[SIGNATURE_ANNOTATION];
    if (l.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE || !l.digest || !signature) continue;
    layers.push({ payload: await deps.blobs.get(l.digest), signature });
  }
  return layers;
}

/** The detached signature of a machine image's disk by the account's key, to keep on the image (`data.signature`). */
export async function signMachineDisk(signingKeys: SigningKeys, accountId: string, imageArn: string, diskDigest: string): Promise<DiskSignature> {
  const key = await accountSigningKey(signingKeys, accountId);
  const payload = diskStatement(imageArn, diskDigest);
  return { payload: payload.toString('base64'), signature: signPayload(key.privateKeyPem, payload), diskDigest };
}
