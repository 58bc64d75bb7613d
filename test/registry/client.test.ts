/**
 * The registry client against real registries: Debian's docker-registry (distribution 2.8) open, behind
 * htpasswd and behind token auth, a redirecting front for blob downloads, and Kiln's own registry.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { FsBlobStore } from '../../src/artifacts/blob-store.js';
import { canonicalJson, MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST } from '../../src/artifacts/oci/image.js';
import { hasTool } from '../../src/artifacts/oci/testing.js';
import { isKilnError } from '../../src/domain/errors.js';
import { RegistryClient } from '../../src/registry/client/registry-client.js';
import { dockerRegistryUnavailable, makeTestImage, startDockerRegistry, startKilnRegistry, startTokenServer } from '../helpers/registry.js';

const execFileAsync = promisify(execFile);
const skip = dockerRegistryUnavailable() ?? (hasTool('getfattr') ? (hasTool('skopeo') ? false : 'needs skopeo') : 'needs getfattr (Debian package attr)');

function tempStore(t: TestContext): FsBlobStore {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-client-blobs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return new FsBlobStore(dir);
}

async function skopeoDigest(ref: string, creds?: string): Promise<string> {
  const args = ['inspect', '--raw', '--tls-verify=false', ...(creds ? ['--creds', creds] : []), `docker://${ref}`];
  const raw = (await execFileAsync('skopeo', args, { encoding: 'buffer' })).stdout;
  return `sha256:${(await import('node:crypto')).createHash('sha256').update(raw).digest('hex')}`;
}

test('push then pull through docker-registry gives the same digests; a second push sends no layer bytes', { skip, timeout: 120_000 }, async (t) => {
  const reg = await startDockerRegistry(t);
  const client = new RegistryClient([{ host: reg.host, insecure: true }]);
  const source = tempStore(t);
  const image = await makeTestImage(source, { 'etc/greeting': 'hello\n', 'srv/data.bin': randomBytes(200_000).toString('base64') });
  const ref = { registry: reg.host, repository: 'kiln/test', tag: 'v1' };

  const first = await client.push(source, image.manifestDigest, ref);
  assert.equal(first.manifestDigest, image.manifestDigest);
  const layerSize = (await source.stat(image.layerDigests[0]!))!.size;
  const configSize = (await source.stat(image.configDigest))!.size;
  assert.equal(first.bytesSent, layerSize + configSize);
  assert.equal(first.blobsSkipped, 0);
  assert.equal(await skopeoDigest(`${reg.host}/kiln/test:v1`), image.manifestDigest, 'skopeo sees the pushed manifest');

  const again = await client.push(source, image.manifestDigest, { ...ref, tag: 'v1-again' });
  assert.deepEqual([again.bytesSent, again.blobsSkipped], [0, 2]);

  const target = tempStore(t);
  const pulled = await client.pull(ref, target);
  assert.equal(pulled.manifestDigest, image.manifestDigest);
  assert.equal(pulled.configDigest, image.configDigest);
  assert.equal(pulled.mediaType, MEDIA_TYPE_MANIFEST);
  assert.deepEqual(pulled.layers.map((l) => l.digest), image.layerDigests);
  assert.equal((pulled.config as { architecture?: string }).architecture, 'amd64');
  for (const d of [image.manifestDigest, image.configDigest, ...image.layerDigests]) assert.deepEqual(await target.get(d), await source.get(d));
  // By digest too, and a second pull finds everything stored.
  const byDigest = await client.pull({ registry: reg.host, repository: 'kiln/test', digest: image.manifestDigest }, target);
  assert.equal(byDigest.manifestDigest, image.manifestDigest);

  // A cross-repository mount moves no bytes.
  const mounted = await client.push(source, image.manifestDigest, { registry: reg.host, repository: 'kiln/copy', tag: 'v1' }, { mountFrom: 'kiln/test' });
  assert.deepEqual([mounted.bytesSent, mounted.blobsSkipped], [0, 2]);

  await assert.rejects(client.pull({ registry: reg.host, repository: 'kiln/missing', tag: 'v1' }, target), (e) => isKilnError(e, 'NotFound') && /kiln\/missing/.test(e.message));
});

test('a multi-arch index: pushed with its images, pulls pick linux/amd64 by default or the platform asked for', { skip, timeout: 120_000 }, async (t) => {
  const reg = await startDockerRegistry(t);
  const client = new RegistryClient([{ host: reg.host, insecure: true }]);
  const source = tempStore(t);
  const amd = await makeTestImage(source, { 'arch.txt': 'amd64\n' });
  const arm = await makeTestImage(source, { 'arch.txt': 'arm64\n' }, { architecture: 'arm64' });
  const entry = async (digest: string, architecture: string) => ({ mediaType: MEDIA_TYPE_MANIFEST, digest, size: (await source.stat(digest))!.size, platform: { os: 'linux', architecture } });
  const index = { schemaVersion: 2, mediaType: MEDIA_TYPE_INDEX, manifests: [await entry(arm.manifestDigest, 'arm64'), await entry(amd.manifestDigest, 'amd64')] };
  const stored = await source.put(Buffer.from(canonicalJson(index)));
  const ref = { registry: reg.host, repository: 'kiln/multi', tag: 'latest' };
  const pushed = await client.push(source, stored.digest, ref);
  assert.equal(pushed.manifestDigest, stored.digest);
  assert.equal(await skopeoDigest(`${reg.host}/kiln/multi:latest`), stored.digest);

  const target = tempStore(t);
  const picked = await client.pull(ref, target);
  assert.equal(picked.manifestDigest, amd.manifestDigest);
  const armPulled = await client.pull(ref, target, { platform: { os: 'linux', architecture: 'arm64' } });
  assert.equal(armPulled.manifestDigest, arm.manifestDigest);
  assert.equal((armPulled.config as { architecture?: string }).architecture, 'arm64');
  await assert.rejects(client.pull(ref, target, { platform: { os: 'linux', architecture: 's390x' } }), (e) => isKilnError(e, 'NotFound') && /linux\/arm64, linux\/amd64/.test(e.message));
});

test('Basic auth with an htpasswd file: the right password works, none or a wrong one is Forbidden', { skip, timeout: 120_000 }, async (t) => {
  const reg = await startDockerRegistry(t, { htpasswd: { alice: 's3cret' } });
  const source = tempStore(t);
  const image = await makeTestImage(source, { 'etc/basic': 'basic\n' });
  const ref = { registry: reg.host, repository: 'kiln/basic', tag: 'v1' };
  const alice = new RegistryClient([{ host: reg.host, insecure: true, username: 'alice', password: 's3cret' }]);
  await alice.push(source, image.manifestDigest, ref);
  assert.equal((await alice.pull(ref, tempStore(t))).manifestDigest, image.manifestDigest);
  for (const who of [{}, { username: 'alice', password: 'wrong' }]) {
    const client = new RegistryClient([{ host: reg.host, insecure: true, ...who }]);
    await assert.rejects(client.pull(ref, tempStore(t)), (e) => isKilnError(e, 'Forbidden'));
    await assert.rejects(client.push(source, image.manifestDigest, ref), (e) => isKilnError(e, 'Forbidden'));
  }
});

test('token auth: the client gets RS256 tokens from the realm with its credentials and caches them per scope', { skip, timeout: 120_000 }, async (t) => {
  const tokens = await startTokenServer(t, { users: { alice: 'pw' }, anonymousPull: true });
  const reg = await startDockerRegistry(t, { token: tokens });
  const source = tempStore(t);
  const image = await makeTestImage(source, { 'etc/token': 'token\n' });
  const ref = { registry: reg.host, repository: 'kiln/token', tag: 'v1' };
  const alice = new RegistryClient([{ host: reg.host, insecure: true, username: 'alice', password: 'pw' }]);

  const pushed = await alice.push(source, image.manifestDigest, ref);
  assert.equal(pushed.bytesSent > 0, true);
  assert.equal(tokens.requests.length, 1, `one token for the whole push: ${JSON.stringify(tokens.requests)}`);
  assert.deepEqual(tokens.requests[0], { scopes: ['repository:kiln/token:pull,push'], user: 'alice' });
  await alice.pull(ref, tempStore(t));
  await alice.pull(ref, tempStore(t));
  assert.equal(tokens.requests.length, 2, 'a pull scope gets its own token, once');
  assert.deepEqual(tokens.requests[1], { scopes: ['repository:kiln/token:pull'], user: 'alice' });

  // Anonymous callers get pull-only tokens: pulls work, pushes are refused by the registry.
  const anonymous = new RegistryClient([{ host: reg.host, insecure: true }]);
  assert.equal((await anonymous.pull(ref, tempStore(t))).manifestDigest, image.manifestDigest);
  await assert.rejects(anonymous.push(source, image.manifestDigest, { ...ref, tag: 'v2' }), (e) => isKilnError(e, 'Forbidden'));
  const wrong = new RegistryClient([{ host: reg.host, insecure: true, username: 'alice', password: 'nope' }]);
  await assert.rejects(wrong.pull(ref, tempStore(t)), (e) => isKilnError(e, 'Forbidden') && /token server/.test(e.message));
});

/** Answers like a registry that keeps blobs elsewhere: manifests from `upstream`, blob GETs 307 to `storage`. */
function startRedirectingFront(t: TestContext, upstream: string, storage: string, credentials: string): Promise<string> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.headers.authorization !== `Basic ${Buffer.from(credentials).toString('base64')}`) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="front"' }).end();
      return;
    }
    if (/\/blobs\/sha256:/.test(req.url ?? '')) {
      res.writeHead(307, { location: `${storage}${req.url}` }).end();
      return;
    }
    void fetch(`${upstream}${req.url}`, { headers: { accept: req.headers.accept ?? '*/*' } }).then(async (up) => {
      res.writeHead(up.status, Object.fromEntries(up.headers));
      res.end(Buffer.from(await up.arrayBuffer()));
    });
  });
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

