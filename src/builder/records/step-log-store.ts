/**
 * Where step logs are kept: the port the recorder writes through and `/kiln/logs` reads through, so that a log
 * written on one node is read on any. Two implementations: the data directory (`FsStepLogStore`, files under
 * `logs/`) and an object store shared by every node (`BucketStepLogStore`, bucket-step-logs.ts).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { createStepLog, imageLogFolder, LogWriter, readStepLog, DEFAULT_LOG_READ, type StepLogSink, type StepLogSlice } from './step-logs.js';

export type { StepLogSink } from './step-logs.js';

export interface StepLogStore {
  /** Starts a step's log, empty but for its header; the step id is checked (InvalidArgument naming it). */
  create(imageArn: string, stepExecutionId: string): Promise<StepLogSink>;
  /** A slice of whole lines from a byte offset of the log as readStepLog reads it: the same contract on every store. */
  read(imageArn: string, stepExecutionId: string, offset: number, maxBytes?: number): Promise<StepLogSlice>;
  /** Deletes every log of one image build; a build with no logs is no error. */
  deleteImageLogs(imageArn: string): Promise<void>;
}

/** Step logs as files in the data directory: `<logsRoot>/<name>_<version>_<build>/<step-id>.log`. */
export class FsStepLogStore implements StepLogStore {
  constructor(readonly logsRoot: string) {}

  async create(imageArn: string, stepExecutionId: string): Promise<StepLogSink> {
    return new LogWriter(await createStepLog(this.logsRoot, imageArn, stepExecutionId));
  }

  read(imageArn: string, stepExecutionId: string, offset: number, maxBytes = DEFAULT_LOG_READ): Promise<StepLogSlice> {
    return readStepLog(this.logsRoot, imageArn, stepExecutionId, offset, maxBytes);
  }

  /** Removes the image's folder, its AWSTOE log folders included. */
  async deleteImageLogs(imageArn: string): Promise<void> {
    await rm(path.join(this.logsRoot, imageLogFolder(imageArn)), { recursive: true, force: true });
  }
}
