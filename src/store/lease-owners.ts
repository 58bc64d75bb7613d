/**
 * Who holds a job lease, and when a holder is known to be gone. A lease owner is the identity of one process of
 * a cluster, `<node>/<pid>/<nonce>`: the node (host) name, so a process starting on a node recognises what that
 * node's earlier processes left; the pid, to ask the node whether that process still runs; a nonce, so a reused
 * pid never makes two processes one owner. The same string is the process's id among the cluster's nodes.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/** A new owner identity for this process on `node` (default: the host name). */
export function newLeaseOwner(node: string = hostname()): string {
  return `${node}/${process.pid}/${randomUUID().slice(0, 8)}`;
}

/** The node and pid of an owner identity, or undefined for an owner from before node names (`kiln-<pid>-…`). */
export function leaseOwnerParts(owner: string): { node: string; pid: number } | undefined {
  const m = /^(.+)\/(\d+)\/[0-9a-f]+$/.exec(owner);
  return m ? { node: m[1]!, pid: Number(m[2]) } : undefined;
}

/** Whether a process of this host is running (a pid that may belong to another user counts as running). */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a lease owner was a process of `node` (this one's) that is gone, so its jobs can be taken back now
 * rather than when their leases run out. Owners from before node names were single-node: this node's.
 */
export function isOwnDeadProcess(owner: string | undefined, node: string): boolean {
  const parts = owner === undefined ? undefined : leaseOwnerParts(owner);
  if (!parts) return true;
  return parts.node === node && !processRuns(parts.pid);
}
