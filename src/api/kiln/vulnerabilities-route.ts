/**
 * `POST /kiln/vulnerabilities/update`, SigV4-signed like the API: reloads every configured vulnerability feed now
 * (as the daily refresh does; continuous scanning then rescans the AVAILABLE images) and answers what each feed
 * holds. Feeds are the installation's, not an account's, so only the admin account may reload them.
 */
import type { FastifyInstance } from 'fastify';
import type { AccountStore } from '../../store/roles/account-store.js';
import type { FeedLoadReport } from '../../vulnerabilities/vulnerability-database.js';
import { awsError, toAwsError } from '../aws/errors.js';
import { sendAwsError } from './kept-instance-actions.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';

export const VULNERABILITIES_UPDATE_PATH = '/kiln/vulnerabilities/update';

/** The route's answer: each feed's advisories after the reload (and its error, when it kept the last ones). */
export interface VulnerabilitiesUpdateView {
  feeds: FeedLoadReport[];
}

export interface VulnerabilitiesRouteDeps extends SignedRouteAuth {
  store: Pick<AccountStore, 'getAccount'>;
  vulnerabilities: { configured: boolean; update(): Promise<FeedLoadReport[]> };
}

export function registerVulnerabilitiesRoutes(app: FastifyInstance, deps: VulnerabilitiesRouteDeps): void {
  app.post(VULNERABILITIES_UPDATE_PATH, async (req, reply) => {
    try {
      const who = await signedCaller(req, deps);
      if ((await deps.store.getAccount(who.accountId))?.admin !== true) {
        throw awsError('AccessDeniedException', `Account ${who.accountId} may not reload the vulnerability feeds: they are the Kiln installation's, and only the admin account reloads them.`);
      }
      if (!deps.vulnerabilities.configured) throw awsError('InvalidRequestException', 'vulnerabilityFeeds: no vulnerability feed is configured in the server configuration.');
      const answer: VulnerabilitiesUpdateView = { feeds: await deps.vulnerabilities.update() };
      return reply.code(200).header('x-amzn-RequestId', req.id).type('application/json').send(answer);
    } catch (err) {
      return sendAwsError(reply, toAwsError(err));
    }
  });
}
