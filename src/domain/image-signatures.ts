/**
 * Image signatures, the parts that are only bytes and keys. Container images are signed in the sigstore format
 * (as cosign writes it and containers/image verifies it with a `sigstoreSigned` policy and registries.d
 * `use-sigstore-attachments: true`): a simple-signing payload naming the image's digest and the reference it is
 * pulled as, signed ECDSA-SHA256 (base64 DER), carried as a layer of an OCI manifest tagged `sha256-<hex>.sig`
 * beside the image. Machine images get a detached signature of the same kind over a statement of their disk's digest.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';

/** The media type of a signature layer; containers/image skips layers of any other type. */
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
/** The layer annotation holding the base64 signature of the layer's bytes. */
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** The payload `type` containers/image requires (its parser refuses any other). */
export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';

/** The tag a manifest's sigstore signatures live under in its repository: `sha256:abc…` → `sha256-abc….sig`. */
export function signatureTag(manifestDigest: string): string {
  return `${manifestDigest.replace(':', '-')}.sig`;
}

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/**
 * The simple-signing payload for `dockerReference` (`host/repository:tag`, the exact reference a verifier's
 * default `matchRepoDigestOrExact` compares a tag pull with) at `manifestDigest`. Verifiers check the signature
 * over these very bytes, so they are made once and stored as they are.
 */
export function simpleSigningPayload(dockerReference: string, manifestDigest: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': manifestDigest }, type: COSIGN_SIGNATURE_TYPE },
      optional: {},
    }),
  );
}

/** What a simple-signing payload claims; undefined when it is not one. */
export function readSimpleSigningPayload(payload: Buffer): { dockerReference: string; manifestDigest: string } | undefined {
  try {
    const parsed = JSON.parse(payload.toString('utf8')) as { critical?: { identity?: Record<string, unknown>; image?: Record<string, unknown>; type?: unknown } };
    const ref = parsed.critical?.identity?.['docker-reference'];
    const digest = parsed.critical?.image?.['docker-manifest-digest'];
    if (parsed.critical?.type !== COSIGN_SIGNATURE_TYPE || typeof ref !== 'string' || typeof digest !== 'string') return undefined;
    return { dockerReference: ref, manifestDigest: digest };
  } catch {
    return undefined;
  }
}

/** ECDSA-SHA256 over `payload` with a PEM private key: the base64 of the DER signature, as cosign writes it. */
export function signPayload(privateKeyPem: string, payload: Buffer): string {
  return sign('sha256', payload, createPrivateKey(privateKeyPem)).toString('base64');
}