/** Blob storage on another origin: records whether requests carried credentials, then serves from `upstream`. */
function startStorage(t: TestContext, upstream: string, seen: (string | undefined)[]): Promise<string> {
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization);
    void fetch(`${upstream}${req.url}`).then(async (up) => {
      res.writeHead(up.status, { 'content-type': 'application/octet-stream' });
      Readable.fromWeb(up.body as never).pipe(res);
    });
  });
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

test('blob downloads follow 307 redirects, without sending credentials to the other origin', { skip, timeout: 120_000 }, async (t) => {
  const reg = await startDockerRegistry(t);
  const source = tempStore(t);
  const image = await makeTestImage(source, { 'etc/redirect': 'redirect\n' });
  await new RegistryClient([{ host: reg.host, insecure: true }]).push(source, image.manifestDigest, { registry: reg.host, repository: 'kiln/redirect', tag: 'v1' });
  const seen: (string | undefined)[] = [];
  const storage = await startStorage(t, reg.url, seen);
  const front = await startRedirectingFront(t, reg.url, storage, 'bob:pw');
  const client = new RegistryClient([{ host: front, insecure: true, username: 'bob', password: 'pw' }]);
  const pulled = await client.pull({ registry: front, repository: 'kiln/redirect', tag: 'v1' }, tempStore(t));
  assert.equal(pulled.manifestDigest, image.manifestDigest);
  assert.equal(seen.length, 2, 'config and layer came from the storage origin');
  assert.deepEqual(seen, [undefined, undefined]);
});

