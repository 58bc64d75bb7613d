/**
 * Plain keyed objects under one prefix of an S3-compatible bucket, for what several nodes share that is not a
 * blob by digest: step-log segments and registry upload chunks. Keys given to it are relative to its prefix.
 */
import { Readable } from 'node:stream';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

export interface BucketObject {
  /** The key, relative to the bucket's prefix. */
  key: string;
  size: number;
  /** Milliseconds since the epoch. */
  lastModified: number;
}

export interface ObjectBucketOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix of everything this object writes, ending in `/` (default: none). */
  prefix?: string;
}

const isMissing = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
};

/** DeleteObjects takes at most this many keys a request. */
const DELETE_BATCH = 1000;

export class ObjectBucket {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;

  constructor(options: ObjectBucketOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
  }

  /** The same bucket, its keys under `sub` (which ends in `/`) of this one's prefix. */
  under(sub: string): ObjectBucket {
    return new ObjectBucket({ client: this.client, bucket: this.bucket, prefix: `${this.prefix}${sub}` });
  }

  /** Writes one whole object (its bytes are in memory, so its length is known). */
  async put(key: string, body: Uint8Array, signal?: AbortSignal): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Body: body, ContentLength: body.byteLength }), { abortSignal: signal });
  }

  /** An object's bytes from `start` to `end` inclusive (default: all); undefined when it does not exist. */
  async get(key: string, range?: { start: number; end: number }, signal?: AbortSignal): Promise<Buffer | undefined> {
    try {
      const got = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }),
        { abortSignal: signal },
      );
      const chunks: Buffer[] = [];
      for await (const chunk of got.Body as Readable) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** An object's bytes as a stream (for content too large to hold); NotFound-shaped SDK error when missing. */
  async open(key: string, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), { abortSignal: signal });
    return got.Body as Readable;
  }

  /** Every object whose key starts with `sub`, in key order (byte order, as S3 lists them; sorted anyway). */
  async list(sub = '', signal?: AbortSignal): Promise<BucketObject[]> {
    const out: BucketObject[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + sub, ContinuationToken }), { abortSignal: signal });
      for (const o of page.Contents ?? []) out.push({ key: o.Key!.slice(this.prefix.length), size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 });
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Deletes the given keys (missing ones are no error); throws naming the first key the server refused. */
  async delete(keys: readonly string[], signal?: AbortSignal): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      const result = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.prefix + k })), Quiet: true } }),
        { abortSignal: signal },
      );
      const refused = result.Errors?.[0];
      if (refused) throw new Error(`could not delete ${refused.Key ?? '?'} from bucket ${this.bucket}: ${refused.Code ?? ''} ${refused.Message ?? ''}`.trim());
    }
  }

  /** Deletes every object under `sub`; returns how many there were. */
  async deleteUnder(sub: string, signal?: AbortSignal): Promise<number> {
    const keys = (await this.list(sub, signal)).map((o) => o.key);
    await this.delete(keys, signal);
    return keys.length;
  }
}
