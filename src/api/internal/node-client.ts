/**
 * Requests from this node to another node's internal endpoint, signed with the cluster key (node-signature.ts).
 * The response comes back as a stream, so a caller can pass it on with backpressure instead of holding it.
 */
import http from 'node:http';
import https from 'node:https';
import type { NodeSigner } from './node-signature.js';

export interface NodeRequest {
  method: string;
  /** Path and query under the node's endpoint, e.g. `/internal/instances`. */
  path: string;
  body?: Buffer;
  /** Aborting destroys the request and its response stream. */
  signal?: AbortSignal;
  /** How long to wait for the response's headers (the body may take longer); default 3 s. */
  headersTimeoutMs?: number;
}

/** A node that could not be asked, and why (refused, timed out, answered an error status). */
export class NodeUnreachableError extends Error {
  override readonly name = 'NodeUnreachableError';
}

/**
 * Sends a signed request to `endpoint` (a node's internal base URL) and resolves with the response once its
 * headers arrive; rejects with NodeUnreachableError when the node cannot be reached in time.
 */
export function nodeRequest(signer: NodeSigner, endpoint: string, request: NodeRequest): Promise<http.IncomingMessage> {
  const url = new URL(endpoint.replace(/\/+$/, '') + request.path);
  const body = request.body ?? Buffer.alloc(0);
  const target = url.pathname + url.search;
  const headers: Record<string, string> = {
    ...signer.sign({ method: request.method, path: target, body }),
    'content-length': String(body.length),
    ...(body.length > 0 ? { 'content-type': 'application/json' } : {}),
  };
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(url, { method: request.method, headers, ...(request.signal ? { signal: request.signal } : {}) });
    const timeoutMs = request.headersTimeoutMs ?? 3_000;
    const timer = setTimeout(() => req.destroy(new NodeUnreachableError(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.once('response', (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    req.once('error', (err) => {
      clearTimeout(timer);
      reject(err instanceof NodeUnreachableError ? err : new NodeUnreachableError((err as NodeJS.ErrnoException).code ?? err.message));
    });
    req.end(body);
  });
}

/** Reads a whole (small) response body; rejects when it is longer than `limit` bytes. */
export async function readBody(res: http.IncomingMessage, limit = 16 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      res.destroy();
      throw new NodeUnreachableError(`the answer is over ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A signed request whose answer is JSON: its status and parsed body. */
export async function nodeJson(signer: NodeSigner, endpoint: string, request: NodeRequest): Promise<{ status: number; body: unknown }> {
  const res = await nodeRequest(signer, endpoint, request);
  const text = (await readBody(res)).toString('utf8');
  try {
    return { status: res.statusCode ?? 0, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  } catch {
    throw new NodeUnreachableError(`answered ${res.statusCode ?? '?'} with a body that is not JSON`);
  }
}
