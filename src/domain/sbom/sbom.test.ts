import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cyclonedxSchemaErrors, spdxSchemaErrors } from '../../../test/helpers/sbom-schemas.js';
import type { ImageInventory, InventoryPackage } from '../package-inventory.js';
import { binaryPurl, sbomDocument, sourcePurl, type SbomSubject } from './index.js';
import { formatPurl } from './purl.js';

const debian = { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' };

const pkg = (p: Partial<InventoryPackage> & { name: string; version: string }): InventoryPackage => ({
  manager: 'dpkg',
  architecture: 'amd64',
  source: p.name,
  sourceVersion: p.version,
  ...p,
});

const inventory: ImageInventory = {
  os: debian,
  packages: [
    pkg({ name: 'bash', version: '5.2.15-2+b7', sourceVersion: '5.2.15-2' }),
    pkg({ name: 'libc6', version: '2.36-9+deb12u4', source: 'glibc' }),
    pkg({ name: 'libc-bin', version: '2.36-9+deb12u4', source: 'glibc' }),
    pkg({ name: 'libstdc++6', version: '12.2.0-14', source: 'gcc-12' }),
    pkg({ name: 'tzdata', version: '2024a-0+deb12u1', architecture: 'all' }),
    pkg({ name: 'login', version: '1:4.13+dfsg1-1+b1', source: 'shadow', sourceVersion: '1:4.13+dfsg1-1' }),
  ],
};

const subject: SbomSubject = {
  name: 'web-base',
  version: '1.0.0/1',
  arn: 'arn:aws:imagebuilder:us-east-1:123456789012:image/web-base/1.0.0/1',
  kind: 'container',
  digest: `sha256:${'ab'.repeat(32)}`,
  created: '2026-12-06T23:57:34.123Z',
};

test('purls: the issue example, epochs, escaping, rpm epoch qualifier, apk, no os-release', () => {
  assert.equal(binaryPurl(inventory.packages[0]!, debian), 'pkg:deb/debian/bash@5.2.15-2%2Bb7?arch=amd64&distro=debian-12');
  assert.equal(sourcePurl(inventory.packages[0]!, debian), 'pkg:deb/debian/bash@5.2.15-2?arch=source&distro=debian-12');
  assert.equal(binaryPurl(inventory.packages[5]!, debian), 'pkg:deb/debian/login@1:4.13%2Bdfsg1-1%2Bb1?arch=amd64&distro=debian-12');
  assert.equal(binaryPurl(inventory.packages[3]!, debian), 'pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64&distro=debian-12');
  const rocky = { id: 'rocky', versionId: '9.3', prettyName: 'Rocky Linux 9.3' };
  const rpm = pkg({ manager: 'rpm', name: 'openssl-libs', version: '1:3.0.7-25.el9_3', architecture: 'x86_64', source: 'openssl', sourceVersion: '1:3.0.7-25.el9_3' });
  assert.equal(binaryPurl(rpm, rocky), 'pkg:rpm/rocky/openssl-libs@3.0.7-25.el9_3?arch=x86_64&distro=rocky-9.3&epoch=1');
  assert.equal(sourcePurl(rpm, rocky), 'pkg:rpm/rocky/openssl@3.0.7-25.el9_3?arch=src&distro=rocky-9.3&epoch=1');
  const alpine = { id: 'alpine', versionId: '3.19.1', prettyName: 'Alpine Linux v3.19' };
  const apk = pkg({ manager: 'apk', name: 'ssl_client', version: '1.36.1-r15', architecture: 'x86_64', source: 'busybox' });
  assert.equal(binaryPurl(apk, alpine), 'pkg:apk/alpine/ssl_client@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1');
  assert.equal(sourcePurl(apk, alpine), 'pkg:apk/alpine/busybox@1.36.1-r15?distro=alpine-3.19.1');
  assert.equal(binaryPurl(inventory.packages[4]!, undefined), 'pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all');
  assert.equal(formatPurl({ type: 'generic', name: "a b!(c)'*", version: '1/2' }), 'pkg:generic/a%20b%21%28c%29%27%2A@1%2F2');
});

test('SPDX 2.3: every package with its purl, CONTAINS from the image, GENERATED_FROM its differing source; schema-valid', () => {
  const { mediaType, document } = sbomDocument('spdx', subject, inventory);
  assert.equal(mediaType, 'application/spdx+json');
  assert.deepEqual(spdxSchemaErrors(document), []);
  const packages = document.packages as { SPDXID: string; name: string; versionInfo: string; primaryPackagePurpose: string; externalRefs?: { referenceLocator: string }[]; checksums?: unknown }[];
  const relationships = document.relationships as { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[];
  const installed = packages.filter((p) => p.primaryPackagePurpose === 'LIBRARY');
  assert.deepEqual(installed.map((p) => p.name), ['bash', 'libc-bin', 'libc6', 'libstdc++6', 'login', 'tzdata']);
  const image = packages.find((p) => p.SPDXID === 'SPDXRef-Image')!;
  assert.deepEqual(image.checksums, [{ algorithm: 'SHA256', checksumValue: 'ab'.repeat(32) }]);
  assert.equal(relationships.filter((r) => r.relationshipType === 'CONTAINS' && r.spdxElementId === 'SPDXRef-Image').length, 6);
  const bash = installed.find((p) => p.name === 'bash')!;
  assert.equal(bash.externalRefs![0]!.referenceLocator, 'pkg:deb/debian/bash@5.2.15-2%2Bb7?arch=amd64&distro=debian-12');
  const sourceOf = (id: string): string | undefined => {
    const rel = relationships.find((r) => r.spdxElementId === id && r.relationshipType === 'GENERATED_FROM');
    return rel && packages.find((p) => p.SPDXID === rel.relatedSpdxElement)!.externalRefs![0]!.referenceLocator;
  };
  assert.equal(sourceOf(bash.SPDXID), 'pkg:deb/debian/bash@5.2.15-2?arch=source&distro=debian-12');
  assert.equal(sourceOf(installed.find((p) => p.name === 'libc6')!.SPDXID), 'pkg:deb/debian/glibc@2.36-9%2Bdeb12u4?arch=source&distro=debian-12');
  assert.equal(sourceOf(installed.find((p) => p.name === 'tzdata')!.SPDXID), undefined);
  // libc6 and libc-bin share one source package element.
  assert.equal(packages.filter((p) => p.name === 'glibc').length, 1);
  assert.equal((document.creationInfo as { created: string }).created, '2026-12-06T23:57:34Z');
});

test('CycloneDX 1.5: library components keyed by purl, the source as pedigree ancestor; schema-valid', () => {
  const { mediaType, document } = sbomDocument('cyclonedx', subject, inventory);
  assert.equal(mediaType, 'application/vnd.cyclonedx+json');
  assert.deepEqual(cyclonedxSchemaErrors(document), []);
  const components = document.components as { type: string; name: string; purl?: string; pedigree?: { ancestors: { purl: string }[] } }[];
  const libraries = components.filter((c) => c.type === 'library');
  assert.deepEqual(libraries.map((c) => c.name), ['bash', 'libc-bin', 'libc6', 'libstdc++6', 'login', 'tzdata']);
  assert.equal(libraries[0]!.purl, 'pkg:deb/debian/bash@5.2.15-2%2Bb7?arch=amd64&distro=debian-12');
  assert.equal(libraries[2]!.pedigree!.ancestors[0]!.purl, 'pkg:deb/debian/glibc@2.36-9%2Bdeb12u4?arch=source&distro=debian-12');
  assert.equal(libraries[5]!.pedigree, undefined);
  assert.ok(components.some((c) => c.type === 'operating-system' && c.name === 'debian'));
  assert.match(document.serialNumber as string, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('deterministic: package order does not matter; another digest gives another namespace and serial', () => {
  const shuffled: ImageInventory = { os: debian, packages: [...inventory.packages].reverse() };
  for (const format of ['spdx', 'cyclonedx'] as const) {
    assert.equal(JSON.stringify(sbomDocument(format, subject, shuffled).document), JSON.stringify(sbomDocument(format, subject, inventory).document));
  }
  const other = { ...subject, digest: `sha256:${'cd'.repeat(32)}` };
  assert.notEqual(sbomDocument('spdx', other, inventory).document.documentNamespace, sbomDocument('spdx', subject, inventory).document.documentNamespace);
  assert.notEqual(sbomDocument('cyclonedx', other, inventory).document.serialNumber, sbomDocument('cyclonedx', subject, inventory).document.serialNumber);
});

test('the schemas reject what is not SPDX or CycloneDX', () => {
  const { document } = sbomDocument('spdx', subject, inventory);
  assert.notDeepEqual(spdxSchemaErrors({ ...document, packages: [{ name: 'x' }] }), []);
  const bom = sbomDocument('cyclonedx', subject, inventory).document;
  assert.notDeepEqual(cyclonedxSchemaErrors({ ...bom, components: [{ type: 'nonsense', name: 'x' }] }), []);
  assert.throws(() => sbomDocument('spdx', { ...subject, digest: 'md5:00' }, inventory), /digest/);
});