test('the client pushes to and pulls from Kiln\'s built-in registry with a Kiln access key', { skip, timeout: 120_000 }, async (t) => {
  const kiln = await startKilnRegistry(t);
  const source = tempStore(t);
  const image = await makeTestImage(source, { 'etc/kiln': 'kiln\n' });
  const client = new RegistryClient([{ host: kiln.host, insecure: true, username: kiln.admin.accessKeyId, password: kiln.admin.secretAccessKey }]);
  const ref = { registry: kiln.host, repository: 'team/client', tag: 'v1' };
  const pushed = await client.push(source, image.manifestDigest, ref);
  assert.equal(pushed.blobsSkipped, 0);
  assert.equal((await client.push(source, image.manifestDigest, { ...ref, tag: 'v2' })).bytesSent, 0);
  const mounted = await client.push(source, image.manifestDigest, { ...ref, repository: 'team/mounted' }, { mountFrom: 'team/client' });
  assert.deepEqual([mounted.bytesSent, mounted.blobsSkipped], [0, 2]);
  const pulled = await client.pull(ref, tempStore(t));
  assert.equal(pulled.manifestDigest, image.manifestDigest);
  assert.deepEqual(await kiln.registry.resolve({ accountId: kiln.admin.accountId, repository: 'team/client', reference: 'v2' }), { manifestDigest: image.manifestDigest, mediaType: MEDIA_TYPE_MANIFEST });
  const stranger = new RegistryClient([{ host: kiln.host, insecure: true }]);
  await assert.rejects(stranger.pull(ref, tempStore(t)), (e) => isKilnError(e, 'Forbidden'));
});

