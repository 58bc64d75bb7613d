/**
 * Puts a stream of unknown length under a known key of an S3-compatible bucket: one PutObject when it fits in
 * one part, else a multipart upload fed as the stream produces bytes (memory stays at one part). The object
 * appears only complete; a failed or aborted put aborts its multipart upload, and an abort that fails is
 * reported as a leak naming the upload.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

/** Bytes per uploaded part: S3's minimum is 5 MiB (but for the last); larger parts mean fewer requests. */
export const PART_BYTES = 16 * 1024 * 1024;

export interface MultipartPutOptions {
  client: S3Client;
  bucket: string;
  key: string;
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  /** User metadata stored with the object (x-amz-meta-*). */
  metadata?: Record<string, string>;
  signal?: AbortSignal;
  /** Told of an upload that could not be aborted (its parts stay billed until a lifecycle rule removes them). */
  onLeak: (what: string, err: unknown) => void;
  /** Part size (default PART_BYTES; tests use S3's 5 MiB minimum to get several parts cheaply). */
  partBytes?: number;
}

/** Resolves with the bytes stored and the number of parts (0: one PutObject). */
export async function multipartPut(options: MultipartPutOptions): Promise<{ size: number; parts: number }> {
  const { client, bucket: Bucket, key: Key, signal, metadata: Metadata } = options;
  const partBytes = options.partBytes ?? PART_BYTES;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let size = 0;
  let upload: { id: string; parts: { ETag: string; PartNumber: number }[] } | undefined;
  const flush = async (): Promise<void> => {
    const Body = Buffer.concat(pending);
    pending = [];
    pendingBytes = 0;
    if (!upload) {
      const created = await client.send(new CreateMultipartUploadCommand({ Bucket, Key, Metadata }), { abortSignal: signal });
      upload = { id: created.UploadId!, parts: [] };
    }
    const PartNumber = upload.parts.length + 1;
    const part = await client.send(new UploadPartCommand({ Bucket, Key, UploadId: upload.id, PartNumber, Body }), { abortSignal: signal });
    upload.parts.push({ ETag: part.ETag!, PartNumber });
  };
  try {
    for await (const chunk of options.body) {
      signal?.throwIfAborted();
      size += chunk.byteLength;
      pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      pendingBytes += chunk.byteLength;
      if (pendingBytes >= partBytes) await flush();
    }
    signal?.throwIfAborted();
    if (!upload) {
      await client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.concat(pending), ContentLength: size, Metadata }), { abortSignal: signal });
      return { size, parts: 0 };
    }
    if (pendingBytes > 0) await flush();
    const done: { id: string; parts: { ETag: string; PartNumber: number }[] } = upload;
    await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: done.id, MultipartUpload: { Parts: done.parts } }), { abortSignal: signal });
    upload = undefined;
    return { size, parts: done.parts.length };
  } finally {
    const leftover = upload as { id: string } | undefined;
    if (leftover) {
      try {
        await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: leftover.id }));
      } catch (err) {
        options.onLeak(`multipart upload ${leftover.id} of ${Bucket}/${Key}`, err);
      }
    }
  }
}
