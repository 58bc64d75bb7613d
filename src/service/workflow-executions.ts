/**
 * The read side of workflow executions: ListWorkflowExecutions, GetWorkflowExecution,
 * ListWorkflowStepExecutions and GetWorkflowStepExecution, over the records the build engine writes
 * (build/execution-records.ts). A caller sees the executions of exactly the images GetImage shows it: its own,
 * Kiln-managed ones and those shared with it; everything else reads as not found.
 */
import { formatArn, parseArn } from '../domain/arn.js';
import { KilnError } from '../domain/errors.js';
import { pageOfRequest } from '../domain/pagination.js';
import {
  STEP_EXECUTION_ID_RE,
  WORKFLOW_EXECUTION_ID_RE,
  executionData,
  getExecutionRecord,
  getStepRecord,
  listExecutionRecords,
  listStepRecords,
  stepData,
} from '../builder/records/execution-records.js';
import type { ResourceRecord, Store } from '../store/store.js';
import type { OperationHandler, RequestContext } from './types.js';
import { canRead } from '../store/visibility.js';
import { str, type JsonObject } from '../domain/json.js';


function notVisible(what: string, ctx: RequestContext): KilnError {
  return new KilnError('NotFound', `The ${what} does not exist or is not visible to account ${ctx.accountId} in ${ctx.region}.`);
}

/**
 * The image build version named by an exact build-version ARN, when the caller may read it (GetImage's rule);
 * a malformed ARN is InvalidArgument naming `field`, an unknown or hidden one NotFound naming the ARN.
 */
export async function readableImage(store: Store, ctx: RequestContext, text: unknown, field = 'imageBuildVersionArn'): Promise<ResourceRecord> {
  const arn = typeof text === 'string' ? parseArn(text) : undefined;
  if (!arn || arn.resourceType !== 'image' || arn.build === undefined || !/^\d+\.\d+\.\d+$/.test(arn.version ?? '')) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' must be an image build version ARN (…:image/<name>/<major>.<minor>.<patch>/<build>): ${String(text)}`, [
      { path: field, message: 'must be an image build version ARN' },
    ]);
  }
  const canonical = formatArn(arn);
  const record = arn.region === ctx.region ? await store.getResource(canonical) : undefined;
  if (!record || record.type !== 'image' || !(await canRead(store, ctx, record))) throw notVisible(`image ${canonical}`, ctx);
  return record;
}

