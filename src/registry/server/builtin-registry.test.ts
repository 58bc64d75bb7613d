/** The build engine's view of the registry: tag, resolve and share, over a real SQLite store and blob store. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { FsBlobStore, type BlobStore } from '../../artifacts/blob-store.js';
import { isKilnError } from '../../domain/errors.js';
import { SecretBox } from '../../store/secret-box.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { OCI_INDEX, OCI_MANIFEST } from '../manifest.js';
import { createBuiltinRegistry } from './builtin-registry.js';

const A = '111111111111';
const B = '222222222222';

function open(dir: string): { store: SqliteStore; blobs: FsBlobStore } {
  return { store: new SqliteStore({ path: path.join(dir, 'kiln.db'), secrets: SecretBox.openKeyFile(path.join(dir, 'secret.key')) }), blobs: new FsBlobStore(path.join(dir, 'blobs')) };
}

function setup(t: TestContext) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-builtin-'));
  const { store, blobs } = open(dir);
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, store, blobs, registry: createBuiltinRegistry({ store, blobs, region: 'local' }) };
}

/** Stores an image (config + one layer + manifest) the way the build engine leaves one in the blob store. */
async function storeImage(blobs: BlobStore, seed: string, options: { withLayer?: boolean } = {}): Promise<{ digest: string; size: number }> {
  const config = await blobs.put(Buffer.from(`{"architecture":"amd64","os":"linux","seed":"${seed}"}`));
  const layerBytes = Buffer.from(`layer ${seed}`);
  const layer = options.withLayer === false ? { digest: `sha256:${'0'.repeat(64)}`, size: layerBytes.length } : await blobs.put(layerBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size }],
  };
  return blobs.put(Buffer.from(JSON.stringify(manifest)));
}

test('tag creates the repository for its account; resolve finds tags and digests; records survive a reopen', async (t) => {
  const { dir, store, blobs, registry } = setup(t);
  const image = await storeImage(blobs, 'one');
  await registry.tag({ accountId: A, repository: 'team/app', tag: '1.0.0-1', manifestDigest: image.digest, mediaType: OCI_MANIFEST });
  await registry.tag({ accountId: A, repository: 'team/app', tag: 'latest', manifestDigest: image.digest, mediaType: OCI_MANIFEST });
  const expected = { manifestDigest: image.digest, mediaType: OCI_MANIFEST };
  assert.deepEqual(await registry.resolve({ accountId: A, repository: 'team/app', reference: 'latest' }), expected);
  assert.deepEqual(await registry.resolve({ accountId: A, repository: 'team/app', reference: image.digest }), expected);
  assert.equal((await store.getRegistryRepository('team/app'))?.accountId, A);
  assert.deepEqual(await store.listRegistryTags('team/app'), ['1.0.0-1', 'latest']);

  // Re-tagging moves the tag.
  const two = await storeImage(blobs, 'two');
  await registry.tag({ accountId: A, repository: 'team/app', tag: 'latest', manifestDigest: two.digest, mediaType: OCI_MANIFEST });
  assert.equal((await registry.resolve({ accountId: A, repository: 'team/app', reference: 'latest' })).manifestDigest, two.digest);

  const reopened = open(dir);
  t.after(() => reopened.store.close());
  const again = createBuiltinRegistry({ ...reopened, region: 'local' });
  assert.deepEqual(await again.resolve({ accountId: A, repository: 'team/app', reference: '1.0.0-1' }), expected);
});

