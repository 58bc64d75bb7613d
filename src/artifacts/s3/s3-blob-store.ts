/**
 * The BlobStore on an S3-compatible object store (AWS S3, MinIO, Ceph RGW, Garage…), so that every node of a
 * cluster reads and writes the same layers, manifests and disks. Blobs are objects `<prefix>sha256/<hex>`.
 *
 * A blob's digest is known only once all of it was read, but S3 names an object before its first byte. So a
 * stream larger than one part goes to a multipart upload under `<prefix>uploads/<random>`, hashed on the way,
 * and is copied server-side to its digest's key once verified; content that fits in one part is verified in
 * memory and put under its digest directly. Either way an object appears under a digest only complete and
 * verified, and a failed or aborted put aborts its upload and deletes its temp object.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { KilnError } from '../../domain/errors.js';
import { digestHex, type BlobInfo, type BlobSource, type BlobStore, type Digest, type PutOptions } from '../blob-store.js';

/** Bytes per uploaded part: S3's minimum is 5 MiB (but for the last); larger parts mean fewer requests. */
const PART_BYTES = 16 * 1024 * 1024;
/** The largest object CopyObject copies in one request; larger ones are copied part by part. */
const COPY_MAX = 5 * 1024 ** 3;
const COPY_PART = 1024 ** 3;

export interface S3BlobStoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix of everything this store writes, e.g. `kiln/` (default: none). */
  prefix?: string;
  /** Told of a temp object or upload a failed put could not remove (default: a process warning naming it). */
  onLeak?: (what: string, err: unknown) => void;
}

const isMissing = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
};

