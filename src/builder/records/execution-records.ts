/**
 * Workflow execution records: what AWS's ListWorkflowExecutions / ListWorkflowStepExecutions report about an
 * image build, plus each step's log as a file. The build engine writes them through ExecutionRecorder; the
 * API, service, events and lifecycle read them with the list/get helpers.
 *
 * This is the records module's one entry point; its parts are the shared shapes (execution-shapes.ts), the
 * workflow executions (workflow-executions.ts), the step executions (step-executions.ts) and the step logs
 * (step-logs.ts).
 */
export {
  STEP_EXECUTION_ID_RE,
  STEP_TYPE,
  WORKFLOW_EXECUTION_ID_RE,
  WORKFLOW_EXECUTION_TYPE,
  executionArn,
  executionData,
  stepArn,
  stepData,
  type EndStatus,
  type StepExecutionData,
  type StepStatus,
  type WorkflowExecutionData,
  type WorkflowStatus,
  type WorkflowType,
} from './execution-shapes.js';
export { ExecutionRecorder, closeOpenExecutions, getExecutionRecord, listExecutionRecords, type ExecutionObserver, type WorkflowRun } from './workflow-executions.js';
export { getStepRecord, listStepRecords, type StepRun } from './step-executions.js';
export { DEFAULT_LOG_READ, MAX_LOG_READ, imageLogFolder, readStepLog, stepLogPath, type StepLogSlice } from './step-logs.js';
export { FsStepLogStore, type StepLogSink, type StepLogStore } from './step-log-store.js';
export { BucketStepLogStore } from './bucket-step-logs.js';
export { isWaiting, listWaitingSteps, markWaiting, sendStepAction, waitForStepAction, type StepAction, type StepActionType } from './step-waits.js';
