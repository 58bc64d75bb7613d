/**
 * Error kinds shared by every layer. Internal code throws KilnError with a kind; only the API edge maps kinds
 * to AWS exception names. Guards compare by name, never with instanceof, so errors survive crossing realms.
 */
export type ErrorKind =
  | 'NotFound'
  | 'AlreadyExists'
  | 'InvalidArgument'
  | 'InUse'
  | 'Conflict'
  | 'DependencyExists'
  | 'Unavailable'
  | 'Internal'
  | 'Cancelled'
  // Kinds below name request problems that callers must tell apart (each maps to its own AWS exception).
  | 'InvalidCombination'
  | 'InvalidVersion'
  | 'InvalidPaginationToken'
  | 'IdempotencyMismatch'
  | 'Forbidden'
  | 'QuotaExceeded'
  /** A bad parameter where the model names InvalidParameterException (tags) rather than …ValueException. */
  | 'InvalidParameter'
  /** A request that is well formed but not acceptable in the resource's current state. */
  | 'InvalidRequest'
  /** A dry run found nothing wrong; AWS reports that success as an error (DryRunOperationException). */
  | 'DryRun';

/** One problem found while validating input, with the path of the offending field. */
export interface Issue {
  path: string;
  message: string;
}

export class KilnError extends Error {
  override readonly name = 'KilnError';
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly issues: Issue[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Gathers every issue into one InvalidArgument error whose message lists them all, one per line. */
export function validationError(subject: string, issues: Issue[]): KilnError {
  const lines = issues.map((i) => `  ${i.path || '(document)'}: ${i.message}`);
  return new KilnError('InvalidArgument', `${subject} is invalid:\n${lines.join('\n')}`, issues);
}

export function isKilnError(err: unknown, kind?: ErrorKind): err is KilnError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { name?: unknown }).name === 'KilnError' &&
    (kind === undefined || (err as { kind?: unknown }).kind === kind)
  );
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
