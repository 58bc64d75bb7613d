/**
 * Which resource writes the event log records, decided the same way by both SQL backends inside the write's
 * transaction: an image build version created with a status, or one whose `data.state.status` changed. The
 * store decides it (not a decorator around the store) so that the append commits with the change or not at
 * all, whichever process or node made it.
 */
import type { ImageStatus } from '../../domain/image-state.js';
import type { ResourceRecord } from '../roles/resource-store.js';
import type { LoggedImageEvent, ScanFindingsMark, WaitingStepMark } from '../roles/event-log.js';

const IMAGE_TYPE = 'image';

/** The status stored on an image record, when it has one. */
export function imageStatusOf(record: Pick<ResourceRecord, 'data'>): ImageStatus | undefined {
  const state = record.data.state as { status?: unknown } | undefined;
  return typeof state?.status === 'string' ? (state.status as ImageStatus) : undefined;
}

/** An event to append, without the sequence number and time the database gives it. */
export type ImageEventEntry = Omit<LoggedImageEvent, 'seq' | 'time'>;

/**
 * The entry a write adds to the log: `before` is the stored record (undefined for a create), `data` what is
 * written. Undefined when the write is not an image state change.
 */
export function imageEventEntry(before: ResourceRecord | undefined, after: Pick<ResourceRecord, 'arn' | 'accountId' | 'region' | 'type' | 'data'>): ImageEventEntry | undefined {
  if (after.type !== IMAGE_TYPE) return undefined;
  const status = imageStatusOf(after);
  const previousStatus = before === undefined ? undefined : imageStatusOf(before);
  if (status !== undefined && status === previousStatus) return waitingEntry(before!, after, status) ?? findingsEntry(before!, after, status);
  if (status === undefined) return undefined;
  const reason = (after.data.state as { reason?: unknown }).reason;
  return {
    arn: after.arn,
    accountId: after.accountId,
    region: after.region,
    status,
    ...(previousStatus === undefined ? {} : { previousStatus }),
    ...(typeof reason === 'string' ? { reason } : {}),
  };
}

/** The entry of a build that starts waiting at a workflow step: a new `data.waitingStep` (event-log.ts isStepWaitingEvent). */
function waitingEntry(before: ResourceRecord, after: Pick<ResourceRecord, 'arn' | 'accountId' | 'region' | 'data'>, status: ImageStatus): ImageEventEntry | undefined {
  const mark = after.data.waitingStep as WaitingStepMark | undefined;
  if (!mark || mark.stepExecutionId === (before.data.waitingStep as WaitingStepMark | undefined)?.stepExecutionId) return undefined;
  return { arn: after.arn, accountId: after.accountId, region: after.region, status, previousStatus: status, reason: mark.message };
}

/** The entry of a rescan that found vulnerabilities new to the image: a new `data.scanFindingsMark` (event-log.ts isScanFindingsEvent). */
function findingsEntry(before: ResourceRecord, after: Pick<ResourceRecord, 'arn' | 'accountId' | 'region' | 'data'>, status: ImageStatus): ImageEventEntry | undefined {
  const mark = after.data.scanFindingsMark as ScanFindingsMark | undefined;
  if (!mark || mark.scanId === (before.data.scanFindingsMark as ScanFindingsMark | undefined)?.scanId) return undefined;
  return { arn: after.arn, accountId: after.accountId, region: after.region, status, previousStatus: status, reason: mark.message };
}
