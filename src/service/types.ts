/** Who is calling and where: every operation works inside one account and one region. */
export interface RequestContext {
  operation: string;
  accountId: string;
  region: string;
  requestId: string;
}

/**
 * One Image Builder operation's implementation: model-checked input (wire member names) in, a plain output
 * object out. Throws KilnError kinds; the API edge turns them into AWS exceptions.
 */
export type OperationHandler = (input: Record<string, unknown>, ctx: RequestContext) => Promise<Record<string, unknown>>;
