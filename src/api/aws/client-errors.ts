/**
 * Requests Node's HTTP parser refuses before fastify sees them (headers or URL over `maxHeaderSize`, malformed
 * framing, header timeouts) answered in AWS's error shape instead of fastify's JSON or a dropped connection.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { awsError, errorBody, type AwsError } from './errors.js';

/** How long a refused client may go on sending (a 100 KB header still in flight) before its socket is closed. */
const DRAIN_MS = 2_000;

/** The wire error for a parser error code of Node's HTTP server. */
export function clientErrorFor(code: string | undefined, maxHeaderSize: number): AwsError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      // The parser counts the request line with the headers, so an over-long URL lands here too.
      return awsError('RequestHeaderFieldsTooLargeException', `The request line and headers are larger than the limit of ${maxHeaderSize} bytes.`);
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return awsError('RequestTimeoutException', 'The request was not received in time.');
    default:
      return awsError('SerializationException', 'The request is not a well-formed HTTP/1.1 request.');
  }
}

const answered = new WeakSet<Socket>();

/**
 * fastify's `clientErrorHandler`: writes the AWS-shaped response and closes the connection gracefully. Closing
 * with the client's bytes still unread would make the kernel reset the connection, and the client would see the
 * reset instead of the answer, so the rest of what it sends is read and dropped until it closes (or DRAIN_MS).
 */
export function answerClientError(err: Error & { code?: string }, socket: Socket, maxHeaderSize: number): void {
  if (err.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return;
  answered.add(socket);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const aws = clientErrorFor(err.code, maxHeaderSize);
  const body = JSON.stringify(errorBody(aws));
  socket.write(
    [
      `HTTP/1.1 ${aws.status} ${STATUS_CODES[aws.status] ?? 'Error'}`,
      'Content-Type: application/json',
      `Content-Length: ${Buffer.byteLength(body)}`,
      `x-amzn-ErrorType: ${aws.code}`,
      `x-amzn-RequestId: ${randomUUID()}`,
      'Connection: close',
      '',
      body,
    ].join('\r\n'),
  );
  socket.end();
  const timer = setTimeout(() => socket.destroy(), DRAIN_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.on('data', () => undefined);
  socket.resume();
}