export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly onLeak: (what: string, err: unknown) => void;

  constructor(options: S3BlobStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    this.onLeak = options.onLeak ?? ((what, err) => process.emitWarning(`blob store: could not remove ${what}: ${String(err)}`));
  }

  /** Runs an undo of a failed put; its own failure is reported with what it leaked and does not hide the put's error. */
  private async undo(what: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.onLeak(what, err);
    }
  }

  private key(digest: string): string {
    return `${this.prefix}sha256/${digestHex(digest)}`;
  }

  /** Where puts in progress keep their temp objects (what a crashed node's leftovers are found under). */
  get uploadsPrefix(): string {
    return `${this.prefix}uploads/`;
  }

  async put(source: BlobSource, options: PutOptions = {}): Promise<BlobInfo> {
    if (options.expectedDigest !== undefined) digestHex(options.expectedDigest);
    const { signal } = options;
    signal?.throwIfAborted();
    const hash = createHash('sha256');
    let size = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let upload: { key: string; id: string; parts: { ETag: string; PartNumber: number }[] } | undefined;
    const flushPart = async (): Promise<void> => {
      const body = Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      if (!upload) {
        const key = `${this.uploadsPrefix}${randomBytes(12).toString('hex')}`;
        const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
        upload = { key, id: created.UploadId!, parts: [] };
      }
      const PartNumber = upload.parts.length + 1;
      const part = await this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key: upload.key, UploadId: upload.id, PartNumber, Body: body }), { abortSignal: signal });
      upload.parts.push({ ETag: part.ETag!, PartNumber });
    };
    let tempObject: string | undefined;
    try {
      const chunks: AsyncIterable<Uint8Array> | Uint8Array[] = source instanceof Uint8Array ? [source] : source;
      for await (const chunk of chunks) {
        signal?.throwIfAborted();
        hash.update(chunk);
        size += chunk.byteLength;
        pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        pendingBytes += chunk.byteLength;
        if (pendingBytes >= PART_BYTES) await flushPart();
      }
      signal?.throwIfAborted();
      const digest: Digest = `sha256:${hash.digest('hex')}`;
      if (options.expectedDigest !== undefined && options.expectedDigest !== digest) {
        throw new KilnError('InvalidArgument', `blob content is ${digest}, expected ${options.expectedDigest}`);
      }
      if (options.expectedSize !== undefined && options.expectedSize !== size) {
        throw new KilnError('InvalidArgument', `blob ${digest} has ${size} bytes, expected ${options.expectedSize}`);
      }
      const final = this.key(digest);
      if (!upload) {
        // One part or less: verified in memory, so it can go under its digest at once.
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: final, Body: Buffer.concat(pending), ContentLength: size }), { abortSignal: signal });
        return { digest, size };
      }
      if (pendingBytes > 0) await flushPart();
      const done: { key: string; id: string; parts: { ETag: string; PartNumber: number }[] } = upload;
      await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: done.key, UploadId: done.id, MultipartUpload: { Parts: done.parts } }),
        { abortSignal: signal },
      );
      upload = undefined;
      tempObject = done.key;
      // Identical content under one digest: a concurrent put copying the same bytes over it is harmless.
      if (!(await this.has(digest))) await this.copy(done.key, final, size, signal);
      return { digest, size };
    } finally {
      // Whatever did not become the blob goes: an open multipart upload, or the completed temp object.
      const leftover = upload as { key: string; id: string } | undefined;
      if (leftover) {
        await this.undo(`multipart upload ${leftover.id} of ${this.bucket}/${leftover.key}`, () =>
          this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: leftover.key, UploadId: leftover.id })),
        );
      }
      const temp = tempObject;
      if (temp) await this.undo(`temp object ${this.bucket}/${temp}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: temp })));
    }
  }

  /** Server-side copy: one request up to 5 GiB, else a multipart copy in 1 GiB ranges. */
  private async copy(from: string, to: string, size: number, signal?: AbortSignal): Promise<void> {
    const CopySource = `${this.bucket}/${from}`;
    if (size <= COPY_MAX) {
      await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource }), { abortSignal: signal });
      return;
    }
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: to }), { abortSignal: signal });
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let start = 0; start < size; start += COPY_PART) {
        const PartNumber = parts.length + 1;
        const range = `bytes=${start}-${Math.min(start + COPY_PART, size) - 1}`;
        const part = await this.client.send(new UploadPartCopyCommand({ Bucket: this.bucket, Key: to, UploadId, PartNumber, CopySource, CopySourceRange: range }), { abortSignal: signal });
        parts.push({ ETag: part.CopyPartResult!.ETag!, PartNumber });
      }
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId, MultipartUpload: { Parts: parts } }), { abortSignal: signal });
    } catch (err) {
      await this.undo(`multipart copy ${UploadId} to ${this.bucket}/${to}`, () => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId })));
      throw err;
    }
  }

  async has(digest: string): Promise<boolean> {
    return (await this.stat(digest)) !== undefined;
  }

  async stat(digest: string): Promise<BlobInfo | undefined> {
    const key = this.key(digest);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { digest: digest as Digest, size: head.ContentLength ?? 0 };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** HeadBucket: the server answers, the bucket exists and the credentials may use it. */
  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  async storedAt(digest: string): Promise<number | undefined> {
    try {
      return (await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(digest) }))).LastModified?.getTime();
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async open(digest: string, range?: { start?: number; end?: number }): Promise<NodeJS.ReadableStream & AsyncIterable<Buffer>> {
    const key = this.key(digest);
    const Range = range && (range.start !== undefined || range.end !== undefined) ? `bytes=${range.start ?? 0}-${range.end ?? ''}` : undefined;
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range }));
      // In Node the SDK's body is the response's Readable.
      return got.Body as Readable;
    } catch (err) {
      if (isMissing(err)) throw new KilnError('NotFound', `blob ${digest} not found`);
      throw err;
    }
  }

  async get(digest: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.open(digest)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async delete(digest: string): Promise<boolean> {
    // S3 answers a delete of a missing key as a success, so whether it was there is asked first.
    if (!(await this.has(digest))) return false;
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(digest) }));
    return true;
  }

  async list(): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    const prefix = `${this.prefix}sha256/`;
    let ContinuationToken: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken }));
      for (const o of page.Contents ?? []) out.push({ digest: `sha256:${o.Key!.slice(prefix.length)}`, size: o.Size ?? 0 });
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    // S3 lists keys in byte order, which for lowercase hex is digest order; sorted anyway for servers that do not.
    return out.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  }

  /** Temp objects of puts in progress or interrupted by a crash (for the crash sweep and tests). */
  async listUploads(): Promise<string[]> {
    const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.uploadsPrefix }));
    return (page.Contents ?? []).map((o) => o.Key!);
  }
}
