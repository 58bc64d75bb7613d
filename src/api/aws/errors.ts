import { isKilnError, type ErrorKind } from '../../domain/errors.js';
import { redactHostPaths } from '../../domain/host-paths.js';
import { ERRORS } from './generated/operations.js';

/**
 * An error as it goes on the wire: the AWS error code, its HTTP status and a message. This module is the only
 * place where domain errors become AWS exceptions.
 */
export class AwsError extends Error {
  override readonly name = 'AwsError';
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Errors the real service's front door sends that the Image Builder model does not declare (authentication
 * and request framing). The SDK raises them as ImagebuilderServiceException with this name.
 */
const UNMODELED: Record<string, number> = {
  MissingAuthenticationTokenException: 403,
  IncompleteSignatureException: 403,
  InvalidSignatureException: 403,
  UnrecognizedClientException: 403,
  SerializationException: 400,
  UnknownOperationException: 404,
  // Limits of the HTTP front door (what API Gateway answers with these statuses).
  RequestTimeoutException: 408,
  RequestEntityTooLargeException: 413,
  RequestHeaderFieldsTooLargeException: 431,
};

const STATUS = new Map<string, number>([...ERRORS.map((e) => [e.name, e.status] as const), ...Object.entries(UNMODELED)]);

/** Builds an AwsError with the status AWS uses for that code. */
export function awsError(code: string, message: string): AwsError {
  const status = STATUS.get(code);
  if (status === undefined) throw new Error(`no status known for AWS error ${code}`);
  return new AwsError(code, status, message);
}

const BY_KIND: Record<ErrorKind, string> = {
  NotFound: 'ResourceNotFoundException',
  AlreadyExists: 'ResourceAlreadyExistsException',
  InvalidArgument: 'InvalidParameterValueException',
  InUse: 'ResourceInUseException',
  Conflict: 'ResourceInUseException',
  DependencyExists: 'ResourceDependencyException',
  Unavailable: 'ServiceUnavailableException',
  Internal: 'ServiceException',
  Cancelled: 'ServiceUnavailableException',
  InvalidCombination: 'InvalidParameterCombinationException',
  InvalidVersion: 'InvalidVersionNumberException',
  InvalidPaginationToken: 'InvalidPaginationTokenException',
  IdempotencyMismatch: 'IdempotentParameterMismatchException',
  Forbidden: 'ForbiddenException',
  QuotaExceeded: 'ServiceQuotaExceededException',
  InvalidParameter: 'InvalidParameterException',
  InvalidRequest: 'InvalidRequestException',
  DryRun: 'DryRunOperationException',
};

/**
 * A message as the caller may see it: without host paths (see domain/host-paths.ts). When something was
 * redacted, the full message goes to the server's log, for the operator.
 */
export function callerMessage(message: string): string {
  const shown = redactHostPaths(message);
  if (shown !== message) process.stderr.write(`kiln: an error was sent without its host paths; in full: ${message}\n`);
  return shown;
}

/**
 * Maps anything thrown by a handler to its wire error; unknown errors become a ServiceException (their
 * message and stack go to the server's log only).
 */
export function toAwsError(err: unknown): AwsError {
  if (err instanceof AwsError || (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AwsError')) {
    return err as AwsError;
  }
  if (isKilnError(err)) return awsError(BY_KIND[err.kind], callerMessage(err.message));
  process.stderr.write(`kiln: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return awsError('ServiceException', 'An internal error occurred.');
}

/**
 * The restJson1 error body; `__type` and the `x-amzn-ErrorType` header both carry the code. Every AWS-shaped
 * error Kiln sends passes here, so host paths are redacted once more for errors built without toAwsError.
 */
export function errorBody(err: AwsError): { __type: string; message: string } {
  return { __type: err.code, message: callerMessage(err.message) };
}
