/**
 * The registry's HTTP API, spoken to with fetch: auth, blob uploads (monolithic, chunked, mounted), ranges,
 * manifests of every format, listings, deletes, the spec's error shapes, and the Image Builder API beside it.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { digestOf } from '../../artifacts/blob-store.js';
import { startKilnRegistry, type KilnAccount, type KilnRegistry } from '../../../test/helpers/registry.js';
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST } from '../manifest.js';

interface Call {
  method?: string;
  as?: KilnAccount | 'anonymous' | { creds: string };
  body?: Uint8Array | string | AsyncIterable<Uint8Array>;
  headers?: Record<string, string>;
}

function client(kiln: KilnRegistry) {
  return async (path: string, call: Call = {}) => {
    const headers: Record<string, string> = { ...call.headers };
    const who = call.as ?? kiln.admin;
    if (who !== 'anonymous') headers.authorization = `Basic ${Buffer.from(who.creds).toString('base64')}`;
    const res = await fetch(`${kiln.url}${path}`, {
      method: call.method ?? 'GET',
      headers,
      ...(call.body !== undefined ? { body: call.body as BodyInit, duplex: 'half' } : {}),
      redirect: 'manual',
    } as RequestInit);
    const raw = Buffer.from(await res.arrayBuffer());
    let json: unknown;
    try {
      json = JSON.parse(raw.toString());
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, raw, json: json as Record<string, unknown> & { errors?: { code: string }[] } };
  };
}

const code = (r: { json: { errors?: { code: string }[] } }) => r.json?.errors?.[0]?.code;

async function setup(t: TestContext) {
  const kiln = await startKilnRegistry(t);
  return { kiln, call: client(kiln) };
}

/** Uploads a blob monolithically into a repository and returns its digest. */
async function pushBlob(call: ReturnType<typeof client>, repo: string, data: Buffer, as?: KilnAccount): Promise<string> {
  const digest = digestOf(data);
  const r = await call(`/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data, ...(as ? { as } : {}) });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return digest;
}

function imageManifest(config: Buffer, layers: Buffer[], mediaType = OCI_MANIFEST): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: mediaType === OCI_MANIFEST ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json', digest: digestOf(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digestOf(l), size: l.length })),
    }),
  );
}

test('the Image Builder API keeps working beside the registry on one app', async (t) => {
  const { kiln } = await setup(t);
  const unsigned = await fetch(`${kiln.url}/ListComponents`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  assert.ok(unsigned.headers.get('x-amzn-errortype'), 'an AWS-shaped error from the API, not the registry');
  assert.equal(unsigned.headers.get('docker-distribution-api-version'), null);
  // The API keeps its 1 MiB body limit; the registry's blob bodies are not limited by it.
  const big = await fetch(`${kiln.url}/CreateComponent`, { method: 'PUT', body: randomBytes(2 << 20), headers: { 'content-type': 'application/json' } });
  assert.equal(big.status, 413);
  assert.equal(big.headers.get('x-amzn-errortype'), 'RequestEntityTooLargeException');
});

test('ping and auth: 401 with a Basic challenge when anonymous or wrong, 200 with a Kiln key', async (t) => {
  const { kiln, call } = await setup(t);
  const anon = await call('/v2/', { as: 'anonymous' });
  assert.equal(anon.status, 401);
  assert.equal(anon.headers.get('www-authenticate'), 'Basic realm="kiln"');
  assert.equal(code(anon), 'UNAUTHORIZED');
  const wrong = await call('/v2/', { as: { creds: `${kiln.admin.accessKeyId}:nope` } });
  assert.equal(wrong.status, 401);
  assert.equal(code(wrong), 'UNAUTHORIZED');
  const unknown = await call('/v2/', { as: { creds: 'AKIAUNKNOWN:x' } });
  assert.equal(unknown.status, 401);
  const bearer = await fetch(`${kiln.url}/v2/`, { headers: { authorization: 'Bearer abc' } });
  assert.equal(bearer.status, 401);
  const ok = await call('/v2/');
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('docker-distribution-api-version'), 'registry/2.0');
  assert.equal((await call('/v2/team/app/tags/list', { as: 'anonymous' })).status, 401);
});

test('blob uploads: monolithic, chunked with Content-Range, status, cancel, digest checks; downloads with Range', async (t) => {
  const { kiln, call } = await setup(t);
  const data = randomBytes(100_000);
  const digest = await pushBlob(call, 'team/blobs', data);
  const head = await call(`/v2/team/blobs/blobs/${digest}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), '100000');
  assert.equal(head.headers.get('docker-content-digest'), digest);
  const got = await call(`/v2/team/blobs/blobs/${digest}`);
  assert.deepEqual(got.raw, data);
  const part = await call(`/v2/team/blobs/blobs/${digest}`, { headers: { range: 'bytes=10-19' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), 'bytes 10-19/100000');
  assert.deepEqual(part.raw, data.subarray(10, 20));
  const tail = await call(`/v2/team/blobs/blobs/${digest}`, { headers: { range: 'bytes=-5' } });
  assert.deepEqual(tail.raw, data.subarray(-5));
  const beyond = await call(`/v2/team/blobs/blobs/${digest}`, { headers: { range: 'bytes=100000-' } });
  assert.equal(beyond.status, 416);
  assert.equal(beyond.headers.get('content-range'), 'bytes */100000');

  // Chunked: POST, PATCH, PATCH (a wrong offset is refused), GET status, PUT with the last chunk.
  const chunked = randomBytes(3000);
  const chunkedDigest = digestOf(chunked);
  const started = await call('/v2/team/blobs/blobs/uploads/', { method: 'POST' });
  assert.equal(started.status, 202);
  assert.equal(started.headers.get('range'), '0-0');
  const location = started.headers.get('location')!;
  assert.match(location, /^\/v2\/team\/blobs\/blobs\/uploads\/[0-9a-f-]{36}$/);
  const p1 = await call(location, { method: 'PATCH', body: chunked.subarray(0, 1000), headers: { 'content-range': '0-999', 'content-type': 'application/octet-stream' } });
  assert.equal(p1.status, 202);
  assert.equal(p1.headers.get('range'), '0-999');
  const wrongOffset = await call(location, { method: 'PATCH', body: chunked.subarray(1000, 2000), headers: { 'content-range': '500-1499' } });
  assert.equal(wrongOffset.status, 416);
  assert.equal(code(wrongOffset), 'RANGE_INVALID');
  assert.equal(wrongOffset.headers.get('range'), '0-999');
  await call(location, { method: 'PATCH', body: chunked.subarray(1000, 2000) });
  const status = await call(location);
  assert.equal(status.status, 204);
  assert.equal(status.headers.get('range'), '0-1999');
  const done = await call(`${location}?digest=${chunkedDigest}`, { method: 'PUT', body: chunked.subarray(2000), headers: { 'content-range': '2000-2999' } });
  assert.equal(done.status, 201);
  assert.equal(done.headers.get('location'), `/v2/team/blobs/blobs/${chunkedDigest}`);
  assert.deepEqual(await kiln.blobs.get(chunkedDigest), chunked);
  assert.equal(code(await call(location)), 'BLOB_UPLOAD_UNKNOWN', 'a finished session is gone');

  // Streamed PATCH bodies, then a closing PUT without a body.
  const s = await call('/v2/team/blobs/blobs/uploads/', { method: 'POST' });
  async function* pieces() {
    yield Buffer.from('stream');
    yield Buffer.from('ed');
  }
  await call(s.headers.get('location')!, { method: 'PATCH', body: pieces() });
  assert.equal((await call(`${s.headers.get('location')}?digest=${digestOf('streamed')}`, { method: 'PUT' })).status, 201);

  // A wrong digest stores nothing; the session is gone.
  const bad = await call('/v2/team/blobs/blobs/uploads/', { method: 'POST' });
  await call(bad.headers.get('location')!, { method: 'PATCH', body: 'abc' });
  const wrongDigest = await call(`${bad.headers.get('location')}?digest=${digestOf('abd')}`, { method: 'PUT' });
  assert.equal(wrongDigest.status, 400);
  assert.equal(code(wrongDigest), 'DIGEST_INVALID');
  assert.equal(await kiln.blobs.has(digestOf('abc')), false);
  const mono = await call(`/v2/team/blobs/blobs/uploads/?digest=${digestOf('xyz')}`, { method: 'POST', body: 'not xyz' });
  assert.equal(code(mono), 'DIGEST_INVALID');
  assert.equal(code(await call('/v2/team/blobs/blobs/uploads/?digest=md5:abc', { method: 'POST', body: 'x' })), 'DIGEST_INVALID');

  // Cancelling a session.
  const cancel = await call('/v2/team/blobs/blobs/uploads/', { method: 'POST' });
  assert.equal((await call(cancel.headers.get('location')!, { method: 'DELETE' })).status, 204);
  assert.equal((await call(cancel.headers.get('location')!)).status, 404);

  // Unknown blobs, and blobs of another repository, are BLOB_UNKNOWN.
  const missing = await call(`/v2/team/blobs/blobs/${digestOf('nothing')}`);
  assert.deepEqual([missing.status, code(missing)], [404, 'BLOB_UNKNOWN']);
  await pushBlob(call, 'team/elsewhere', Buffer.from('x'));
  assert.equal(code(await call(`/v2/team/elsewhere/blobs/${digest}`)), 'BLOB_UNKNOWN');

  // A blob's upload session belongs to its account.
  const other = await kiln.addAccount('other');
  const own = await call('/v2/other/repo/blobs/uploads/', { method: 'POST', as: other });
  assert.equal(own.status, 202);
  assert.equal((await call(own.headers.get('location')!, { method: 'PATCH', body: 'x' })).status, 404, 'the admin may not write to another account\'s repository (nor learn that it exists)');

  // Deleting a blob from a repository.
  assert.equal((await call(`/v2/team/blobs/blobs/${digest}`, { method: 'DELETE' })).status, 202);
  assert.equal((await call(`/v2/team/blobs/blobs/${digest}`, { method: 'HEAD' })).status, 404);
  assert.equal(await kiln.blobs.has(digest), true, 'the blob store keeps the bytes');
});

