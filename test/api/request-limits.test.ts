/**
 * Requests over Kiln's limits get an AWS-shaped 4xx on a connection that is closed cleanly, never a reset:
 * a 100 KB header and a 100 KB URL (refused by Node's parser before fastify), and a body over the API's limit.
 * The server answers normally afterwards.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import test from 'node:test';
import { startFixture } from './fixture.js';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: { __type?: string; message?: string };
}

/** Sends `head` (and `body`) on a fresh connection and reads the answer until the server closes it. */
function rawRequest(endpoint: string, head: string, body?: Buffer): Promise<RawAnswer> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    // A reset surfaces here (ECONNRESET / EPIPE): exactly what this test is about.
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(text.slice(split + 4)) as RawAnswer['body'] });
      socket.end();
    });
    socket.write(head);
    if (body) socket.write(body);
  });
}

function assertAwsShaped(res: RawAnswer, status: number, code: string, message: RegExp): void {
  assert.equal(res.status, status);
  assert.equal(res.headers['x-amzn-errortype'], code);
  assert.ok(res.headers['x-amzn-requestid']);
  assert.match(res.headers['content-type'] ?? '', /application\/json/);
  assert.equal(res.body.__type, code);
  assert.match(res.body.message ?? '', message);
}

test('a 100 KB header, a 100 KB URL and an over-large body get AWS-shaped 431 / 431 / 413, not a reset', async (t) => {
  const f = await startFixture(t);
  const host = new URL(f.server.endpoint).host;

  const bigHeader = await rawRequest(f.server.endpoint, `POST /ListComponents HTTP/1.1\r\nHost: ${host}\r\nX-Padding: ${'a'.repeat(100_000)}\r\nContent-Length: 2\r\n\r\n{}`);
  assertAwsShaped(bigHeader, 431, 'RequestHeaderFieldsTooLargeException', /larger than the limit/);

  const bigUrl = await rawRequest(f.server.endpoint, `GET /ListComponents?x=${'b'.repeat(100_000)} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  assertAwsShaped(bigUrl, 431, 'RequestHeaderFieldsTooLargeException', /larger than the limit/);

  const size = 3 * 1024 * 1024;
  const bigBody = await rawRequest(f.server.endpoint, `PUT /CreateComponent HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`, Buffer.alloc(size, 0x20));
  assertAwsShaped(bigBody, 413, 'RequestEntityTooLargeException', /larger than the limit of 1048576 bytes/);

  const garbage = await rawRequest(f.server.endpoint, 'NOT HTTP AT ALL\r\n\r\n');
  assertAwsShaped(garbage, 400, 'SerializationException', /well-formed/);

  // Still serving.
  assert.equal((await fetch(`${f.server.endpoint}/healthz`)).status, 200);
});
