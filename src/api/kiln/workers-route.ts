/**
 * `GET /kiln/workers`: the cluster's build workers (nodes with the `worker` role, from their heartbeats), each
 * with `id`, `host`, `roles`, `state` (`active`, or `lost` once it missed three heartbeats), `lastSeen` and
 * `runningImages` (the image build version ARNs of the build jobs it holds a lease on). SigV4-signed like the
 * API; workers are the cluster's infrastructure, not an account's resources, so only the admin account may list
 * them (AccessDeniedException otherwise, as an IAM policy without the permission would answer on AWS).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { BUILD_IMAGE_JOB, DISTRIBUTE_IMAGE_JOB } from '../../domain/job-kinds.js';
import type { AccountStore } from '../../store/roles/account-store.js';
import type { ClusterNodes, NodeRole } from '../../store/roles/cluster-nodes.js';
import type { JobQueue } from '../../store/roles/job-queue.js';
import { awsError, errorBody, toAwsError, type AwsError } from '../aws/errors.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';

export const WORKERS_PATH = '/kiln/workers';

/** One worker as the route answers it (and `kiln workers ls --json` prints it). */
export interface WorkerView {
  id: string;
  host: string;
  roles: NodeRole[];
  state: 'active' | 'lost';
  lastSeen: string;
  runningImages: string[];
}

export interface WorkersRouteDeps extends SignedRouteAuth {
  store: Pick<ClusterNodes, 'listNodes'> & Pick<JobQueue, 'listJobs'> & Pick<AccountStore, 'getAccount'>;
  /** A worker whose last heartbeat is older than this is `lost` (three heartbeat periods). */
  lostAfterMs: number;
}

const BUILD_JOBS = new Set([BUILD_IMAGE_JOB, DISTRIBUTE_IMAGE_JOB]);

function send(reply: FastifyReply, err: AwsError): FastifyReply {
  return reply.code(err.status).header('x-amzn-ErrorType', err.code).type('application/json').send(errorBody(err));
}

/** The workers and the images each is building, from one read of the nodes and one of the leased jobs. */
export async function listWorkers(store: WorkersRouteDeps['store'], lostAfterMs: number): Promise<WorkerView[]> {
  const [nodes, leased] = await Promise.all([store.listNodes(lostAfterMs), store.listJobs({ state: 'leased' })]);
  const running = new Map<string, string[]>();
  for (const job of leased) {
    if (!BUILD_JOBS.has(job.kind) || job.leaseOwner === undefined) continue;
    running.set(job.leaseOwner, [...(running.get(job.leaseOwner) ?? []), job.resourceArn]);
  }
  return nodes
    .filter((n) => n.roles.includes('worker'))
    .map((n) => ({ id: n.id, host: n.host, roles: n.roles, state: n.state, lastSeen: n.lastSeen, runningImages: running.get(n.id) ?? [] }));
}

export function registerWorkersRoute(app: FastifyInstance, deps: WorkersRouteDeps): void {
  app.get(WORKERS_PATH, async (req, reply) => {
    try {
      const who = await signedCaller(req, deps);
      const account = await deps.store.getAccount(who.accountId);
      if (account?.admin !== true) {
        throw awsError('AccessDeniedException', `Account ${who.accountId} may not list the build workers: they are the Kiln cluster's, and only the admin account sees them.`);
      }
      return reply.code(200).header('x-amzn-RequestId', req.id).type('application/json').send({ workers: await listWorkers(deps.store, deps.lostAfterMs) });
    } catch (err) {
      return send(reply, toAwsError(err));
    }
  });
}
