/**
 * `GET /kiln/regions`: the regions this Kiln is configured with (`regions:` in its configuration), the default
 * first, for the console's region pickers (sign-in and distribution settings). Unsigned: the sign-in form needs
 * the list before it has a key to sign with, and SigV4 verification already names the configured regions to
 * any caller whose signature is scoped to another one, so the answer discloses nothing new.
 */
import type { FastifyInstance } from 'fastify';

export const REGIONS_PATH = '/kiln/regions';

/** The body of the answer. */
export interface RegionsAnswer {
  /** Region names in configuration order; the first is the default. */
  regions: string[];
}

export function registerRegionsRoute(app: FastifyInstance, options: { regions: ReadonlySet<string> }): void {
  const answer: RegionsAnswer = { regions: [...options.regions] };
  app.get(REGIONS_PATH, async (req, reply) => reply.code(200).header('x-amzn-RequestId', req.id).header('cache-control', 'no-cache').type('application/json').send(answer));
}