test('bytes in and out are counted as they pass: uploads whole and chunked, downloads whole and ranged, manifests; HEAD and listings count none', async (t) => {
  const { kiln, call } = await setup(t);
  const zero = () => JSON.parse(JSON.stringify(kiln.bytes)) as typeof kiln.bytes;
  const before = zero();
  const data = randomBytes(50_000);
  const digest = await pushBlob(call, 'count/me', data);
  const s = await call('/v2/count/me/blobs/uploads/', { method: 'POST' });
  const chunk = randomBytes(3000);
  await call(s.headers.get('location')!, { method: 'PATCH', body: chunk.subarray(0, 1000) });
  assert.equal((await call(`${s.headers.get('location')}?digest=${digestOf(chunk)}`, { method: 'PUT', body: chunk.subarray(1000), headers: { 'content-range': '1000-2999' } })).status, 201);
  assert.deepEqual(kiln.bytes.in, { blob: before.in.blob + 50_000 + 3000, manifest: before.in.manifest });

  assert.equal((await call(`/v2/count/me/blobs/${digest}`, { method: 'HEAD' })).status, 200);
  assert.equal(kiln.bytes.out.blob, before.out.blob, 'a HEAD sends no body');
  assert.equal((await call(`/v2/count/me/blobs/${digest}`)).raw.length, 50_000);
  assert.equal((await call(`/v2/count/me/blobs/${digest}`, { headers: { range: 'bytes=10-19' } })).raw.length, 10);
  assert.equal(kiln.bytes.out.blob, before.out.blob + 50_010);

  const config = Buffer.from('{}');
  await pushBlob(call, 'count/me', config);
  const manifest = imageManifest(config, [data]);
  assert.equal((await call('/v2/count/me/manifests/v1', { method: 'PUT', body: manifest, headers: { 'content-type': OCI_MANIFEST } })).status, 201);
  assert.equal((await call('/v2/count/me/manifests/v1')).raw.length, manifest.length);
  assert.equal((await call('/v2/count/me/tags/list')).status, 200);
  assert.equal((await call('/v2/_catalog')).status, 200);
  assert.deepEqual(kiln.bytes, { in: { blob: before.in.blob + 53_002, manifest: before.in.manifest + manifest.length }, out: { blob: before.out.blob + 50_010, manifest: before.out.manifest + manifest.length } });
});

