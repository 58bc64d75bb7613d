/**
 * SPDX 2.3 JSON for an image: the image as the described package, CONTAINS each installed package (with its purl),
 * and each binary package GENERATED_FROM its source package where the source differs. Deterministic: the same
 * inventory and subject give the same bytes.
 */
import type { ImageInventory, InventoryPackage } from '../package-inventory.js';
import { binaryPurl, hasDistinctSource, sourcePurl } from './purl.js';
import { SBOM_TOOL, type SbomSubject, sha256Hex, shortHash, subjectUuid, wholeSeconds } from './subject.js';

/** The media type of an SPDX JSON document (an OCI artifact's `artifactType`). */
export const SPDX_MEDIA_TYPE = 'application/spdx+json';

interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo: string;
  downloadLocation: 'NOASSERTION';
  filesAnalyzed: false;
  primaryPackagePurpose: string;
  checksums?: { algorithm: 'SHA256'; checksumValue: string }[];
  externalRefs?: { referenceCategory: 'PACKAGE-MANAGER'; referenceType: 'purl'; referenceLocator: string }[];
  sourceInfo?: string;
}

interface SpdxRelationship {
  spdxElementId: string;
  relationshipType: 'DESCRIBES' | 'CONTAINS' | 'GENERATED_FROM';
  relatedSpdxElement: string;
}

/** An SPDX element id from parts: only `[A-Za-z0-9.-]`, with a hash of the purl so cleaned names cannot collide. */
function spdxId(kind: string, name: string, purl: string): string {
  return `SPDXRef-${kind}-${name.replace(/[^A-Za-z0-9.-]/g, '-')}-${shortHash(purl)}`;
}

function purlRef(purl: string): SpdxPackage['externalRefs'] {
  return [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: purl }];
}

/** The SPDX 2.3 document of an image's inventory, as a JSON-ready object. */
export function spdxDocument(subject: SbomSubject, inventory: ImageInventory): Record<string, unknown> {
  const imageId = 'SPDXRef-Image';
  const imagePackage: SpdxPackage = {
    SPDXID: imageId,
    name: subject.name,
    versionInfo: subject.version,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    primaryPackagePurpose: subject.kind === 'container' ? 'CONTAINER' : 'OPERATING-SYSTEM',
    checksums: [{ algorithm: 'SHA256', checksumValue: sha256Hex(subject.digest) }],
  };
  const packages: SpdxPackage[] = [imagePackage];
  const relationships: SpdxRelationship[] = [{ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: imageId }];
  const sources = new Map<string, SpdxPackage>();
  const derived: SpdxRelationship[] = [];
  for (const pkg of sortedPackages(inventory.packages)) {
    const purl = binaryPurl(pkg, inventory.os);
    const id = spdxId('Package', pkg.name, purl);
    packages.push({
      SPDXID: id,
      name: pkg.name,
      versionInfo: pkg.version,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      primaryPackagePurpose: 'LIBRARY',
      externalRefs: purlRef(purl),
      ...(hasDistinctSource(pkg) ? { sourceInfo: `built from ${pkg.source} ${pkg.sourceVersion}` } : {}),
    });
    relationships.push({ spdxElementId: imageId, relationshipType: 'CONTAINS', relatedSpdxElement: id });
    if (!hasDistinctSource(pkg)) continue;
    const srcPurl = sourcePurl(pkg, inventory.os);
    let source = sources.get(srcPurl);
    if (!source) {
      source = {
        SPDXID: spdxId('Source', pkg.source, srcPurl),
        name: pkg.source,
        versionInfo: pkg.sourceVersion,
        downloadLocation: 'NOASSERTION',
        filesAnalyzed: false,
        primaryPackagePurpose: 'SOURCE',
        externalRefs: purlRef(srcPurl),
      };
      sources.set(srcPurl, source);
    }
    derived.push({ spdxElementId: id, relationshipType: 'GENERATED_FROM', relatedSpdxElement: source.SPDXID });
  }
  packages.push(...[...sources.values()].sort((a, b) => compare(a.SPDXID, b.SPDXID)));
  relationships.push(...derived);
  const uuid = subjectUuid(subject, 'spdx');
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${subject.name}-${subject.version}`,
    documentNamespace: `urn:uuid:${uuid}`,
    creationInfo: {
      created: wholeSeconds(subject.created),
      creators: [`Tool: ${SBOM_TOOL.name}`, `Organization: ${SBOM_TOOL.vendor}`],
      comment: `${subject.arn} ${subject.digest}`,
    },
    documentDescribes: [imageId],
    packages,
    relationships,
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The inventory's packages in its documented order (manager, name, architecture), whatever order they came in. */
export function sortedPackages(packages: readonly InventoryPackage[]): InventoryPackage[] {
  const key = (p: InventoryPackage): string => `${p.manager}\u0000${p.name}\u0000${p.architecture}\u0000${p.version}`;
  return [...packages].sort((a, b) => compare(key(a), key(b)));
}
