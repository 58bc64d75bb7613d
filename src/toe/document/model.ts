import type { ActionModule } from '../actions/types.js';
import type { Conditional } from './conditions.js';
import type { LoopSpec } from './loops.js';

export type OnFailure = 'Abort' | 'Continue' | 'Ignore';

export interface ParameterDef {
  name: string;
  type: 'string';
  /** undefined: the parameter is required and must be given a value at run time. */
  default: string | undefined;
  description: string | undefined;
  /** When set, the value must be one of these. */
  allowedValues: string[] | undefined;
}

export interface ConstantDef {
  name: string;
  value: string;
}

/** A validated step; `inputs`, `loop` and `condition` are as written, substituted when the step runs. */
export interface StepDef {
  name: string;
  action: string;
  module: ActionModule;
  inputs: unknown;
  onFailure: OnFailure;
  /** -1 means no limit. */
  timeoutSeconds: number;
  maxAttempts: number;
  condition: Conditional | undefined;
  loop: LoopSpec | undefined;
  /** Where the step sits in the document, e.g. `phases[0].steps[2]`. */
  path: string;
}

export interface PhaseDef {
  name: string;
  steps: StepDef[];
}

/** A validated AWSTOE component document. */
export interface ComponentDocument {
  name: string | undefined;
  description: string | undefined;
  schemaVersion: string;
  parameters: ParameterDef[];
  constants: ConstantDef[];
  phases: PhaseDef[];
}

export const DEFAULT_TIMEOUT_SECONDS = 7200;
export const KNOWN_PHASES = ['build', 'validate', 'test', 'container-host-test'] as const;