test('a 32 MiB blob streams through the registry (the API\'s 1 MiB body limit does not apply)', async (t) => {
  const { kiln, call } = await setup(t);
  const size = 32 << 20;
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  for (let i = 0; i < 32; i++) {
    const c = randomBytes(1 << 20);
    hash.update(c);
    chunks.push(c);
  }
  const digest = `sha256:${hash.digest('hex')}`;
  async function* body() {
    for (const c of chunks) yield c;
  }
  const s = await call('/v2/big/blob/blobs/uploads/', { method: 'POST' });
  const patched = await call(s.headers.get('location')!, { method: 'PATCH', body: body(), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(patched.headers.get('range'), `0-${size - 1}`);
  assert.equal((await call(`${s.headers.get('location')}?digest=${digest}`, { method: 'PUT' })).status, 201);
  assert.equal((await kiln.blobs.stat(digest))?.size, size);
});

test('manifests: every format by tag and digest, blob and child checks, tags, catalog and deletes', async (t) => {
  const { kiln, call } = await setup(t);
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const layer = randomBytes(500);
  const manifest = imageManifest(config, [layer]);
  const digest = digestOf(manifest);

  const early = await call('/v2/team/app/manifests/v1', { method: 'PUT', body: manifest, headers: { 'content-type': OCI_MANIFEST } });
  assert.deepEqual([early.status, code(early)], [400, 'MANIFEST_BLOB_UNKNOWN']);
  await pushBlob(call, 'team/app', config);
  await pushBlob(call, 'team/app', layer);
  const put = await call('/v2/team/app/manifests/v1', { method: 'PUT', body: manifest, headers: { 'content-type': OCI_MANIFEST } });
  assert.equal(put.status, 201);
  assert.equal(put.headers.get('docker-content-digest'), digest);
  assert.equal(put.headers.get('location'), `/v2/team/app/manifests/${digest}`);
  for (const ref of ['v1', digest]) {
    const got = await call(`/v2/team/app/manifests/${ref}`, { headers: { accept: OCI_MANIFEST } });
    assert.equal(got.status, 200);
    assert.deepEqual(got.raw, manifest);
    assert.equal(got.headers.get('content-type'), OCI_MANIFEST);
    assert.equal(got.headers.get('docker-content-digest'), digest);
    const head = await call(`/v2/team/app/manifests/${ref}`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), String(manifest.length));
  }
  assert.equal(code(await call('/v2/team/app/manifests/v9')), 'MANIFEST_UNKNOWN');
  assert.equal(code(await call(`/v2/team/app/manifests/${digestOf('other')}`, { method: 'PUT', body: manifest, headers: { 'content-type': OCI_MANIFEST } })), 'DIGEST_INVALID');
  assert.equal(code(await call('/v2/team/app/manifests/v2', { method: 'PUT', body: '{"schemaVersion":1}', headers: { 'content-type': OCI_MANIFEST } })), 'MANIFEST_INVALID');
  assert.equal(code(await call('/v2/team/app/manifests/v2', { method: 'PUT', body: manifest, headers: { 'content-type': DOCKER_MANIFEST } })), 'MANIFEST_INVALID', 'body and Content-Type disagree');
  assert.equal(code(await call('/v2/team/app/manifests/bad:tag', { method: 'PUT', body: manifest })), 'TAG_INVALID');
  assert.equal(code(await call('/v2/Team/App/manifests/v1')), 'NAME_INVALID');
  const sizeLie = imageManifest(config, [layer]).toString().replace('"size":500', '"size":501');
  assert.equal(code(await call('/v2/team/app/manifests/lie', { method: 'PUT', body: sizeLie, headers: { 'content-type': OCI_MANIFEST } })), 'MANIFEST_INVALID');

  // Docker v2 manifest and manifest list; an OCI index needs its children in the repository.
  const dockerManifest = imageManifest(config, [layer], DOCKER_MANIFEST);
  assert.equal((await call('/v2/team/app/manifests/docker', { method: 'PUT', body: dockerManifest, headers: { 'content-type': DOCKER_MANIFEST } })).status, 201);
  const entry = (m: Buffer, mediaType: string, architecture: string) => ({ mediaType, digest: digestOf(m), size: m.length, platform: { os: 'linux', architecture } });
  const list = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_MANIFEST_LIST, manifests: [entry(dockerManifest, DOCKER_MANIFEST, 'amd64')] }));
  assert.equal((await call('/v2/team/app/manifests/list', { method: 'PUT', body: list, headers: { 'content-type': DOCKER_MANIFEST_LIST } })).status, 201);
  assert.equal((await call('/v2/team/app/manifests/list')).headers.get('content-type'), DOCKER_MANIFEST_LIST);
  const orphan = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [entry(Buffer.from('{}'), OCI_MANIFEST, 'arm64')] }));
  assert.equal(code(await call('/v2/team/app/manifests/orphan', { method: 'PUT', body: orphan, headers: { 'content-type': OCI_INDEX } })), 'MANIFEST_BLOB_UNKNOWN');
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [entry(manifest, OCI_MANIFEST, 'amd64')] }));
  assert.equal((await call('/v2/team/app/manifests/multi', { method: 'PUT', body: index, headers: { 'content-type': OCI_INDEX } })).status, 201);

  // Tags list in lexical order, paged with a Link header.
  assert.deepEqual((await call('/v2/team/app/tags/list')).json, { name: 'team/app', tags: ['docker', 'list', 'multi', 'v1'] });
  const page = await call('/v2/team/app/tags/list?n=2');
  assert.deepEqual(page.json.tags, ['docker', 'list']);
  assert.equal(page.headers.get('link'), '</v2/team/app/tags/list?n=2&last=list>; rel="next"');
  assert.deepEqual((await call('/v2/team/app/tags/list?n=2&last=list')).json.tags, ['multi', 'v1']);
  assert.equal(code(await call('/v2/team/app/tags/list?n=x')), 'PAGINATION_NUMBER_INVALID');
  assert.equal(code(await call('/v2/team/none/tags/list')), 'NAME_UNKNOWN');

  // Deleting a tag, then a manifest by digest with the tags still pointing at it.
  assert.equal((await call('/v2/team/app/manifests/docker', { method: 'DELETE' })).status, 202);
  assert.equal((await call(`/v2/team/app/manifests/${digest}`, { method: 'DELETE' })).status, 202);
  assert.equal(code(await call('/v2/team/app/manifests/v1')), 'MANIFEST_UNKNOWN');
  assert.deepEqual((await call('/v2/team/app/tags/list')).json.tags, ['list', 'multi']);
  assert.equal(code(await call(`/v2/team/app/manifests/${digest}`, { method: 'DELETE' })), 'MANIFEST_UNKNOWN');

  // The catalog lists what the caller may read.
  const other = await kiln.addAccount('other');
  await pushBlob(call, 'other/private', Buffer.from('p'), other);
  await pushBlob(call, 'other/public', Buffer.from('q'), other);
  await kiln.registry.setAccess({ repository: 'other/public', public: true });
  assert.deepEqual((await call('/v2/_catalog')).json, { repositories: ['other/public', 'team/app'] });
  assert.deepEqual((await call('/v2/_catalog', { as: other })).json, { repositories: ['other/private', 'other/public'] });
  assert.deepEqual((await call('/v2/_catalog', { as: 'anonymous' })).json, { repositories: ['other/public'] });
  const cat = await call('/v2/_catalog?n=1', { as: other });
  assert.equal(cat.headers.get('link'), '</v2/_catalog?n=1&last=other%2Fprivate>; rel="next"');
});

