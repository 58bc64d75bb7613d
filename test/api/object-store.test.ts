import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { FsBlobStore } from '../../src/artifacts/blob-store.js';
import { startLocalS3, type LocalS3 } from '../helpers/s3rver.js';
import { hasTool } from '../../src/artifacts/oci/testing.js';
import { makeTestImage } from '../helpers/registry.js';
import { startFixture } from './fixture.js';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'kiln-objstore-'));
let s3: LocalS3;
before(async () => {
  s3 = await startLocalS3(path.join(dir, 's3'), ['kiln']);
});
after(async () => {
  await s3.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('objectStore: images pushed to the built-in registry live in the bucket, not the data directory, and skopeo pulls them', { skip: hasTool('skopeo') ? false : 'needs skopeo' }, async (t) => {
  const { endpoint, region, accessKeyId, secretAccessKey } = s3.settings;
  const f = await startFixture(t, {
    config: { objectStore: { bucket: 'kiln', prefix: 'site/', endpoint: endpoint!, region: region!, forcePathStyle: true, accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! } },
  });
  // The image's bytes come from a local store of the test's own; they reach Kiln only through the registry API.
  const local = new FsBlobStore(path.join(dir, 'local'));
  const image = await makeTestImage(local, { 'hello.txt': 'from the bucket\n' });
  const base = `http://${f.server.registryHost}/v2/team/app`;
  const auth = { authorization: `Basic ${Buffer.from(`${f.credentials.accessKeyId}:${f.credentials.secretAccessKey}`).toString('base64')}` };
  for (const digest of [image.configDigest, ...image.layerDigests]) {
    const started = await fetch(`${base}/blobs/uploads/`, { method: 'POST', headers: auth });
    assert.equal(started.status, 202);
    const location = new URL(started.headers.get('location')!, base);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: new Uint8Array(await local.get(digest)) });
    assert.equal(put.status, 201, await put.text());
  }
  const manifest = await local.get(image.manifestDigest);
  const pushed = await fetch(`${base}/manifests/v1`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: new Uint8Array(manifest) });
  assert.equal(pushed.status, 201, await pushed.text());

  const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: 'kiln', Prefix: 'site/sha256/' }));
  const inBucket = new Set((listed.Contents ?? []).map((o) => `sha256:${o.Key!.slice('site/sha256/'.length)}`));
  for (const digest of [image.manifestDigest, image.configDigest, ...image.layerDigests]) assert.ok(inBucket.has(digest), `${digest} is in the bucket`);
  const localBlobs = path.join(f.dataDir, 'blobs', 'sha256');
  assert.deepEqual(existsSync(localBlobs) ? readdirSync(localBlobs) : [], [], 'no blob in the data directory');

  const out = path.join(dir, 'pulled');
  await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--src-creds', `${f.credentials.accessKeyId}:${f.credentials.secretAccessKey}`, `docker://${f.server.registryHost}/team/app:v1`, `dir:${out}`]);
  assert.ok(existsSync(path.join(out, image.layerDigests[0]!.slice('sha256:'.length))), 'skopeo pulled the layer');
});
