/**
 * Errors of the OCI distribution API. A RegistryError is a KilnError (so the in-process API and the build
 * engine see an ordinary kind) that also carries the spec's error code, which decides the HTTP status.
 */
import { KilnError, isKilnError, type ErrorKind } from '../../domain/errors.js';
import { redactHostPaths } from '../../domain/host-paths.js';

export type RegistryErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'TAG_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'RANGE_INVALID'
  | 'PAGINATION_NUMBER_INVALID'
  | 'UNKNOWN';

/** Status and Kiln kind per code, as docker distribution 2.8 answers them. */
const CODES: Record<RegistryErrorCode, { status: number; kind: ErrorKind }> = {
  BLOB_UNKNOWN: { status: 404, kind: 'NotFound' },
  BLOB_UPLOAD_INVALID: { status: 400, kind: 'InvalidArgument' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, kind: 'NotFound' },
  DIGEST_INVALID: { status: 400, kind: 'InvalidArgument' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, kind: 'NotFound' },
  MANIFEST_INVALID: { status: 400, kind: 'InvalidArgument' },
  MANIFEST_UNKNOWN: { status: 404, kind: 'NotFound' },
  NAME_INVALID: { status: 400, kind: 'InvalidArgument' },
  NAME_UNKNOWN: { status: 404, kind: 'NotFound' },
  SIZE_INVALID: { status: 400, kind: 'InvalidArgument' },
  TAG_INVALID: { status: 400, kind: 'InvalidArgument' },
  UNAUTHORIZED: { status: 401, kind: 'Forbidden' },
  DENIED: { status: 403, kind: 'Forbidden' },
  UNSUPPORTED: { status: 405, kind: 'InvalidArgument' },
  RANGE_INVALID: { status: 416, kind: 'InvalidArgument' },
  PAGINATION_NUMBER_INVALID: { status: 400, kind: 'InvalidArgument' },
  UNKNOWN: { status: 500, kind: 'Internal' },
};

export class RegistryError extends KilnError {
  readonly status: number;
  /** Extra response headers (the auth challenge, the upload's current Range). */
  readonly headers: Record<string, string>;
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    readonly detail?: unknown,
    options: { status?: number; headers?: Record<string, string> } = {},
  ) {
    super(CODES[code].kind, message);
    this.status = options.status ?? CODES[code].status;
    this.headers = options.headers ?? {};
  }
}

export function isRegistryError(err: unknown): err is RegistryError {
  return isKilnError(err) && typeof (err as { code?: unknown }).code === 'string' && typeof (err as { status?: unknown }).status === 'number';
}

/** Kiln errors from shared code (the blob store, the Store) in the spec's terms; anything else is UNKNOWN. */
export function toRegistryError(err: unknown, notFound: RegistryErrorCode = 'BLOB_UNKNOWN'): RegistryError {
  if (isRegistryError(err)) return err;
  if (isKilnError(err)) {
    switch (err.kind) {
      case 'NotFound':
        return new RegistryError(notFound, err.message);
      case 'Forbidden':
        return new RegistryError('DENIED', err.message);
      case 'InvalidArgument':
        return new RegistryError('DIGEST_INVALID', err.message);
      default:
        break;
    }
  }
  process.stderr.write(`kiln: registry internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return new RegistryError('UNKNOWN', 'internal error');
}

/** The spec's error body, without host paths (see domain/host-paths.ts); the server's log keeps them. */
export function errorBody(err: RegistryError): { errors: { code: string; message: string; detail?: unknown }[] } {
  const message = redactHostPaths(err.message);
  if (message !== err.message) process.stderr.write(`kiln: a registry error was sent without its host paths; in full: ${err.message}\n`);
  return { errors: [{ code: err.code, message, ...(err.detail !== undefined ? { detail: err.detail } : {}) }] };
}