/** Whether `signature` (base64 DER) is a valid ECDSA-SHA256 signature of `payload` by the PEM public key. */
export function verifyPayload(publicKeyPem: string, payload: Buffer, signature: string): boolean {
  try {
    return verify('sha256', payload, createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** One signature layer: its payload bytes and the base64 signature of them. */
export interface SignatureLayer {
  payload: Buffer;
  signature: string;
}

/**
 * The OCI manifest carrying `layers` as cosign lays it out (a config whose rootfs lists the payloads), and the
 * blobs it names: everything to store and push under `signatureTag(digest)`.
 */
export function signatureManifest(layers: readonly SignatureLayer[]): { manifest: Buffer; blobs: Buffer[] } {
  const digests = layers.map((l) => sha256(l.payload));
  const config = Buffer.from(
    JSON.stringify({
      architecture: '',
      config: {},
      created: '0001-01-01T00:00:00Z',
      history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
      os: '',
      rootfs: { type: 'layers', diff_ids: digests },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, size: config.byteLength, digest: sha256(config) },
      layers: layers.map((l, i) => ({ mediaType: SIMPLE_SIGNING_MEDIA_TYPE, size: l.payload.byteLength, digest: digests[i], annotations: { [SIGNATURE_ANNOTATION]: l.signature } })),
    }),
  );
  return { manifest, blobs: [config, ...layers.map((l) => l.payload)] };
}

/** The statement a machine image's detached signature covers: which image, and the digest of its disk. */
export function diskStatement(imageArn: string, diskDigest: string): Buffer {
  return Buffer.from(JSON.stringify({ critical: { identity: { 'image-arn': imageArn }, image: { 'disk-digest': diskDigest }, type: 'kiln machine image signature' }, optional: {} }));
}

/** What a machine image keeps of its detached signature (`data.signature` of the image record). */
export interface DiskSignature {
  /** The signed statement, base64 (diskStatement's bytes). */
  payload: string;
  /** ECDSA-SHA256 of the statement by the account's key, base64 DER. */
  signature: string;
  diskDigest: string;
}

/** What a machine image's verification is judged on (the `/kiln/images/verify` answer, with any key the user gave). */
export interface DiskVerificationInput {
  imageArn: string;
  accountId: string;
  publicKeyPem: string;
  signature: DiskSignature | undefined;
  /** The digest the stored disk has now; undefined when it is no longer stored. */
  storedDiskDigest: string | undefined;
}

/**
 * The verdict on a machine image: its signature verifies with the key, it is over this image and the digest it
 * records, and the stored disk still has that digest. One line either way, saying what was verified or what failed.
 */
export function judgeDiskSignature(input: DiskVerificationInput): { ok: boolean; line: string } {
  const fail = (why: string) => ({ ok: false, line: `${input.imageArn}: NOT verified: ${why}` });
  const sig = input.signature;
  if (!sig) return fail('the image has no signature (built before Kiln signed machine images, or imported)');
  const payload = Buffer.from(sig.payload, 'base64');
  if (!verifyPayload(input.publicKeyPem, payload, sig.signature)) return fail(`the signature does not verify with the key of account ${input.accountId}`);
  let claim: { critical?: { identity?: Record<string, unknown>; image?: Record<string, unknown> } };
  try {
    claim = JSON.parse(payload.toString('utf8')) as typeof claim;
  } catch {
    return fail('the signed statement is not JSON');
  }
  if (claim.critical?.identity?.['image-arn'] !== input.imageArn) return fail(`the signature is for another image (${String(claim.critical?.identity?.['image-arn'])})`);
  const signed = claim.critical?.image?.['disk-digest'];
  if (typeof signed !== 'string' || signed !== sig.diskDigest) return fail('the signed statement and the recorded disk digest disagree');
  if (input.storedDiskDigest === undefined) return fail(`the disk ${signed} is no longer stored`);
  if (input.storedDiskDigest !== signed) return fail(`the stored disk is ${input.storedDiskDigest} now; the signature is over ${signed}`);
  return { ok: true, line: `${input.imageArn}: verified: disk ${signed} is stored unchanged and signed by account ${input.accountId}'s key (SHA256:${keyFingerprint(input.publicKeyPem)}…)` };
}

/** The sigstore signatures found beside a container image in one place it was distributed to (Kiln's registry). */
export interface ContainerSignaturesAt {
  /** The image's URI there (`host/repository:tag`). */
  uri: string;
  /** The signature layers of its `sha256-<hex>.sig` manifest: payload base64, signature base64. */
  signatures: { payload: string; signature: string }[];
}

/** What a container image's verification is judged on (the `/kiln/images/verify` answer for a container image). */
export interface ContainerVerificationInput {
  imageArn: string;
  accountId: string;
  publicKeyPem: string;
  manifestDigest: string;
  places: ContainerSignaturesAt[];
}

/**
 * The verdict on a container image: every URI has a signature that verifies with the key and names that URI and
 * the image's digest, as a `sigstoreSigned` policy would accept a pull of it. One line either way.
 */
export function judgeContainerSignatures(input: ContainerVerificationInput): { ok: boolean; line: string } {
  if (input.places.length === 0) return { ok: false, line: `${input.imageArn}: NOT verified: the image is in none of Kiln's registry repositories` };
  for (const place of input.places) {
    const accepted = place.signatures.some((s) => {
      const payload = Buffer.from(s.payload, 'base64');
      const claim = readSimpleSigningPayload(payload);
      return claim?.dockerReference === place.uri && claim.manifestDigest === input.manifestDigest && verifyPayload(input.publicKeyPem, payload, s.signature);
    });
    if (!accepted) {
      const why = place.signatures.length === 0 ? 'has no signature' : `has no signature for it by the key of account ${input.accountId}`;
      return { ok: false, line: `${input.imageArn}: NOT verified: ${place.uri} ${why}` };
    }
  }
  return { ok: true, line: `${input.imageArn}: verified: ${input.manifestDigest} is signed as ${input.places.map((p) => p.uri).join(', ')} by account ${input.accountId}'s key (SHA256:${keyFingerprint(input.publicKeyPem)}…)` };
}

/** The first 16 hex digits of the sha256 of the key's DER (SPKI), to tell keys apart in a line. */
function keyFingerprint(publicKeyPem: string): string {
  return createHash('sha256').update(createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}
