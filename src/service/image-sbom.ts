/**
 * The SBOM of an image build (`kiln images sbom`): its recorded inventory written as SPDX or CycloneDX, under
 * GetImage's visibility rule. The document is derived from the record each time, deterministically, so it is
 * never stored twice.
 */
import { KilnError } from '../domain/errors.js';
import { isSbomFormat, sbomDocument, SBOM_FORMATS, type SbomSubject } from '../domain/sbom/index.js';
import { imageInventory } from '../builder/stages/image-inventory.js';
import { getBuild } from '../resources/versioned.js';
import type { ResourceRecord, Store } from '../store/store.js';
import type { Caller } from '../store/visibility.js';
import { imageFamily } from './image-family.js';

/**
 * What an SBOM names about an image record: its identity and the digest of its content (the container manifest,
 * or the machine image's disk); undefined before the build produced either.
 */
export function sbomSubject(record: ResourceRecord): SbomSubject | undefined {
  const data = record.data as { name?: string; version?: string; dateCreated?: string; containerImage?: { manifestDigest?: string }; machine?: { disk?: { digest?: string } } };
  const container = data.containerImage?.manifestDigest;
  const disk = data.machine?.disk?.digest;
  const digest = container ?? disk;
  if (!digest) return undefined;
  const arn = record.arn;
  const [, name = data.name ?? arn, version = '', build = ''] = /image\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(arn) ?? [];
  return {
    name,
    version: build ? `${version}/${build}` : version,
    arn,
    kind: container ? 'container' : 'machine',
    digest,
    created: data.dateCreated ?? new Date(0).toISOString(),
  };
}

/**
 * The SBOM of the image build `image` (an ARN, as GetImage takes it) in `format` (default spdx). Throws
 * InvalidArgument naming `format` for an unknown format, NotFound for an image the caller cannot see, and
 * InvalidRequest for an image with no recorded inventory (built before Kiln recorded one, imported, or not built).
 */
export async function imageSbom(store: Store, caller: Caller, image: string | undefined, format = 'spdx'): Promise<{ mediaType: string; document: Record<string, unknown> }> {
  if (!isSbomFormat(format)) throw new KilnError('InvalidArgument', `format: must be ${SBOM_FORMATS.join(' or ')}, got ${JSON.stringify(format)}.`, [{ path: 'format', message: 'unknown SBOM format' }]);
  if (!image) throw new KilnError('InvalidArgument', 'image: give an image build version ARN.', [{ path: 'image', message: 'required' }]);
  const record = await getBuild(store, { ...caller, operation: 'GetImage' }, imageFamily, image, 'image');
  const inventory = imageInventory(record);
  const subject = sbomSubject(record);
  if (!inventory || !subject) {
    throw new KilnError('InvalidRequest', `image ${record.arn} has no package inventory: it was not built by this Kiln version (imported, failed before its image was made, or built before Kiln recorded inventories), so it has no SBOM.`);
  }
  return sbomDocument(format, subject, inventory);
}
