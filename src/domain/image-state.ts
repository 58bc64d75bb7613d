/**
 * The life of an image build version, as AWS's ImageStatus enum describes it: the build stages
 * PENDING → CREATING → BUILDING → TESTING → DISTRIBUTING → INTEGRATING → AVAILABLE, the outcomes FAILED and
 * CANCELLED, and the lifecycle states DEPRECATED, DISABLED and DELETED. Pure: the build engine and the API ask
 * this module whether a change is allowed, and the store applies it inside a transaction.
 */
import { KilnError } from './errors.js';
import { redactHostPaths } from './host-paths.js';

/** Every ImageStatus of the model. */
export const IMAGE_STATUSES = [
  'PENDING',
  'CREATING',
  'BUILDING',
  'TESTING',
  'DISTRIBUTING',
  'INTEGRATING',
  'AVAILABLE',
  'FAILED',
  'CANCELLED',
  'DEPRECATED',
  'DISABLED',
  'DELETED',
] as const;

export type ImageStatus = (typeof IMAGE_STATUSES)[number];

/** The state AWS reports for an image: a status and, for failures and cancellations, why. */
export interface ImageState {
  status: ImageStatus;
  reason?: string;
}

/** Statuses of a build still under way: DeleteImage refuses them and CancelImageCreation applies to them. */
const IN_PROGRESS: ReadonlySet<ImageStatus> = new Set(['PENDING', 'CREATING', 'BUILDING', 'TESTING', 'DISTRIBUTING', 'INTEGRATING']);

/** The lifecycle states an available image moves between (StartResourceStateUpdate, lifecycle policies). */
const LIFECYCLE: readonly ImageStatus[] = ['AVAILABLE', 'DEPRECATED', 'DISABLED', 'DELETED'];

/**
 * Allowed moves. Stages may be skipped forward only after the build proper: an image without tests goes from
 * BUILDING to DISTRIBUTING, one without distribution settings or integrations straight on to AVAILABLE. Every
 * stage under way may end in FAILED or CANCELLED; FAILED, CANCELLED and DELETED are final.
 */
const TRANSITIONS: ReadonlyMap<ImageStatus, ReadonlySet<ImageStatus>> = new Map<ImageStatus, ReadonlySet<ImageStatus>>([
  ['PENDING', new Set<ImageStatus>(['CREATING', 'FAILED', 'CANCELLED'])],
  ['CREATING', new Set<ImageStatus>(['BUILDING', 'FAILED', 'CANCELLED'])],
  ['BUILDING', new Set<ImageStatus>(['TESTING', 'DISTRIBUTING', 'INTEGRATING', 'AVAILABLE', 'FAILED', 'CANCELLED'])],
  ['TESTING', new Set<ImageStatus>(['DISTRIBUTING', 'INTEGRATING', 'AVAILABLE', 'FAILED', 'CANCELLED'])],
  ['DISTRIBUTING', new Set<ImageStatus>(['INTEGRATING', 'AVAILABLE', 'FAILED', 'CANCELLED'])],
  ['INTEGRATING', new Set<ImageStatus>(['AVAILABLE', 'FAILED', 'CANCELLED'])],
  ['AVAILABLE', new Set<ImageStatus>(LIFECYCLE.filter((s) => s !== 'AVAILABLE'))],
  ['DEPRECATED', new Set<ImageStatus>(LIFECYCLE.filter((s) => s !== 'DEPRECATED'))],
  ['DISABLED', new Set<ImageStatus>(LIFECYCLE.filter((s) => s !== 'DISABLED'))],
  ['FAILED', new Set<ImageStatus>()],
  ['CANCELLED', new Set<ImageStatus>()],
  ['DELETED', new Set<ImageStatus>()],
]);

/** True for a string that is one of the model's ImageStatus values. */
export function isImageStatus(value: unknown): value is ImageStatus {
  return typeof value === 'string' && (IMAGE_STATUSES as readonly string[]).includes(value);
}

/** True while a build is queued or running (PENDING through INTEGRATING). */
export function isInProgress(status: ImageStatus): boolean {
  return IN_PROGRESS.has(status);
}

/** True for a status no transition leaves (FAILED, CANCELLED, DELETED). */
export function isFinal(status: ImageStatus): boolean {
  return TRANSITIONS.get(status)!.size === 0;
}

/** The statuses `from` may move to. */
export function nextStatuses(from: ImageStatus): ImageStatus[] {
  return [...TRANSITIONS.get(from)!];
}

/** Whether an image may move from `from` to `to`. */
export function canTransition(from: ImageStatus, to: ImageStatus): boolean {
  return TRANSITIONS.get(from)!.has(to);
}

/**
 * The state after moving to `to`, or an InUse error naming both statuses. A reason is kept only for FAILED and
 * CANCELLED, where AWS reports one; a stale reason never follows an image into a later state. Every account
 * that sees the image reads the reason, so host paths are redacted here, where every reason is recorded.
 */
export function transition(from: ImageState, to: ImageStatus, reason?: string): ImageState {
  if (!canTransition(from.status, to)) {
    const allowed = nextStatuses(from.status);
    throw new KilnError('InUse', `An image in state ${from.status} cannot become ${to}${allowed.length > 0 ? `; it may become ${allowed.join(', ')}` : '; that state is final'}.`);
  }
  return (to === 'FAILED' || to === 'CANCELLED') && reason !== undefined ? { status: to, reason: redactHostPaths(reason) } : { status: to };
}

/**
 * RetryImage: a FAILED image goes back to DISTRIBUTING to re-run its distribution (the caller checks that its
 * build and tests completed). Kept out of the table, so that FAILED stays final for everything else.
 */
export function retryDistribution(from: ImageState): ImageState {
  if (from.status !== 'FAILED') throw new KilnError('InvalidRequest', `An image in state ${from.status} cannot be retried; only a FAILED image can.`);
  return { status: 'DISTRIBUTING' };
}

/** The states a lifecycle action (policy rule or StartResourceStateUpdate) moves an image to. */
export type LifecycleStatus = 'AVAILABLE' | 'DEPRECATED' | 'DISABLED' | 'DELETED';

/** Where an image may go by a lifecycle action, per source state (the user guide's allowed transitions). */
const LIFECYCLE_MOVES: Readonly<Partial<Record<ImageStatus, readonly LifecycleStatus[]>>> = {
  AVAILABLE: ['DEPRECATED', 'DISABLED', 'DELETED'],
  DEPRECATED: ['AVAILABLE', 'DISABLED', 'DELETED'],
  DISABLED: ['AVAILABLE', 'DELETED'],
  FAILED: ['DELETED'],
  CANCELLED: ['DELETED'],
};

/**
 * A lifecycle action's move, kept out of the build table above because it has its own rules: FAILED and
 * CANCELLED images may still be DELETED, a DISABLED image is never DEPRECATED again, and only a manual
 * StartResourceStateUpdate (`manual`) returns an image to AVAILABLE. InUse, naming both states, otherwise.
 */
export function lifecycleTransition(from: ImageState, to: LifecycleStatus, manual: boolean): ImageState {
  const allowed = (LIFECYCLE_MOVES[from.status] ?? []).filter((s) => manual || s !== 'AVAILABLE');
  if (!allowed.includes(to)) {
    const why = isInProgress(from.status) ? '; its build is still under way' : allowed.length > 0 ? `; it may become ${allowed.join(', ')}` : '';
    throw new KilnError('InUse', `An image in state ${from.status} cannot become ${to} by a lifecycle action${why}.`);
  }
  return { status: to };
}
