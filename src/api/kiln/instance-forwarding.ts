/**
 * Kept instances on other nodes of a cluster, as the public `/kiln/instances` routes of any node see them: a
 * build's instance lives on the worker that ran it, so a listing asks every active node (each with a short
 * timeout, and names the ones that did not answer instead of leaving their instances out silently), and a
 * console read, a command or a release is forwarded, signed, to the node that holds the instance. Instance ids
 * stay what the drivers made them: the holder is found by asking, not encoded in the id users see.
 */
import { pipeline } from 'node:stream/promises';
import type { FastifyReply } from 'fastify';
import type { KeptInstanceInfo } from '../../builder/stages/kept-instances.js';
import type { ClusterNodes, NodeRecord } from '../../store/roles/cluster-nodes.js';
import { awsError } from '../aws/errors.js';
import { nodeJson, nodeRequest } from '../internal/node-client.js';
import type { NodeSigner } from '../internal/node-signature.js';
import { sendAwsError } from './kept-instance-actions.js';

/** A kept instance with the node that holds it. */
export type ClusterInstanceInfo = KeptInstanceInfo & {
  /** The id of the node that holds the instance. */
  node: string;
  /** The host that node runs on (where `kiln instances shell` can enter an ns instance directly). */
  host: string;
};

/** An active node that did not answer, and why. */
export interface UnreachableNode {
  node: string;
  host: string;
  error: string;
}

export interface InstanceClusterOptions {
  /** This node, as the cluster knows it; its own instances are answered locally, never asked for. */
  self: { id: string; host: string };
  nodes: Pick<ClusterNodes, 'listNodes'>;
  signer: NodeSigner;
  /** A node whose last heartbeat is older than this is lost and not asked. */
  lostAfterMs: number;
  /** How long a listing or a search waits for each node; default 3 s. */
  askTimeoutMs?: number;
}

/** The timeouts for the response's headers of a forwarded request, by what it does. */
const FORWARD_HEADERS_TIMEOUT_MS = { console: 30_000, exec: 660_000, release: 120_000 } as const;

function isInfo(value: unknown): value is KeptInstanceInfo {
  const v = value as Partial<KeptInstanceInfo> | undefined;
  return typeof v === 'object' && v !== null && typeof v.instanceId === 'string' && typeof v.accountId === 'string';
}

/** The other nodes' kept instances, and forwarding to them. */
export class InstanceCluster {
  constructor(private readonly options: InstanceClusterOptions) {}

  get self(): { id: string; host: string } {
    return this.options.self;
  }

  /** The other active nodes that have an internal endpoint. */
  private async peers(): Promise<(NodeRecord & { endpoint: string })[]> {
    const all = await this.options.nodes.listNodes(this.options.lostAfterMs);
    return all.filter((n): n is NodeRecord & { endpoint: string } => n.id !== this.options.self.id && n.state === 'active' && typeof n.endpoint === 'string' && n.endpoint !== '');
  }

  private async ask(node: NodeRecord & { endpoint: string }, path: string, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
    return nodeJson(this.options.signer, node.endpoint, { method: 'GET', path, headersTimeoutMs: this.options.askTimeoutMs ?? 3_000, ...(signal ? { signal } : {}) });
  }

  /** Every other active node's kept instances, and the nodes that did not answer. */
  async list(signal?: AbortSignal): Promise<{ instances: ClusterInstanceInfo[]; unreachable: UnreachableNode[] }> {
    const peers = await this.peers();
    const answers = await Promise.allSettled(peers.map((node) => this.ask(node, '/internal/instances', signal)));
    const instances: ClusterInstanceInfo[] = [];
    const unreachable: UnreachableNode[] = [];
    answers.forEach((answer, i) => {
      const node = peers[i]!;
      const listed = answer.status === 'fulfilled' && answer.value.status === 200 ? (answer.value.body as { instances?: unknown }).instances : undefined;
      if (!Array.isArray(listed)) {
        unreachable.push({ node: node.id, host: node.host, error: answer.status === 'rejected' ? String((answer.reason as Error).message) : `answered ${answer.value.status}` });
        return;
      }
      for (const info of listed) if (isInfo(info)) instances.push({ ...info, node: node.id, host: node.host });
    });
    return { instances, unreachable };
  }

  /** The node holding `instanceId` and the instance as it lists it; else the nodes that could not be asked. */
  async locate(instanceId: string, signal?: AbortSignal): Promise<{ node: NodeRecord & { endpoint: string }; info: ClusterInstanceInfo } | { unreachable: UnreachableNode[] }> {
    const peers = await this.peers();
    const path = `/internal/instances/${encodeURIComponent(instanceId)}`;
    const answers = await Promise.allSettled(peers.map((node) => this.ask(node, path, signal)));
    const unreachable: UnreachableNode[] = [];
    for (const [i, answer] of answers.entries()) {
      const node = peers[i]!;
      if (answer.status === 'rejected') {
        unreachable.push({ node: node.id, host: node.host, error: String((answer.reason as Error).message) });
        continue;
      }
      const info = (answer.value.body as { instance?: unknown } | undefined)?.instance;
      if (answer.value.status === 200 && isInfo(info)) return { node, info: { ...info, node: node.id, host: node.host } };
      if (answer.value.status !== 404) unreachable.push({ node: node.id, host: node.host, error: `answered ${answer.value.status}` });
    }
    return { unreachable };
  }

  /**
   * Sends the request on to `node`'s internal route `path` and streams its answer back as it comes, status and
   * error type included. The two legs end together: the client going away aborts the forwarded request (which
   * kills a command under way on the node), and the node's answer ending or failing ends the client's.
   */
  async forward(reply: FastifyReply, node: NodeRecord & { endpoint: string }, request: { method: string; path: string; body?: Buffer; kind: keyof typeof FORWARD_HEADERS_TIMEOUT_MS }): Promise<FastifyReply> {
    const controller = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) controller.abort(new Error('the client went away'));
    };
    reply.raw.once('close', onClose);
    let upstream;
    try {
      upstream = await nodeRequest(this.options.signer, node.endpoint, { method: request.method, path: request.path, ...(request.body ? { body: request.body } : {}), signal: controller.signal, headersTimeoutMs: FORWARD_HEADERS_TIMEOUT_MS[request.kind] });
    } catch (err) {
      reply.raw.off('close', onClose);
      // The client is gone: there is no one to answer.
      if (controller.signal.aborted) return reply.hijack();
      return sendAwsError(reply, awsError('ServiceUnavailableException', `The node holding the instance (${node.id} on ${node.host}) did not answer: ${(err as Error).message}.`));
    }
    reply.hijack();
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'content-length', 'x-amzn-errortype']) {
      const value = upstream.headers[name];
      if (typeof value === 'string') headers[name === 'x-amzn-errortype' ? 'x-amzn-ErrorType' : name] = value;
    }
    reply.raw.writeHead(upstream.statusCode ?? 502, headers);
    try {
      // pipeline applies backpressure both ways and destroys the other side when either fails or closes early.
      await pipeline(upstream, reply.raw);
    } catch {
      // The client went away or the node's answer broke off: both legs are destroyed already.
    } finally {
      reply.raw.off('close', onClose);
    }
    return reply;
  }
}
