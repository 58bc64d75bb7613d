import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { FsBlobStore, digestOf } from '../../src/artifacts/blob-store.js';
import { ObjectBucket } from '../../src/artifacts/s3/object-bucket.js';
import { hasTool } from '../../src/artifacts/oci/testing.js';
import { BucketUploadSessions } from '../../src/registry/server/bucket-uploads.js';
import { startLocalS3, type LocalS3 } from '../helpers/s3rver.js';
import { postgresUnavailable, startPostgres, type LocalPostgres } from '../helpers/postgres.js';
import { makeTestImage } from '../helpers/registry.js';
import { startFixture, type Fixture } from './fixture.js';

// Two API nodes behind an imaginary load balancer: one bucket, one store (PostgreSQL when this machine can run
// it, else one SQLite file both open), nothing else shared. An upload session must survive its requests
// landing on either node.
const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'kiln-objstore-uploads-'));
let s3: LocalS3;
let pg: LocalPostgres | undefined;
before(async () => {
  s3 = await startLocalS3(path.join(dir, 's3'), ['kiln']);
  if (!postgresUnavailable()) pg = await startPostgres();
});
after(async () => {
  await s3.stop();
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function twoNodes(t: TestContext, prefix: string): Promise<[Fixture, Fixture]> {
  const { endpoint, region, accessKeyId, secretAccessKey } = s3.settings;
  const objectStore = { bucket: 'kiln', prefix, endpoint: endpoint!, region: region!, forcePathStyle: true, accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! };
  if (pg) {
    const shared = mkdtempSync(path.join(dir, 'shared-'));
    const config = { store: await pg.createDatabase(), secretKeyFile: path.join(shared, 'secret.key'), objectStore };
    return [await startFixture(t, { config }), await startFixture(t, { config })];
  }
  const first = await startFixture(t, { config: { objectStore } });
  return [first, await startFixture(t, { config: { objectStore }, dataDir: first.dataDir })];
}

function basic(f: Fixture): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${f.credentials.accessKeyId}:${f.credentials.secretAccessKey}`).toString('base64')}` };
}

/** The same request path on another node. */
const on = (node: Fixture, location: string): URL => new URL(location, `http://${node.server.registryHost}`);

async function patch(node: Fixture, location: string, body: Buffer, start: number): Promise<Response> {
  return fetch(on(node, location), {
    method: 'PATCH',
    headers: { ...basic(node), 'content-type': 'application/octet-stream', 'content-range': `${start}-${start + body.length - 1}` },
    body: new Uint8Array(body),
  });
}

