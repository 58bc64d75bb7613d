/**
 * `GET /kiln/accounts/ACCOUNT/signing-key` (SigV4-signed like the API): the public half of an account's signing
 * key as PEM, made on first need, so that anyone verifying the account's images (skopeo, podman, cosign, `kiln
 * images verify`) can be given it. ACCOUNT is an account id or name. The account itself and an admin may read it;
 * anyone else is told AccessDenied whether or not the account exists.
 */
import type { FastifyInstance } from 'fastify';
import { accountSigningKey } from '../../store/account-signing-key.js';
import type { AccountStore } from '../../store/roles/account-store.js';
import type { SigningKeys } from '../../store/roles/signing-keys.js';
import { awsError, toAwsError } from '../aws/errors.js';
import { sendAwsError } from './kept-instance-actions.js';
import { signedCaller, type SignedRouteAuth } from './signed-caller.js';

/** The route's path for an account id or name. */
export const signingKeyPath = (account: string): string => `/kiln/accounts/${encodeURIComponent(account)}/signing-key`;

/** The route's answer (and `kiln accounts signing-key --json`'s). */
export interface SigningKeyView {
  accountId: string;
  publicKeyPem: string;
  createdAt: string;
}

export interface SigningKeyRouteDeps extends SignedRouteAuth {
  store: SigningKeys & Pick<AccountStore, 'getAccount' | 'listAccounts'>;
}

export function registerSigningKeyRoute(app: FastifyInstance, deps: SigningKeyRouteDeps): void {
  app.get<{ Params: { account: string } }>('/kiln/accounts/:account/signing-key', async (req, reply) => {
    try {
      const who = await signedCaller(req, deps);
      const ref = req.params.account;
      const account = /^\d{12}$/.test(ref) ? await deps.store.getAccount(ref) : (await deps.store.listAccounts()).find((a) => a.name === ref);
      const admin = (await deps.store.getAccount(who.accountId))?.admin === true;
      if (!admin && account?.accountId !== who.accountId) {
        throw awsError('AccessDeniedException', `account: ${ref} is not the signing account (${who.accountId}); only the account itself or an admin may read its signing key.`);
      }
      if (!account) throw awsError('ResourceNotFoundException', `account: no account ${ref}.`);
      const key = await accountSigningKey(deps.store, account.accountId);
      const view: SigningKeyView = { accountId: key.accountId, publicKeyPem: key.publicKeyPem, createdAt: key.createdAt };
      return reply.code(200).header('x-amzn-RequestId', req.id).type('application/json').send(view);
    } catch (err) {
      return sendAwsError(reply, toAwsError(err));
    }
  });
}