function checkId(text: unknown, field: string, pattern: RegExp, shape: string): string {
  if (typeof text !== 'string' || !pattern.test(text)) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter '${field}' is not a valid id (${shape}): ${String(text)}`, [{ path: field, message: `must be ${shape}` }]);
  }
  return text;
}

/** The execution with this id when the caller may read its image; NotFound names the id otherwise. */
export async function readableExecution(store: Store, ctx: RequestContext, text: unknown, field = 'workflowExecutionId'): Promise<ResourceRecord> {
  const id = checkId(text, field, WORKFLOW_EXECUTION_ID_RE, 'wf-<uuid>');
  const record = await getExecutionRecord(store, id);
  const image = record && (await store.getResource(executionData(record).imageBuildVersionArn));
  if (!record || !image || !(await canRead(store, ctx, image))) throw notVisible(`workflow execution ${id}`, ctx);
  return record;
}

/** The step with this id when the caller may read its image; NotFound names the id otherwise. */
export async function readableStep(store: Store, ctx: RequestContext, text: unknown, field = 'stepExecutionId'): Promise<ResourceRecord> {
  const id = checkId(text, field, STEP_EXECUTION_ID_RE, 'step-<uuid>');
  const record = await getStepRecord(store, id);
  const image = record && (await store.getResource(stepData(record).imageBuildVersionArn));
  if (!record || !image || !(await canRead(store, ctx, image))) throw notVisible(`workflow step execution ${id}`, ctx);
  return record;
}

const json = (value: JsonObject | undefined): string | undefined => (value === undefined ? undefined : JSON.stringify(value));

/** WorkflowExecutionMetadata. */
function toExecutionMetadata(record: ResourceRecord): JsonObject {
  const d = executionData(record);
  return {
    workflowBuildVersionArn: d.workflowBuildVersionArn,
    workflowExecutionId: d.workflowExecutionId,
    type: d.type,
    status: d.status,
    message: d.message,
    totalStepCount: d.totalStepCount,
    totalStepsSucceeded: d.totalStepsSucceeded,
    totalStepsFailed: d.totalStepsFailed,
    totalStepsSkipped: d.totalStepsSkipped,
    startTime: d.startTime,
    endTime: d.endTime,
    parallelGroup: d.parallelGroup,
    // Kiln does not retry workflows: every execution is a first attempt.
    retried: false,
  };
}

/** WorkflowStepMetadata: inputs and outputs are JSON text, as AWS returns them. */
function toStepMetadata(record: ResourceRecord): JsonObject {
  const d = stepData(record);
  return {
    stepExecutionId: d.stepExecutionId,
    name: d.name,
    description: d.description,
    action: d.action,
    status: d.status,
    message: d.message,
    inputs: json(d.inputs),
    outputs: json(d.outputs),
    startTime: d.startTime,
    endTime: d.endTime,
  };
}

/** ListWorkflowExecutions: the workflows of one image build in the order they ran; `message` is the image's state reason. */
function listWorkflowExecutions(store: Store): OperationHandler {
  return async (input, ctx) => {
    const image = await readableImage(store, ctx, input.imageBuildVersionArn);
    const executions = await listExecutionRecords(store, image);
    const out = pageOfRequest(executions, input, [ctx.operation, ctx.accountId, ctx.region, image.arn]);
    return {
      imageBuildVersionArn: image.arn,
      workflowExecutions: out.items.map(toExecutionMetadata),
      message: str((image.data.state as JsonObject | undefined)?.reason),
      nextToken: out.nextToken,
    };
  };
}

function getWorkflowExecution(store: Store): OperationHandler {
  return async (input, ctx) => {
    const record = await readableExecution(store, ctx, input.workflowExecutionId);
    const { retried: _retried, ...metadata } = toExecutionMetadata(record);
    return { ...metadata, imageBuildVersionArn: executionData(record).imageBuildVersionArn };
  };
}

/** ListWorkflowStepExecutions: the steps of one execution in the order they ran; `message` is the workflow's. */
function listWorkflowStepExecutions(store: Store): OperationHandler {
  return async (input, ctx) => {
    const execution = await readableExecution(store, ctx, input.workflowExecutionId);
    const d = executionData(execution);
    const steps = await listStepRecords(store, execution);
    const out = pageOfRequest(steps, input, [ctx.operation, ctx.accountId, ctx.region, d.workflowExecutionId]);
    return {
      steps: out.items.map(toStepMetadata),
      workflowBuildVersionArn: d.workflowBuildVersionArn,
      workflowExecutionId: d.workflowExecutionId,
      imageBuildVersionArn: d.imageBuildVersionArn,
      message: d.message,
      nextToken: out.nextToken,
    };
  };
}

function getWorkflowStepExecution(store: Store): OperationHandler {
  return async (input, ctx) => {
    const record = await readableStep(store, ctx, input.stepExecutionId);
    const d = stepData(record);
    return {
      ...toStepMetadata(record),
      workflowBuildVersionArn: d.workflowBuildVersionArn,
      workflowExecutionId: d.workflowExecutionId,
      imageBuildVersionArn: d.imageBuildVersionArn,
      onFailure: d.onFailure,
      timeoutSeconds: d.timeoutSeconds,
    };
  };
}

/** The workflow execution read operations by wire name. */
export function workflowExecutionHandlers(store: Store): Record<string, OperationHandler> {
  return {
    ListWorkflowExecutions: listWorkflowExecutions(store),
    GetWorkflowExecution: getWorkflowExecution(store),
    ListWorkflowStepExecutions: listWorkflowStepExecutions(store),
    GetWorkflowStepExecution: getWorkflowStepExecution(store),
  };
}
