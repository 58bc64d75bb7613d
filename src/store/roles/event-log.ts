/**
 * The log of image state changes, shared by every node: each change is appended by the store in the same
 * transaction as the write that made it, numbered by the database, so every node reads the same events in the
 * same order and a stream client can resume from any node by sequence number.
 */
import type { ImageStatus } from '../../domain/image-state.js';

/** One committed change of an image build version's state, as the log keeps it. */
export interface LoggedImageEvent {
  /** Assigned by the database; increases in commit order, with possible holes (a rolled-back append). */
  seq: number;
  /** The image build version ARN. */
  arn: string;
  accountId: string;
  region: string;
  status: ImageStatus;
  /** Undefined when the image was just created. */
  previousStatus?: ImageStatus;
  /** AWS's state reason, for FAILED and CANCELLED. */
  reason?: string;
  /** ISO time of the commit, from the store's clock. */
  time: string;
}

/**
 * True for the one kind of entry that is no state change: the image's build started waiting at a WaitForAction
 * workflow step (its status is its previous status; `reason` names the step). Logged like a change so that the
 * event stream and notifications of every node see it.
 */
export function isStepWaitingEvent(event: { status: ImageStatus; previousStatus?: ImageStatus; reason?: string }): boolean {
  return event.status === event.previousStatus && !isScanFindingsEvent(event);
}

/** How the reason of a new-findings entry starts: the log has no kind column, and the reason is what readers show. */
export const SCAN_FINDINGS_REASON_PREFIX = 'new image scan findings: ';

/**
 * True for the other entry that is no state change: a rescan after a vulnerability feed update found
 * vulnerabilities new to an image (as Inspector's continuous scanning reports); `reason` lists them.
 */
export function isScanFindingsEvent(event: { status: ImageStatus; previousStatus?: ImageStatus; reason?: string }): boolean {
  return event.status === event.previousStatus && (event.reason ?? '').startsWith(SCAN_FINDINGS_REASON_PREFIX);
}

/** What an image record keeps of its last rescan that found new vulnerabilities (`data.scanFindingsMark`); a new id logs an event. */
export interface ScanFindingsMark {
  scanId: string;
  /** The event's reason: SCAN_FINDINGS_REASON_PREFIX and the vulnerability ids. */
  message: string;
}

/** What an image record keeps of the workflow step its build waits at (`data.waitingStep`); a new id logs an event. */
export interface WaitingStepMark {
  stepExecutionId: string;
  /** The event's reason: which step waits, and for what. */
  message: string;
}

/** Reading and trimming the event log; appends happen inside the stores' resource writes, never through here. */
export interface EventLog {
  /**
   * Events with a sequence number above `seq`, oldest first, at most `limit`. A reader that saw `n` may read
   * after `n` without ever missing an event committed later with a lower number.
   */
  eventsAfter(seq: number, limit: number): Promise<LoggedImageEvent[]>;
  /** The highest sequence number logged so far; 0 when the log has never had an event. */
  lastEventSeq(): Promise<number>;
  /**
   * Deletes events older than `olderThanMs` (the store's clock) that are not among the newest `keepNewest`;
   * answers how many went. Idempotent, so every node may run it on its own timer.
   */
  pruneEvents(olderThanMs: number, keepNewest: number): Promise<number>;
}