test('large blobs stream through push and pull without being held in memory', { skip, timeout: 300_000 }, async (t) => {
  const size = 256 * 1024 * 1024;
  const source = tempStore(t);
  async function* random(): AsyncGenerator<Uint8Array> {
    for (let sent = 0; sent < size; sent += 1 << 20) yield randomBytes(1 << 20);
  }
  const layer = await source.put(random());
  const config = await source.put(Buffer.from(canonicalJson({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } })));
  const manifest = canonicalJson({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_MANIFEST,
    config: { mediaType: MEDIA_TYPE_CONFIG, digest: config.digest, size: config.size },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size }],
  });
  const stored = await source.put(Buffer.from(manifest));
  const reg = await startDockerRegistry(t);
  const kiln = await startKilnRegistry(t);
  for (const [label, host, creds] of [
    ['docker-registry', reg.host, {}],
    ['kiln', kiln.host, { username: kiln.admin.accessKeyId, password: kiln.admin.secretAccessKey }],
  ] as const) {
    const client = new RegistryClient([{ host, insecure: true, ...creds }]);
    const ref = { registry: host, repository: 'kiln/large', tag: 'v1' };
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    try {
      let started = Date.now();
      const pushed = await client.push(source, stored.digest, ref);
      const pushMs = Date.now() - started;
      assert.equal(pushed.bytesSent, layer.size + config.size);
      started = Date.now();
      const target = tempStore(t);
      await client.pull(ref, target);
      const pullMs = Date.now() - started;
      assert.equal((await target.stat(layer.digest))?.size, size);
      const mb = size / (1 << 20);
      t.diagnostic(`${label}: push ${mb} MiB in ${pushMs} ms (${Math.round((mb * 1000) / pushMs)} MiB/s), pull in ${pullMs} ms (${Math.round((mb * 1000) / pullMs)} MiB/s), peak RSS +${Math.round((peak - base) / (1 << 20))} MiB`);
    } finally {
      clearInterval(sampler);
    }
    assert.ok(peak - base < size / 2, `${label}: RSS grew by ${Math.round((peak - base) / (1 << 20))} MiB while moving ${size >> 20} MiB`);

    // Cancelling half way leaves no partial blob behind, on either side.
    const target = tempStore(t);
    const controller = new AbortController();
    const pulling = client.pull(ref, target, { signal: controller.signal });
    setTimeout(() => controller.abort(), 150);
    await assert.rejects(pulling, (e) => isKilnError(e, 'Cancelled'));
    assert.deepEqual((await target.list()).map((b) => b.digest).filter((d) => d === layer.digest), []);
    const pushController = new AbortController();
    pushController.abort();
    await assert.rejects(client.push(source, stored.digest, { ...ref, repository: 'kiln/cancelled' }, { signal: pushController.signal }), (e) => isKilnError(e, 'Cancelled'));
  }
});
