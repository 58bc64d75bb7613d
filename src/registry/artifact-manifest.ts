/**
 * OCI 1.1 artifact manifests: one payload (an SBOM, a signature) attached to an image by its `subject`, with the
 * empty config, as oras and cosign write them; the registry lists them through the referrers API.
 */
import { createHash } from 'node:crypto';
import { OCI_EMPTY, OCI_MANIFEST, type Descriptor } from './manifest.js';

/** The OCI empty JSON object (`{}`) that artifact manifests name as their config. */
export const EMPTY_CONFIG = Buffer.from('{}');

const sha256 = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/**
 * The bytes of an artifact manifest carrying `payload` as its one layer of media type `artifactType`, referring
 * to `subject`. Deterministic: the same inputs give the same digest, so attaching twice is a no-op.
 */
export function artifactManifest(input: { artifactType: string; payload: Uint8Array; subject: Descriptor; annotations?: Record<string, string> }): Buffer {
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: input.artifactType,
    config: { mediaType: OCI_EMPTY, digest: sha256(EMPTY_CONFIG), size: EMPTY_CONFIG.length, data: EMPTY_CONFIG.toString('base64') },
    layers: [{ mediaType: input.artifactType, digest: sha256(input.payload), size: input.payload.byteLength }],
    subject: { mediaType: input.subject.mediaType, digest: input.subject.digest, size: input.subject.size },
    ...(input.annotations && Object.keys(input.annotations).length > 0 ? { annotations: input.annotations } : {}),
  };
  return Buffer.from(JSON.stringify(manifest));
}
