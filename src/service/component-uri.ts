import { createS3Client, describeS3Error, parseS3Uri, s3SettingsFromEnv, s3Uri, type S3Settings } from '../toe/actions/s3-config.js';

/**
 * CreateComponent's `uri`: the component document read from S3 (or any S3-compatible endpoint) with the same
 * settings AWSTOE's S3Download uses, so one configuration serves both.
 */

/**
 * AWS sets no documented size for `uri` documents; Kiln keeps the document in its store and returns it from
 * GetComponent, so it bounds it well above any real component (the inline limit is 16000 characters).
 */
export const MAX_URI_DOCUMENT_BYTES = 1024 * 1024;

/** A slow or unreachable endpoint must not hold the request open. */
const FETCH_TIMEOUT_MS = 15_000;

/** The document, or a problem to report against the `uri` field. */
export type FetchedDocument = { document: string } | { problem: string };

/** Reads the component document at an `s3://bucket/key` URI; settings default to the environment's at call time. */
export async function fetchComponentDocument(uri: unknown, settings: S3Settings = s3SettingsFromEnv()): Promise<FetchedDocument> {
  if (typeof uri !== 'string') return { problem: 'must be an s3://bucket/key URI' };
  const location = parseS3Uri(uri);
  if (!location || location.key === '' || location.key.endsWith('/')) {
    return { problem: `${uri} is not an S3 object URI; use s3://<bucket>/<key> naming the YAML document` };
  }
  const where = s3Uri(location);
  // Loaded on first use, as in s3-config: the SDK is large and most servers never read a uri.
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const client = await createS3Client(settings);
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }), { abortSignal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (out.ContentLength !== undefined && out.ContentLength > MAX_URI_DOCUMENT_BYTES) {
      (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
      return { problem: `${where} is ${out.ContentLength} bytes; the limit is ${MAX_URI_DOCUMENT_BYTES}` };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    // The length header may be absent or wrong on some S3-compatible servers: count while reading.
    for await (const chunk of (out.Body ?? []) as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > MAX_URI_DOCUMENT_BYTES) {
        (out.Body as { destroy?: () => void }).destroy?.();
        return { problem: `${where} is larger than ${MAX_URI_DOCUMENT_BYTES} bytes, the limit` };
      }
      chunks.push(Buffer.from(chunk));
    }
    const document = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
    if (document.trim() === '') return { problem: `${where} is empty` };
    return { document };
  } catch (err) {
    if (err instanceof TypeError && /encoded data was not valid/i.test(err.message)) return { problem: `${where} is not UTF-8 text` };
    const name = (err as { name?: string }).name;
    if (name === 'NoSuchKey' || name === 'NotFound') return { problem: `${where} does not exist` };
    if (name === 'NoSuchBucket') return { problem: `the bucket ${location.bucket} of ${where} does not exist` };
    if (name === 'TimeoutError' || name === 'AbortError') return { problem: `reading ${where} took longer than ${FETCH_TIMEOUT_MS / 1000} s` };
    return { problem: `cannot be read: ${describeS3Error(err)}` };
  } finally {
    client.destroy();
  }
}