test('a chunked upload started on one API node, continued on the other and closed on the first lands with its digest; skopeo pulls the image from either', async (t) => {
  const [one, two] = await twoNodes(t, 'lb/');
  const local = new FsBlobStore(path.join(dir, 'local'));
  // A layer of ~18 MiB of random data: its chunks span several stored pieces and the blob store's multipart parts.
  const image = await makeTestImage(local, { 'hello.txt': 'through two nodes\n', 'noise.b64': randomBytes(18 * 1024 * 1024).toString('base64') });
  const layer = await local.get(image.layerDigests[0]!);
  const config = await local.get(image.configDigest);
  assert.ok(layer.length > 16 * 1024 * 1024, `layer of ${layer.length} bytes`);

  // Layer: POST on one, PATCH on two (10 MiB), PATCH on one (the rest but 1000 bytes), PUT on one with the tail.
  const started = await fetch(`http://${one.server.registryHost}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: basic(one) });
  assert.equal(started.status, 202);
  const location = started.headers.get('location')!;
  const first = 10 * 1024 * 1024;
  const p1 = await patch(two, location, layer.subarray(0, first), 0);
  assert.equal(p1.status, 202, await p1.text());
  assert.equal(p1.headers.get('range'), `0-${first - 1}`);
  const status = await fetch(on(one, location), { headers: basic(one) });
  assert.equal(status.status, 204);
  assert.equal(status.headers.get('range'), `0-${first - 1}`, 'the node that did not receive the chunk knows it');
  const wrongStart = await patch(one, location, layer.subarray(first, first + 10), first + 5);
  assert.equal(wrongStart.status, 416, 'a chunk that does not continue the data is refused on any node');
  const p2 = await patch(one, location, layer.subarray(first, layer.length - 1000), first);
  assert.equal(p2.status, 202, await p2.text());
  const closeAt = on(one, location);
  closeAt.searchParams.set('digest', image.layerDigests[0]!);
  const put = await fetch(closeAt, { method: 'PUT', headers: { ...basic(one), 'content-type': 'application/octet-stream', 'content-range': `${layer.length - 1000}-${layer.length - 1}` }, body: new Uint8Array(layer.subarray(layer.length - 1000)) });
  assert.equal(put.status, 201, await put.text());
  assert.equal(put.headers.get('docker-content-digest'), image.layerDigests[0]);

  // Config: POST on two, PATCH on one, PUT without a body on two.
  const s2 = await fetch(`http://${two.server.registryHost}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: basic(two) });
  const loc2 = s2.headers.get('location')!;
  assert.equal((await patch(one, loc2, config, 0)).status, 202);
  const close2 = on(two, loc2);
  close2.searchParams.set('digest', image.configDigest);
  const put2 = await fetch(close2, { method: 'PUT', headers: basic(two) });
  assert.equal(put2.status, 201, await put2.text());

  const manifest = await local.get(image.manifestDigest);
  const pushed = await fetch(`http://${two.server.registryHost}/v2/team/app/manifests/v1`, { method: 'PUT', headers: { ...basic(two), 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: new Uint8Array(manifest) });
  assert.equal(pushed.status, 201, await pushed.text());
  const sessions = await new ObjectBucket({ client: s3.client, bucket: 'kiln', prefix: 'lb/registry-uploads/' }).list();
  assert.deepEqual(sessions, [], 'finished sessions leave nothing in the bucket');

  if (!hasTool('skopeo')) return t.skip('needs skopeo to pull');
  for (const node of [one, two]) {
    const out = path.join(dir, `pulled-${node.server.registryHost.replace(/\W/g, '-')}`);
    await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--src-creds', `${node.credentials.accessKeyId}:${node.credentials.secretAccessKey}`, `docker://${node.server.registryHost}/team/app:v1`, `dir:${out}`]);
    const pulled = path.join(out, image.layerDigests[0]!.slice('sha256:'.length));
    assert.ok(existsSync(pulled));
    assert.equal(digestOf(readFileSync(pulled)), image.layerDigests[0]);
  }
});

test('a wrong digest ends the session on any node; an abandoned session is swept from the bucket, and continuing it is BLOB_UPLOAD_UNKNOWN', async (t) => {
  const [one, two] = await twoNodes(t, 'sweep/');
  const uploads = new ObjectBucket({ client: s3.client, bucket: 'kiln', prefix: 'sweep/registry-uploads/' });
  const begin = async (node: Fixture) => (await fetch(`http://${node.server.registryHost}/v2/team/tmp/blobs/uploads/`, { method: 'POST', headers: basic(node) })).headers.get('location')!;

  const bad = await begin(one);
  assert.equal((await patch(two, bad, Buffer.from('some bytes'), 0)).status, 202);
  const wrong = on(one, bad);
  wrong.searchParams.set('digest', digestOf(Buffer.from('other bytes')));
  const refused = await fetch(wrong, { method: 'PUT', headers: basic(one) });
  assert.equal(refused.status, 400);
  assert.equal(((await refused.json()) as { errors: { code: string }[] }).errors[0]!.code, 'DIGEST_INVALID');
  assert.equal((await fetch(on(two, bad), { headers: basic(two) })).status, 404, 'the session is gone on the other node too');

  // A session whose client went away: the sweep of any node (here one made for the test, an hour and more later)
  // removes it, and a late chunk is refused as for an unknown session.
  const abandoned = await begin(two);
  assert.equal((await patch(one, abandoned, Buffer.from('half a layer'), 0)).status, 202);
  const id = abandoned.slice(abandoned.lastIndexOf('/') + 1);
  assert.ok((await uploads.list()).some((o) => o.key.startsWith(`${id}/`)));
  const leaks: string[] = [];
  const later = new BucketUploadSessions({ bucket: uploads, idleMs: 60 * 60 * 1000, now: () => Date.now() + 2 * 60 * 60 * 1000, onLeak: (what) => leaks.push(what) });
  const swept = await later.sweepIdle();
  assert.ok(swept.includes(id), `swept ${swept.join(', ')}`);
  assert.deepEqual(leaks, []);
  assert.deepEqual(await uploads.list(), [], 'every idle session is gone from the bucket');
  const late = await patch(two, abandoned, Buffer.from(' and the rest'), 12);
  assert.equal(late.status, 404);
  assert.equal(((await late.json()) as { errors: { code: string }[] }).errors[0]!.code, 'BLOB_UPLOAD_UNKNOWN');

  // Within the idle time nothing is swept.
  const fresh = await begin(one);
  const now = new BucketUploadSessions({ bucket: uploads });
  assert.deepEqual(await now.sweepIdle(), []);
  assert.equal((await fetch(on(two, fresh), { headers: basic(two) })).status, 204);
});
