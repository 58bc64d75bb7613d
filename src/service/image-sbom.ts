/**
 * The SBOM of an image build (`kiln images sbom`): its recorded inventory written as SPDX or CycloneDX, under
 * GetImage's visibility rule. The document is derived from the record each time, deterministically, so it is
 * never stored twice.
 */
import { KilnError } from '../domain/errors.js';
import { isSbomFormat, SBOM_FORMATS } from '../domain/sbom/index.js';
import { imageSbomDocument } from '../builder/stages/image-sbom.js';
import { getBuild } from '../resources/versioned.js';
import type { Store } from '../store/store.js';
import type { Caller } from '../store/visibility.js';
import { imageFamily } from './image-family.js';

/**
 * The SBOM of the image build `image` (an ARN, as GetImage takes it) in `format` (default spdx). Throws
 * InvalidArgument naming `format` for an unknown format, NotFound for an image the caller cannot see, and
 * InvalidRequest for an image with no recorded inventory (built before Kiln recorded one, imported, or not built).
 */
export async function imageSbom(store: Store, caller: Caller, image: string | undefined, format = 'spdx'): Promise<{ mediaType: string; document: Record<string, unknown> }> {
  if (!isSbomFormat(format)) throw new KilnError('InvalidArgument', `format: must be ${SBOM_FORMATS.join(' or ')}, got ${JSON.stringify(format)}.`, [{ path: 'format', message: 'unknown SBOM format' }]);
  if (!image) throw new KilnError('InvalidArgument', 'image: give an image build version ARN.', [{ path: 'image', message: 'required' }]);
  const record = await getBuild(store, { ...caller, operation: 'GetImage' }, imageFamily, image, 'image');
  const sbom = imageSbomDocument(record, format);
  if (!sbom) {
    throw new KilnError('InvalidRequest', `image ${record.arn} has no package inventory: it was not built by this Kiln version (imported, failed before its image was made, or built before Kiln recorded inventories), so it has no SBOM.`);
  }
  return { mediaType: sbom.mediaType, document: sbom.document };
}
