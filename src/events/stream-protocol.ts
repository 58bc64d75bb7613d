/**
 * The wire contract of Kiln's image event stream (`GET /kiln/events`), shared by the route and its clients
 * (`kiln logs --follow`, `kiln events`, the console), so neither has to load the other's modules.
 */

export const EVENTS_PATH = '/kiln/events';
/** The SSE event type of an image state change. */
export const IMAGE_STATE_EVENT = 'image-state';
/**
 * The SSE event type of a build that starts waiting at a WaitForAction workflow step (AWS's EventBridge "EC2
 * Image Builder Workflow Step Waiting"): `data` as an image-state event's, its status unchanged and `reason`
 * naming the step to send SendWorkflowStepAction to.
 */
export const WORKFLOW_STEP_WAITING_EVENT = 'workflow-step-waiting';
/** The SSE event name of a rescan that found vulnerabilities new to an image (its reason lists them). */
export const IMAGE_SCAN_FINDINGS_EVENT = 'image-scan-findings';
/** The query parameter that follows one image build version. */
export const IMAGE_FILTER_PARAM = 'imageBuildVersionArn';

/** The `data` of an `image-state` event (JSON). */
export interface ImageStateEventData {
  imageBuildVersionArn: string;
  status: string;
  /** Absent on the current-state event a follower of one image gets first, and for a just-created image. */
  previousStatus?: string;
  /** AWS's state reason (FAILED, CANCELLED). */
  reason?: string;
  /** ISO time of the change (of the connection, for the current-state event). */
  time: string;
}
