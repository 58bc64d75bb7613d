/**
 * The shapes of workflow and step execution records, shared by the modules that write and read them: what
 * AWS's ListWorkflowExecutions / ListWorkflowStepExecutions report about an image build, kept as ordinary
 * Store resources.
 *
 *   workflow-execution       name = image build version ARN, arn = `kiln:workflow-execution/<wf-id>`
 *   workflow-step-execution  name = workflow execution id,   arn = `kiln:workflow-step-execution/<step-id>`
 *
 * Both live under the image's account and region. A finished status is final: a late finish (or a crash
 * clean-up racing a regular finish) never overwrites it (endRecord).
 */
import { parseArn } from '../../domain/arn.js';
import { KilnError } from '../../domain/errors.js';
import { redactHostPaths } from '../../domain/host-paths.js';
import type { ResourceRecord, Store } from '../../store/store.js';

export const WORKFLOW_EXECUTION_TYPE = 'workflow-execution';
export const STEP_TYPE = 'workflow-step-execution';

/** AWS's id patterns (WorkflowExecutionId, WorkflowStepExecutionId); Kiln makes them lower-case. */
export const WORKFLOW_EXECUTION_ID_RE = /^wf-[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}$/;
export const STEP_EXECUTION_ID_RE = /^step-[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}$/;

export type WorkflowType = 'BUILD' | 'TEST' | 'DISTRIBUTION';
/** The WorkflowExecutionStatus values Kiln produces (no rollbacks yet). */
export type WorkflowStatus = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'SKIPPED';
/** WorkflowStepExecutionStatus. */
export type StepStatus = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'SKIPPED';
export type EndStatus = 'COMPLETED' | 'FAILED' | 'CANCELLED';

/** A workflow execution as stored (the record's `data`). */
export interface WorkflowExecutionData {
  workflowExecutionId: string;
  imageBuildVersionArn: string;
  workflowBuildVersionArn: string;
  type: WorkflowType;
  status: WorkflowStatus;
  message?: string;
  totalStepCount: number;
  totalStepsSucceeded: number;
  totalStepsFailed: number;
  totalStepsSkipped: number;
  startTime: string;
  endTime?: string;
  parallelGroup?: string;
  /** Position among the image's workflows, for a stable order. */
  seq: number;
}

/** A step execution as stored (the record's `data`); inputs and outputs are plain objects here. */
export interface StepExecutionData {
  stepExecutionId: string;
  workflowExecutionId: string;
  imageBuildVersionArn: string;
  workflowBuildVersionArn: string;
  name: string;
  action: string;
  description?: string;
  status: StepStatus;
  message?: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  onFailure?: 'Abort' | 'Continue';
  timeoutSeconds?: number;
  /** Absent for a step that never ran (SKIPPED). */
  startTime?: string;
  endTime?: string;
  /** Position within its workflow. */
  seq: number;
}

/** The statuses of a record that has not ended. */
export const OPEN: ReadonlySet<string> = new Set(['PENDING', 'RUNNING']);

export const executionArn = (workflowExecutionId: string): string => `kiln:${WORKFLOW_EXECUTION_TYPE}/${workflowExecutionId}`;
export const stepArn = (stepExecutionId: string): string => `kiln:${STEP_TYPE}/${stepExecutionId}`;

export const executionData = (record: ResourceRecord): WorkflowExecutionData => record.data as unknown as WorkflowExecutionData;
export const stepData = (record: ResourceRecord): StepExecutionData => record.data as unknown as StepExecutionData;

/** A JSON copy of `value`, as the store keeps data. */
export const plain = (value: object): Record<string, unknown> => JSON.parse(JSON.stringify(value)) as Record<string, unknown>;

/** The parsed ARN of an image build version; InvalidArgument naming `field` when it is not one. */
export function imageBuildArn(imageArn: string, field = 'imageBuildVersionArn') {
  const arn = parseArn(imageArn);
  if (!arn || arn.resourceType !== 'image' || arn.version === undefined || arn.build === undefined || !/^\d+\.\d+\.\d+$/.test(arn.version)) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' must be an image build version ARN (…:image/<name>/<major>.<minor>.<patch>/<build>): ${imageArn}`, [
      { path: field, message: 'must be an image build version ARN' },
    ]);
  }
  return arn;
}

/** Orders records by their position, then by when they started (or ended, for one that never started). */
export function byStartOrder(a: { seq: number; startTime?: string; endTime?: string }, b: { seq: number; startTime?: string; endTime?: string }): number {
  return a.seq - b.seq || (a.startTime ?? a.endTime ?? '').localeCompare(b.startTime ?? b.endTime ?? '');
}

/**
 * Ends an open record: sets the status, end time and the given fields, unless it already ended. Returns the
 * status the record has afterwards.
 */
export async function endRecord(store: Store, arn: string, status: string, fields: Record<string, unknown>): Promise<string> {
  // Every message of a workflow or step ends here; tenants read them (GetWorkflowStepExecution, the console).
  if (typeof fields.message === 'string') fields = { ...fields, message: redactHostPaths(fields.message) };
  let final = status;
  await store.updateResource(arn, (current) => {
    const now = String(current.data.status);
    if (!OPEN.has(now)) {
      final = now;
      return current.data;
    }
    return { ...current.data, ...fields, status, endTime: new Date().toISOString() };
  });
  return final;
}
