/** SBOM documents of an image inventory: the formats Kiln writes and the one entry point that picks among them. */
import type { ImageInventory } from '../package-inventory.js';
import { cyclonedxDocument, CYCLONEDX_MEDIA_TYPE } from './cyclonedx.js';
import { spdxDocument, SPDX_MEDIA_TYPE } from './spdx.js';
import type { SbomSubject } from './subject.js';

export type { SbomSubject } from './subject.js';
export { binaryPurl, sourcePurl } from './purl.js';
export { SPDX_MEDIA_TYPE } from './spdx.js';
export { CYCLONEDX_MEDIA_TYPE } from './cyclonedx.js';

/** The SBOM formats `kiln images sbom --format` accepts. */
export const SBOM_FORMATS = ['spdx', 'cyclonedx'] as const;
export type SbomFormat = (typeof SBOM_FORMATS)[number];

/** True for a format name Kiln writes. */
export function isSbomFormat(value: string): value is SbomFormat {
  return (SBOM_FORMATS as readonly string[]).includes(value);
}

/** The document of the format and its media type. */
export function sbomDocument(format: SbomFormat, subject: SbomSubject, inventory: ImageInventory): { mediaType: string; document: Record<string, unknown> } {
  return format === 'spdx'
    ? { mediaType: SPDX_MEDIA_TYPE, document: spdxDocument(subject, inventory) }
    : { mediaType: CYCLONEDX_MEDIA_TYPE, document: cyclonedxDocument(subject, inventory) };
}
