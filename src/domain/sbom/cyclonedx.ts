/**
 * CycloneDX 1.5 JSON for an image: the image as the BOM's subject component, each installed package a library
 * component keyed by its purl, the source package it was built from as its pedigree ancestor where it differs.
 * Deterministic: the same inventory and subject give the same bytes.
 */
import type { ImageInventory } from '../package-inventory.js';
import { binaryPurl, hasDistinctSource, sourcePurl } from './purl.js';
import { sortedPackages } from './spdx.js';
import { SBOM_TOOL, type SbomSubject, sha256Hex, subjectUuid, wholeSeconds } from './subject.js';

/** The media type of a CycloneDX JSON document. */
export const CYCLONEDX_MEDIA_TYPE = 'application/vnd.cyclonedx+json';

/** The CycloneDX 1.5 BOM of an image's inventory, as a JSON-ready object. */
export function cyclonedxDocument(subject: SbomSubject, inventory: ImageInventory): Record<string, unknown> {
  const imageRef = `image:${subject.digest}`;
  const components: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  for (const pkg of sortedPackages(inventory.packages)) {
    const purl = binaryPurl(pkg, inventory.os);
    // bom-refs must be unique; two records of one purl (a database listing a package twice) are one component.
    if (seen.has(purl)) continue;
    seen.add(purl);
    components.push({
      type: 'library',
      'bom-ref': purl,
      name: pkg.name,
      version: pkg.version,
      purl,
      properties: [
        { name: 'kiln:package:manager', value: pkg.manager },
        { name: 'kiln:package:source', value: pkg.source },
        { name: 'kiln:package:sourceVersion', value: pkg.sourceVersion },
      ],
      ...(hasDistinctSource(pkg)
        ? { pedigree: { ancestors: [{ type: 'library', name: pkg.source, version: pkg.sourceVersion, purl: sourcePurl(pkg, inventory.os) }] } }
        : {}),
    });
  }
  if (inventory.os) {
    components.push({
      type: 'operating-system',
      'bom-ref': `os:${inventory.os.id}-${inventory.os.versionId}`,
      name: inventory.os.id,
      version: inventory.os.versionId,
      description: inventory.os.prettyName,
    });
  }
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${subjectUuid(subject, 'cyclonedx')}`,
    version: 1,
    metadata: {
      timestamp: wholeSeconds(subject.created),
      tools: { components: [{ type: 'application', name: SBOM_TOOL.name, publisher: SBOM_TOOL.vendor }] },
      component: {
        type: subject.kind === 'container' ? 'container' : 'operating-system',
        'bom-ref': imageRef,
        name: subject.name,
        version: subject.version,
        hashes: [{ alg: 'SHA-256', content: sha256Hex(subject.digest) }],
        properties: [{ name: 'kiln:image:arn', value: subject.arn }],
      },
    },
    components,
    dependencies: [{ ref: imageRef, dependsOn: components.map((c) => c['bom-ref'] as string) }],
  };
}
