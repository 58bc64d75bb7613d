/**
 * The SBOM of a built image record: its recorded inventory (data.inventory) and identity written as SPDX or
 * CycloneDX. Shared by `kiln images sbom` (through the service) and distribution, which attaches the SPDX
 * document to container images in Kiln's registry as an OCI referrer.
 */
import { parseArn } from '../../domain/arn.js';
import { sbomDocument, type SbomFormat, type SbomSubject } from '../../domain/sbom/index.js';
import type { ResourceRecord } from '../../store/store.js';
import { imageInventory } from './image-inventory.js';

/**
 * What an SBOM names about an image record: its identity and the digest of its content (the container manifest,
 * or the machine image's disk); undefined before the build produced either.
 */
export function sbomSubject(record: ResourceRecord): SbomSubject | undefined {
  const data = record.data as { name?: string; dateCreated?: string; containerImage?: { manifestDigest?: string }; machine?: { disk?: { digest?: string } } };
  const container = data.containerImage?.manifestDigest;
  const digest = container ?? data.machine?.disk?.digest;
  if (!digest) return undefined;
  const arn = parseArn(record.arn);
  const version = arn?.version ?? '';
  return {
    name: arn?.name ?? data.name ?? record.arn,
    version: arn?.build !== undefined ? `${version}/${arn.build}` : version,
    arn: record.arn,
    kind: container ? 'container' : 'machine',
    digest,
    created: data.dateCreated ?? new Date(0).toISOString(),
  };
}

/** The image's SBOM in `format`, or undefined when it has no recorded inventory or content digest yet. */
export function imageSbomDocument(record: ResourceRecord, format: SbomFormat): { mediaType: string; document: Record<string, unknown>; subject: SbomSubject } | undefined {
  const inventory = imageInventory(record);
  const subject = sbomSubject(record);
  if (!inventory || !subject) return undefined;
  return { ...sbomDocument(format, subject, inventory), subject };
}
