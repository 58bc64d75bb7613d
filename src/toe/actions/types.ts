import type { Issue } from '../../domain/errors.js';
import type { Instance } from '../instance/instance.js';

/** How one input field is checked and coerced. Values still holding `{{ }}` are checked after substitution. */
export interface FieldSpec {
  type: 'string' | 'boolean' | 'integer' | 'stringList' | 'map' | 'any';
  required?: boolean;
  default?: unknown;
  /** Accepted values, compared case-insensitively; the canonical spelling is what the module receives. */
  enum?: readonly string[];
  /** Extra check on the coerced value; returns a message when the value is wrong. */
  check?: (value: unknown) => string | undefined;
}

/**
 * The shape of a module's `inputs`:
 * - `object`: one map of fields;
 * - `list`: a non-empty list of maps of fields (most file modules), a single map is refused;
 * - `objectOrList`: either (AWSTOE accepts both for a few modules);
 * - `expression`: an Assert-style comparison or logical operator;
 * - `none`: no inputs expected (an `inputs` key is still allowed).
 */
export type InputShape = 'object' | 'list' | 'objectOrList' | 'expression' | 'none';

export interface StepLogger {
  /** A line for application.log (debug detail). */
  debug(message: string): void;
  /** A line shown on the console and written to console.log. */
  info(message: string): void;
  /** Raw output of a command, streamed live. */
  stdout(chunk: Buffer | string): void;
  stderr(chunk: Buffer | string): void;
}

/** Everything a module needs while it runs; the runner builds one per step attempt. */
export interface ActionContext {
  instance: Instance;
  signal: AbortSignal;
  log: StepLogger;
  /** Milliseconds left for this step (undefined = unlimited). Modules that spawn processes pass it on. */
  timeoutMs: number | undefined;
  /** The working directory on the instance: relative paths resolve here and processes start here. */
  workDir: string;
  /** A private directory on the instance for the runner's scratch files (scripts); removed after the run. */
  scratchDir: string;
  /** Name of the step and phase, for messages. */
  stepName: string;
  phaseName: string;
  /** Runs another document (ExecuteDocument); provided by the runner. */
  runDocument?: (request: NestedDocumentRequest) => Promise<NestedDocumentResult>;
}

export interface NestedDocumentRequest {
  document: string;
  phases: string[] | undefined;
  parameters: Record<string, string>;
}

export interface NestedDocumentResult {
  status: string;
  failureMessage?: string;
  detailedOutput: unknown;
}

export interface ActionResult {
  /** The module's outputs, referable as `{{ phase.step.outputs.name }}`. */
  outputs: Record<string, string>;
  /** True when the step asked for a reboot (exit code 194) and must be re-run after it. */
  rebootRequested?: boolean;
  /** For Reboot: the module itself is a reboot, done once and not re-run. */
  rebootNow?: { delaySeconds: number };
  /** Anything the module wants in detailedoutput.json beyond its outputs. */
  detailedOutput?: unknown;
}

/** A failed action: the step fails with this message. */
export class ActionFailure extends Error {
  override readonly name = 'ActionFailure';
}

export interface ActionModule {
  /** The exact AWSTOE module name. */
  readonly name: string;
  readonly platforms: readonly ('linux' | 'windows' | 'macos')[];
  readonly inputShape: InputShape;
  /** Field specs for `object` and `list` shapes; unknown keys are validation errors. */
  readonly fields?: Readonly<Record<string, FieldSpec>>;
  /** Module-specific checks beyond the field specs, on inputs as written (before substitution). */
  validate?(inputs: unknown, path: string): Issue[];
  /**
   * Runs the module. `inputs` has been substituted and coerced: for `object` a record, for `list` an array of
   * records, with defaults filled in. Throws ActionFailure (or any Error) to fail the step.
   */
  run(inputs: unknown, context: ActionContext): Promise<ActionResult>;
}