test('tag refuses what is not stored, bad names, and another account\'s repository', async (t) => {
  const { blobs, registry } = setup(t);
  const image = await storeImage(blobs, 'x');
  const tag = (over: Partial<Parameters<typeof registry.tag>[0]>) => registry.tag({ accountId: A, repository: 'team/app', tag: 'v1', manifestDigest: image.digest, mediaType: OCI_MANIFEST, ...over });
  await assert.rejects(tag({ manifestDigest: `sha256:${'9'.repeat(64)}` }), (e) => isKilnError(e, 'NotFound'));
  const noLayer = await storeImage(blobs, 'y', { withLayer: false });
  await assert.rejects(tag({ manifestDigest: noLayer.digest }), (e) => isKilnError(e, 'NotFound') && e.message.includes('0'.repeat(64)));
  await assert.rejects(tag({ repository: 'Team/App' }), (e) => isKilnError(e, 'InvalidArgument') && e.message.includes('Team/App'));
  await assert.rejects(tag({ tag: '-bad' }), (e) => isKilnError(e, 'InvalidArgument') && e.message.includes('-bad'));
  await assert.rejects(tag({ manifestDigest: 'sha256:short' }), (e) => isKilnError(e, 'InvalidArgument'));
  await assert.rejects(tag({ mediaType: OCI_INDEX }), (e) => isKilnError(e, 'InvalidArgument'));
  await tag({});
  await assert.rejects(tag({ accountId: B, tag: 'mine' }), (e) => isKilnError(e, 'Forbidden') && e.message.includes('team/app'));
});

test('an index is tagged with its images; resolve gives the index and its images by digest', async (t) => {
  const { blobs, registry } = setup(t);
  const amd = await storeImage(blobs, 'amd');
  const arm = await storeImage(blobs, 'arm');
  const index = await blobs.put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { mediaType: OCI_MANIFEST, digest: amd.digest, size: amd.size, platform: { os: 'linux', architecture: 'amd64' } },
          { mediaType: OCI_MANIFEST, digest: arm.digest, size: arm.size, platform: { os: 'linux', architecture: 'arm64' } },
        ],
      }),
    ),
  );
  await registry.tag({ accountId: A, repository: 'team/multi', tag: 'v1', manifestDigest: index.digest, mediaType: OCI_INDEX });
  assert.deepEqual(await registry.resolve({ accountId: A, repository: 'team/multi', reference: 'v1' }), { manifestDigest: index.digest, mediaType: OCI_INDEX });
  assert.equal((await registry.resolve({ accountId: A, repository: 'team/multi', reference: arm.digest })).mediaType, OCI_MANIFEST);
});

test('resolve: owners, shared accounts and (for public repositories) anyone; NotFound for other accounts (as for a missing repository), Forbidden for anonymous readers', async (t) => {
  const { blobs, registry } = setup(t);
  const image = await storeImage(blobs, 'z');
  await registry.tag({ accountId: A, repository: 'team/app', tag: 'v1', manifestDigest: image.digest, mediaType: OCI_MANIFEST });
  const resolve = (accountId: string | undefined, reference = 'v1', repository = 'team/app') => registry.resolve({ accountId, repository, reference });
  await assert.rejects(resolve(B), (e) => isKilnError(e, 'NotFound'));
  await assert.rejects(resolve(undefined), (e) => isKilnError(e, 'Forbidden'));
  await assert.rejects(resolve(A, 'v2'), (e) => isKilnError(e, 'NotFound') && e.message.includes('v2'));
  await assert.rejects(resolve(A, 'v1', 'team/none'), (e) => isKilnError(e, 'NotFound') && e.message.includes('team/none'));
  await registry.setAccess({ repository: 'team/app', accounts: [B] });
  assert.equal((await resolve(B)).manifestDigest, image.digest);
  await assert.rejects(resolve(undefined), (e) => isKilnError(e, 'Forbidden'));
  await registry.setAccess({ repository: 'team/app', public: true });
  assert.equal((await resolve(undefined)).manifestDigest, image.digest);
  await registry.setAccess({ repository: 'team/app', accounts: [], public: false });
  await assert.rejects(resolve(B), (e) => isKilnError(e, 'NotFound'));
  await assert.rejects(registry.setAccess({ repository: 'team/none', public: true }), (e) => isKilnError(e, 'NotFound'));
  await assert.rejects(registry.setAccess({ repository: 'team/app', accounts: ['12'] }), (e) => isKilnError(e, 'InvalidArgument') && e.message.includes('accounts[0]'));
});
