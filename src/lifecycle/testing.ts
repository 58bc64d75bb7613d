/**
 * Test helpers for lifecycle tests: small real OCI images in a blob store and image records that name them, as
 * a build would leave them (no build needed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { BlobStore } from '../artifacts/blob-store.js';
import { writeImage, type StoredImage } from '../artifacts/oci/image.js';
import { writeTar, type LayerDescriptor } from '../artifacts/oci/layer.js';
import { END_OF_ARCHIVE, encodeHeader, padding } from '../artifacts/oci/tar.js';
import { SecretBox } from '../store/secret-box.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { ResourceRecord, Store } from '../store/store.js';

export const ACCOUNT = '123456789012';
export const REGION = 'local';

/** A SqliteStore in a temp dir that goes away after the test; `dir` is free for blobs and layers too. */
export function tempStore(t: TestContext): { store: SqliteStore; dir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-lifecycle-'));
  const store = new SqliteStore({ path: path.join(dir, 'kiln.db'), secrets: SecretBox.openKeyFile(path.join(dir, 'secret.key')) });
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, dir };
}

/** An uncompressed layer holding one file `name` with `content`. */
export async function makeLayer(blobs: BlobStore, name: string, content: string): Promise<LayerDescriptor> {
  const body = Buffer.from(content);
  const header = encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.byteLength, mtime: 1_700_000_000 });
  async function* tar(): AsyncGenerator<Uint8Array> {
    yield header;
    yield body;
    yield padding(body.byteLength);
    yield END_OF_ARCHIVE;
  }
  return writeTar(blobs, tar(), { compression: 'none' });
}

/** An image of `layers` (bottom first); `label` makes its config, and so its digests, its own. */
export async function makeImage(blobs: BlobStore, layers: readonly LayerDescriptor[], label: string): Promise<StoredImage> {
  return writeImage(blobs, { layers, created: '2026-01-01T00:00:00Z', config: { Labels: { image: label } } });
}

export interface ImageRecordInput {
  accountId?: string;
  region?: string;
  name: string;
  version?: string;
  type?: 'AMI' | 'DOCKER';
  status?: string;
  dateCreated: Date;
  tags?: Record<string, string>;
  containerImage?: StoredImage;
  imageUris?: string[];
  data?: Record<string, unknown>;
}

/** An image build version as a finished build leaves it (next build number of its name and version). */
export async function addImageRecord(store: Store, input: ImageRecordInput): Promise<ResourceRecord> {
  const accountId = input.accountId ?? ACCOUNT;
  const region = input.region ?? REGION;
  const version = input.version ?? '1.0.0';
  const type = input.type ?? 'DOCKER';
  const data: Record<string, unknown> = {
    name: input.name,
    type,
    platform: 'Linux',
    state: { status: input.status ?? 'AVAILABLE' },
    infrastructureConfiguration: {},
    buildType: 'USER_INITIATED',
    imageSource: 'CUSTOM',
    dateCreated: input.dateCreated.toISOString(),
    tags: input.tags ?? {},
    ...(input.containerImage
      ? { containerImage: { manifestDigest: input.containerImage.manifestDigest, mediaType: input.containerImage.manifest.mediaType, configDigest: input.containerImage.configDigest } }
      : {}),
    outputResources: type === 'DOCKER' ? { containers: input.imageUris ? [{ region, imageUris: input.imageUris }] : [] } : { amis: [] },
    ...input.data,
  };
  const { record } = await store.createResource({
    accountId,
    region,
    type: 'image',
    name: input.name,
    version,
    arn: `arn:aws:imagebuilder:${region}:${accountId}:image/${input.name}/${version}`,
    build: 'assign',
    data,
  });
  return record;
}

/** The image's state as stored. */
export async function statusOf(store: Store, arn: string): Promise<string | undefined> {
  return ((await store.getResource(arn))?.data.state as { status?: string } | undefined)?.status;
}
