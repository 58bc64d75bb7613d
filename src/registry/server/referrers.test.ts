/**
 * The registry's OCI 1.1 referrers support: a manifest with a `subject` is answered with OCI-Subject on PUT and
 * listed by GET /v2/<name>/referrers/<digest> (filtered by artifactType), under the repository's read rules.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { digestOf } from '../../artifacts/blob-store.js';
import { startKilnRegistry, type KilnAccount } from '../../../test/helpers/registry.js';
import { OCI_EMPTY, OCI_INDEX, OCI_MANIFEST } from '../manifest.js';

test('referrers: OCI-Subject on push, the index of referrers with artifactType and annotations, the filter, read rules', async (t) => {
  const kiln = await startKilnRegistry(t);
  const call = async (path: string, init: { method?: string; body?: Buffer; headers?: Record<string, string>; as?: KilnAccount | 'anonymous' } = {}) => {
    const who = init.as ?? kiln.admin;
    const headers: Record<string, string> = { ...init.headers, ...(who === 'anonymous' ? {} : { authorization: `Basic ${Buffer.from(who.creds).toString('base64')}` }) };
    const res = await fetch(`${kiln.url}${path}`, { method: init.method ?? 'GET', headers, ...(init.body ? { body: new Uint8Array(init.body) } : {}) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  const blob = async (data: Buffer): Promise<string> => {
    const r = await call(`/v2/team/app/blobs/uploads/?digest=${digestOf(data)}`, { method: 'POST', body: data });
    assert.equal(r.status, 201);
    return digestOf(data);
  };
  const putManifest = async (body: unknown, reference: string) => {
    const bytes = Buffer.from(JSON.stringify(body));
    return { digest: digestOf(bytes), bytes, res: await call(`/v2/team/app/manifests/${reference}`, { method: 'PUT', body: bytes, headers: { 'content-type': OCI_MANIFEST } }) };
  };

  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const layer = Buffer.from('layer');
  await blob(config);
  await blob(layer);
  const image = await putManifest(
    { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(layer), size: layer.length }] },
    'v1',
  );
  assert.equal(image.res.status, 201);
  assert.equal(image.res.headers.get('oci-subject'), null, 'no subject, no OCI-Subject');

  const empty = Buffer.from('{}');
  await blob(empty);
  const sbomBytes = Buffer.from('{"spdxVersion":"SPDX-2.3"}');
  await blob(sbomBytes);
  const subject = { mediaType: OCI_MANIFEST, digest: image.digest, size: image.bytes.length };
  const artifact = (artifactType: string, annotations: Record<string, string>, payload: Buffer) => ({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: { mediaType: OCI_EMPTY, digest: digestOf(empty), size: 2 },
    layers: [{ mediaType: artifactType, digest: digestOf(payload), size: payload.length }],
    subject,
    annotations,
  });
  const sbom = await putManifest(artifact('application/spdx+json', { 'org.opencontainers.image.created': '2026-12-06T00:00:00Z' }, sbomBytes), 'sbom');
  assert.equal(sbom.res.status, 201, JSON.stringify(sbom.res.json));
  assert.equal(sbom.res.headers.get('oci-subject'), image.digest);
  const sigBody = artifact('application/vnd.dev.sigstore.bundle.v0.3+json', {}, sbomBytes);
  // Pushed by digest, untagged, as cosign and oras push referrers.
  const sig = await putManifest(sigBody, digestOf(Buffer.from(JSON.stringify(sigBody))));
  assert.equal(sig.res.status, 201);

  const all = await call(`/v2/team/app/referrers/${image.digest}`);
  assert.equal(all.status, 200);
  assert.equal(all.headers.get('content-type'), OCI_INDEX);
  assert.equal(all.headers.get('oci-filters-applied'), null);
  assert.equal(all.json.mediaType, OCI_INDEX);
  const listed = (all.json.manifests as { digest: string; artifactType: string; annotations?: Record<string, string>; size: number; mediaType: string }[]).sort((a, b) => a.artifactType.localeCompare(b.artifactType));
  assert.deepEqual(
    listed.map((m) => [m.artifactType, m.digest, m.size, m.mediaType]),
    [
      ['application/spdx+json', sbom.digest, sbom.bytes.length, OCI_MANIFEST],
      ['application/vnd.dev.sigstore.bundle.v0.3+json', sig.digest, sig.bytes.length, OCI_MANIFEST],
    ],
  );
  assert.deepEqual(listed[0]!.annotations, { 'org.opencontainers.image.created': '2026-12-06T00:00:00Z' });

  const filtered = await call(`/v2/team/app/referrers/${image.digest}?artifactType=${encodeURIComponent('application/spdx+json')}`);
  assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
  assert.deepEqual((filtered.json.manifests as { digest: string }[]).map((m) => m.digest), [sbom.digest]);

  // A digest nothing refers to: an empty index, not an error. A malformed one: DIGEST_INVALID.
  const none = await call(`/v2/team/app/referrers/${digestOf('nothing')}`);
  assert.deepEqual([none.status, none.json.manifests], [200, []]);
  assert.equal((await call('/v2/team/app/referrers/sha256:nope')).status, 400);
  // Read rules as for manifests: another account learns nothing, anonymous callers are challenged.
  const other = await kiln.addAccount('other');
  assert.equal((await call(`/v2/team/app/referrers/${image.digest}`, { as: other })).status, 404);
  assert.equal((await call(`/v2/team/app/referrers/${image.digest}`, { as: 'anonymous' })).status, 401);
  await kiln.registry.setAccess({ repository: 'team/app', accounts: [other.accountId] });
  assert.equal(((await call(`/v2/team/app/referrers/${image.digest}`, { as: other })).json.manifests as unknown[]).length, 2);
});
