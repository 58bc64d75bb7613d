import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKilnError } from '../domain/errors.js';
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST, parseManifest, requiredBlobs } from './manifest.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const desc = (c: string, size = 1) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d(c), size });
const bytes = (v: unknown) => Buffer.from(JSON.stringify(v));

test('the four manifest formats parse, with their media type from Content-Type, the body or the shape', () => {
  const image = { schemaVersion: 2, config: { ...desc('c'), mediaType: 'application/vnd.oci.image.config.v1+json' }, layers: [desc('1'), desc('2')] };
  assert.equal(parseManifest(bytes(image)).mediaType, OCI_MANIFEST);
  assert.equal(parseManifest(bytes({ ...image, mediaType: DOCKER_MANIFEST })).mediaType, DOCKER_MANIFEST);
  assert.equal(parseManifest(bytes(image), DOCKER_MANIFEST).mediaType, DOCKER_MANIFEST);
  assert.deepEqual(requiredBlobs(parseManifest(bytes(image))).map((b) => b.digest), [d('c'), d('1'), d('2')]);
  const index = { schemaVersion: 2, manifests: [{ ...desc('3'), mediaType: OCI_MANIFEST, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }] };
  const parsed = parseManifest(bytes(index));
  assert.equal(parsed.kind, 'index');
  assert.equal(parsed.mediaType, OCI_INDEX);
  assert.deepEqual(parsed.kind === 'index' && parsed.manifests[0]?.platform, { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.equal(parseManifest(bytes({ ...index, mediaType: DOCKER_MANIFEST_LIST })).mediaType, DOCKER_MANIFEST_LIST);
  assert.deepEqual(requiredBlobs(parsed), []);
  // Foreign layers live elsewhere and are not required in the registry.
  const foreign = { ...image, layers: [{ ...desc('4'), mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', urls: ['https://x/y'] }] };
  assert.deepEqual(requiredBlobs(parseManifest(bytes(foreign))).map((b) => b.digest), [d('c')]);
});

test('bad manifests are InvalidArgument naming the field', () => {
  const cases: [unknown, RegExp, string?][] = [
    ['not json', /not valid JSON/],
    [{ schemaVersion: 1 }, /schemaVersion/],
    [{ schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [] }, /manifest\.config/],
    [{ schemaVersion: 2, config: { ...desc('c'), digest: 'sha256:xyz' }, layers: [] }, /manifest\.config\.digest/],
    [{ schemaVersion: 2, config: desc('c'), layers: [{ ...desc('1'), size: -1 }] }, /manifest\.layers\[0\]\.size/],
    [{ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{}] }, /manifest\.manifests\[0\]/],
    [{ schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc('c') }, /does not match the declared/, DOCKER_MANIFEST],
    [{ schemaVersion: 2, mediaType: 'application/x-unknown', config: desc('c') }, /not a supported manifest type/],
  ];
  for (const [value, re, declared] of cases) {
    const raw = typeof value === 'string' ? Buffer.from(value) : bytes(value);
    assert.throws(() => parseManifest(raw, declared), (e) => isKilnError(e, 'InvalidArgument') && re.test(e.message), String(re));
  }
});