test('accounts: owners write, others get 403 on pushes and 404 on reads until shared, anonymous reads public; mounts need read access', async (t) => {
  const { kiln, call } = await setup(t);
  const other = await kiln.addAccount('other');
  const layer = Buffer.from('shared layer');
  const digest = await pushBlob(call, 'team/owned', layer);

  for (const [path, method] of [['/v2/team/owned/blobs/uploads/', 'POST'], ['/v2/team/owned/manifests/x', 'PUT']] as const) {
    const r = await call(path, { method, as: other, body: method === 'PUT' ? '{}' : undefined });
    assert.deepEqual([r.status, code(r)], [403, 'DENIED'], `${method} ${path}`);
  }
  // Reads and deletes answer as for a missing repository (test/registry/private-repositories.test.ts).
  const del = await call(`/v2/team/owned/manifests/${digest}`, { method: 'DELETE', as: other });
  assert.deepEqual([del.status, code(del)], [404, 'NAME_UNKNOWN']);
  const read = await call(`/v2/team/owned/blobs/${digest}`, { as: other });
  assert.deepEqual([read.status, code(read)], [404, 'NAME_UNKNOWN']);
  const anonRead = await call(`/v2/team/owned/blobs/${digest}`, { as: 'anonymous' });
  assert.equal(anonRead.status, 401);
  assert.equal(anonRead.headers.get('www-authenticate'), 'Basic realm="kiln"');
  assert.equal(code(await call('/v2/team/owned/blobs/uploads/', { method: 'POST', as: 'anonymous' })), 'UNAUTHORIZED');

  // A mount from a repository the caller may not read falls back to a plain upload session.
  const denied = await call(`/v2/other/copy/blobs/uploads/?mount=${digest}&from=team/owned`, { method: 'POST', as: other });
  assert.equal(denied.status, 202);
  await kiln.registry.setAccess({ repository: 'team/owned', accounts: [other.accountId] });
  assert.deepEqual((await call(`/v2/team/owned/blobs/${digest}`, { as: other })).raw, layer);
  const mounted = await call(`/v2/other/copy/blobs/uploads/?mount=${digest}&from=team/owned`, { method: 'POST', as: other });
  assert.equal(mounted.status, 201);
  assert.equal(mounted.headers.get('docker-content-digest'), digest);
  assert.deepEqual((await call(`/v2/other/copy/blobs/${digest}`, { as: other })).raw, layer);
  assert.equal(code(await call('/v2/team/owned/blobs/uploads/', { method: 'POST', as: other })), 'DENIED', 'sharing grants reads only');
  assert.equal(code(await call(`/v2/team/owned/blobs/${digest}`, { method: 'DELETE', as: other })), 'DENIED', 'a reader knows the repository exists');

  await kiln.registry.setAccess({ repository: 'team/owned', public: true });
  assert.deepEqual((await call(`/v2/team/owned/blobs/${digest}`, { as: 'anonymous' })).raw, layer);
  await kiln.registry.setAccess({ repository: 'team/owned', accounts: [], public: false });
  assert.equal((await call(`/v2/team/owned/blobs/${digest}`, { as: other })).status, 404);
});

test('unknown endpoints and methods answer in the spec\'s error shape', async (t) => {
  const { call } = await setup(t);
  const r = await call('/v2/team/app/nothing-here');
  assert.equal(r.status, 404);
  assert.ok(code(r));
  const m = await call('/v2/team/app/tags/list', { method: 'DELETE' });
  assert.deepEqual([m.status, code(m)], [405, 'UNSUPPORTED']);
});
