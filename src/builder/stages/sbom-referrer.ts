/**
 * Attaches a built container image's SPDX SBOM beside it in Kiln's registry, as an OCI artifact whose subject is
 * the image manifest, so `GET /v2/NAME/referrers/DIGEST` (and oras, cosign) find it.
 */
import { errorMessage, isKilnError, KilnError } from '../../domain/errors.js';
import type { BuiltinRegistry } from '../../registry/server/builtin-registry.js';
import type { ResourceRecord } from '../../store/store.js';
import type { ContainerImageRef } from './image-record.js';
import { imageSbomDocument } from './image-sbom.js';

/**
 * Attaches the SPDX SBOM of `image` to `built` in `repository`; logs and skips an image with no recorded inventory.
 * A failed attach fails like a failed tag (naming the repository): the SBOM is part of what distribution delivers.
 */
export async function attachSbom(builtin: BuiltinRegistry, image: ResourceRecord, repository: string, built: ContainerImageRef, log: (text: string) => void): Promise<void> {
  // The SBOM describes `built`, the manifest just tagged, whatever the record held before.
  const sbom = imageSbomDocument({ ...image, data: { ...image.data, containerImage: built } }, 'spdx');
  if (!sbom) {
    log(`no package inventory recorded for ${image.arn}: no SBOM attached in ${repository}\n`);
    return;
  }
  try {
    const digest = await builtin.attach({
      accountId: image.accountId,
      repository,
      subject: built.manifestDigest,
      artifactType: sbom.mediaType,
      payload: Buffer.from(JSON.stringify(sbom.document)),
      annotations: { 'org.opencontainers.image.created': sbom.subject.created, 'org.opencontainers.image.title': 'sbom.spdx.json' },
    });
    log(`attached the SPDX SBOM ${digest} to ${repository}@${built.manifestDigest}\n`);
  } catch (err) {
    throw new KilnError(isKilnError(err) ? err.kind : 'Internal', `attaching the SBOM to ${repository}@${built.manifestDigest} failed: ${errorMessage(err)}`, [], { cause: err });
  }
}
