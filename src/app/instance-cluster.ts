/**
 * Composition of kept-instance forwarding for a node of a cluster: the signer of the internal channel, with its
 * HMAC key derived from the cluster's shared `secretKeyFile` (so every node that can open the store can sign,
 * and nothing else must be distributed), and the view of the other nodes' instances.
 */
import { hostname } from 'node:os';
import { InstanceCluster } from '../api/kiln/instance-forwarding.js';
import { NodeSigner } from '../api/internal/node-signature.js';
import type { ClusterNodes } from '../store/roles/cluster-nodes.js';
import { SecretBox } from '../store/secret-box.js';
import type { ServerConfig } from './server-config.js';
import { secretKeyPath } from './store-open.js';

/** This node in a cluster: how it is known, and where the other nodes are listed. */
export interface ClusterMembership {
  /** This node's id, as it heartbeats with ClusterNodes. */
  nodeId: string;
  nodes: Pick<ClusterNodes, 'listNodes'>;
  /** A node silent for longer is lost and not asked; default 30 s. */
  lostAfterMs?: number;
  /** How long a listing waits for each node; default 3 s. */
  askTimeoutMs?: number;
}

/** What a node signs its internal requests with: purpose-bound, so the key never equals the one sealing secrets. */
export function nodeSigner(dataDir: string, config: Pick<ServerConfig, 'secretKeyFile'>, nodeId: string, now?: () => number): NodeSigner {
  return new NodeSigner(SecretBox.openKeyFile(secretKeyPath(dataDir, config.secretKeyFile)).deriveKey('internal-requests'), nodeId, now);
}

/** The signer of this node and its view of the other nodes' kept instances. */
export function openInstanceCluster(dataDir: string, config: Pick<ServerConfig, 'secretKeyFile'>, membership: ClusterMembership): { signer: NodeSigner; instances: InstanceCluster } {
  const signer = nodeSigner(dataDir, config, membership.nodeId);
  const instances = new InstanceCluster({
    self: { id: membership.nodeId, host: hostname() },
    nodes: membership.nodes,
    signer,
    lostAfterMs: membership.lostAfterMs ?? 30_000,
    ...(membership.askTimeoutMs === undefined ? {} : { askTimeoutMs: membership.askTimeoutMs }),
  });
  return { signer, instances };
}
