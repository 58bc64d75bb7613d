/** Shapes of AWSTOE's detailedoutput.json and its summary, as Kiln writes them. */

export type StepStatus = 'Success' | 'Failed' | 'IgnoredFailure' | 'Skipped' | 'Cancelled';
export type RunStatus = 'Success' | 'Failed' | 'SuccessWithIgnoredFailure' | 'Cancelled' | 'Skipped';

export interface StepOutput {
  name: string;
  action: string;
  status: StepStatus;
  failureMessage: string;
  timeoutSeconds: number;
  onFailure: string;
  maxAttempts: number;
  startTime: string;
  endTime: string;
  /** JSON string of the substituted inputs, as AWSTOE writes it. */
  inputs: string;
  /** JSON string of the outputs. */
  outputs: string;
  loop: unknown;
  detailedOutput: unknown;
}

export interface PhaseOutput {
  name: string;
  status: RunStatus;
  failureMessage: string;
  startTime: string;
  endTime: string;
  steps: StepOutput[];
}

export interface DocumentOutput {
  name: string;
  filePath: string;
  status: RunStatus;
  description: string;
  startTime: string;
  endTime: string;
  failureMessage: string;
  phases: PhaseOutput[];
}

export interface DetailedOutput {
  executionId: string;
  status: RunStatus;
  startTime: string;
  endTime: string;
  failureMessage: string;
  documents: DocumentOutput[];
}

/** The summary AWSTOE prints when a run ends. */
export interface RunSummary {
  executionId: string;
  status: RunStatus;
  failedStepCount: number;
  executedStepCount: number;
  ignoredFailedStepCount: number;
  failureMessage: string;
  logUrl: string;
}

/** Combines the statuses of parts (steps of a phase, phases of a document) as AWSTOE does. */
export function combine(statuses: (StepStatus | RunStatus)[]): RunStatus {
  if (statuses.includes('Cancelled')) return 'Cancelled';
  if (statuses.includes('Failed')) return 'Failed';
  if (statuses.some((s) => s === 'IgnoredFailure' || s === 'SuccessWithIgnoredFailure')) return 'SuccessWithIgnoredFailure';
  return 'Success';
}

export function summarize(out: DetailedOutput, logUrl: string): RunSummary {
  const steps = out.documents.flatMap((d) => d.phases.flatMap((p) => p.steps));
  return {
    executionId: out.executionId,
    status: out.status,
    failedStepCount: steps.filter((s) => s.status === 'Failed').length,
    executedStepCount: steps.filter((s) => s.status !== 'Skipped').length,
    ignoredFailedStepCount: steps.filter((s) => s.status === 'IgnoredFailure').length,
    failureMessage: out.failureMessage,
    logUrl,
  };
}
