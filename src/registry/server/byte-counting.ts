/**
 * Counting the bytes the registry receives and sends (for metrics), chunk by chunk as they pass, so a long
 * upload or download moves the count while it runs and an aborted one counts only what went through.
 */
import { Transform, pipeline } from 'node:stream';

/** What a count is of: blob (layers, configs, chunks of an upload) or manifest bytes. */
export type RegistryByteKind = 'blob' | 'manifest';

/** Told of bytes as they pass: `in` read from a request body, `out` written into a response. */
export type RegistryBytesListener = (direction: 'in' | 'out', kind: RegistryByteKind, bytes: number) => void;

/** The same body, counting each chunk as the handler reads it. */
export async function* countedBody(body: AsyncIterable<Uint8Array>, count: (bytes: number) => void): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    count(chunk.byteLength);
    yield chunk;
  }
}

/**
 * A response body that counts what is sent: a buffer at once, a stream as it flows (through a pass-through that
 * the framework pipes to the socket; a client that goes away destroys it, and with it the source). Anything else
 * (JSON listings, no body) is returned untouched.
 */
export function countedResponse(body: unknown, count: (bytes: number) => void): unknown {
  if (Buffer.isBuffer(body)) {
    count(body.length);
    return body;
  }
  if (typeof (body as { pipe?: unknown } | undefined)?.pipe !== 'function') return body;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      count(chunk.length);
      done(null, chunk);
    },
  });
  // Errors reach the pass-through, which the framework reports; nothing more to do with them here.
  pipeline(body as NodeJS.ReadableStream, counter, () => undefined);
  return counter;
}
